export * from './fields';
export * from './env-reader';
