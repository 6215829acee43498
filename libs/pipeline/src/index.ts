export { ApplyOutcome, BatchApplier, BatchApplierOptions, DeadLetterStoreError, SinkUnavailableError } from './batch-applier';
export { BuildHooks, RuleEvaluator, RuleFailure } from './batch-builder';
export { PendingBatch } from './pending-batch';
export {
  ActionsLetterPayload,
  DeadLetterPayload,
  EventJson,
  EventLetterPayload,
  MAX_PAYLOAD_DEPTH,
  eventToJson,
  readDeadLetterPayload,
  ruleFailureLetter,
} from './dead-letters';
export { AppliedListener, InvalidationPipeline, PipelineOptions, PipelineState, RulesProvider } from './invalidation-pipeline';
export { pipelineMetrics } from './pipeline-metrics';
