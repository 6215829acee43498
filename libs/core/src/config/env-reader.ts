import { ConfigError } from '../errors';
import { Field, FieldError } from './fields';

/** The environment (or any name → text map: tests, CLI overrides). */
export type Env = Readonly<Record<string, string | undefined>>;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Fields = Readonly<Record<string, Field<any>>>;
export type Values<F extends Fields> = { -readonly [K in keyof F]: F[K] extends Field<infer T> ? T : never };

/**
 * One problem line: `NAME="value": why`, or `NAME=(hidden): why` for a secret, whose value
 * never appears in an error or a log line.
 */
export function envProblem(f: Pick<Field<unknown>, 'name' | 'secret'>, value: string, why: string): string {
  return `${f.name}=${f.secret ? '(hidden)' : JSON.stringify(value)}: ${why}`;
}

/**
 * Reads declared fields from the environment. Unset or empty takes the default; a value of
 * blanks only is refused (it is never a number, a flag or a name). Problems are appended to
 * `problems`, and a refused field takes its default, so the caller's cross-field checks and
 * the other fields still run: one message names every bad variable.
 */
export function readFields<F extends Fields>(fields: F, env: Env, problems: string[]): Values<F> {
  const out: Record<string, unknown> = {};
  for (const [key, f] of Object.entries(fields)) {
    out[key] = readField(f, env, problems);
  }
  return out as Values<F>;
}

export function readField<T>(f: Field<T>, env: Env, problems: string[]): T | undefined {
  const given = env[f.name];
  if (given === undefined || given === '') {
    if (f.required) problems.push(`${f.name}: required (${f.description.replace(/\.$/, '')})`);
    return f.default;
  }
  const value = f.raw ? given : given.trim();
  if (value === '') {
    problems.push(envProblem(f, given, 'is blank; unset it or give a value'));
    return f.default;
  }
  try {
    return f.parse(value);
  } catch (err) {
    if (!(err instanceof FieldError)) throw err;
    problems.push(envProblem(f, given, err.message));
    return f.default;
  }
}

/**
 * A component's configuration: the fields it declares and how they become one typed object
 * (cross-field checks included). `read` appends problems instead of throwing, so the worker
 * can gather every component's problems into one message.
 */
export interface ConfigSpec<T> {
  /** Heading in the configuration reference: `Postgres source`, `Redis`, ... */
  readonly component: string;
  readonly fields: readonly Field<unknown>[];
  read(env: Env, problems: string[]): T;
}

export function defineConfig<F extends Fields, T>(component: string, fields: F, build: (values: Values<F>, problems: string[], env: Env) => T): ConfigSpec<T> {
  return {
    component,
    fields: Object.values(fields),
    read(env, problems) {
      return build(readFields(fields, env, problems), problems, env);
    },
  };
}

/**
 * A library's configuration plus fields its host adds (the worker's Postgres plugin adds
 * leader election to the Postgres source's variables): one spec, one read, one list of fields.
 */
export function extendConfig<B, F extends Fields, T>(base: ConfigSpec<B>, fields: F, build: (base: B, values: Values<F>, problems: string[], env: Env) => T): ConfigSpec<T> {
  return {
    component: base.component,
    fields: [...base.fields, ...Object.values(fields)],
    read(env, problems) {
      return build(base.read(env, problems), readFields(fields, env, problems), problems, env);
    },
  };
}

/** The one message for a bad environment (the CLI prints it and exits 2). */
export function invalidEnvironment(problems: readonly string[]): ConfigError {
  return new ConfigError(`invalid environment:\n  ${problems.join('\n  ')}`, 'ENV_INVALID');
}

/** Reads one component; throws one ConfigError naming every bad variable. */
export function parseConfig<T>(spec: ConfigSpec<T>, env: Env): T {
  const problems: string[] = [];
  const value = spec.read(env, problems);
  if (problems.length) throw invalidEnvironment(problems);
  return value;
}

/** Reads several components; one ConfigError names every bad variable of all of them. */
export function parseConfigs<T extends Record<string, unknown>>(specs: { [K in keyof T]: ConfigSpec<T[K]> }, env: Env): T {
  const problems: string[] = [];
  const out: Partial<T> = {};
  for (const key of Object.keys(specs) as Array<keyof T>) out[key] = specs[key].read(env, problems);
  if (problems.length) throw invalidEnvironment(problems);
  return out as T;
}

/** The typed object a spec reads. */
export type ConfigOf<S> = S extends ConfigSpec<infer T> ? T : never;
