export {
  AdvisoryLockElector,
  AdvisoryLockElectorOptions,
  DemotionReason,
  ElectorRole,
  OnDemoted,
  OnElected,
} from './advisory-lock-elector';
export { AdvisoryLockKey, advisoryLockKey, defaultLockName } from './lock-key';
