export { BuildHooks, PendingBatch, RuleEvaluator } from './batch-builder';
export { AppliedListener, InvalidationPipeline, PipelineOptions, PipelineState, RulesProvider } from './invalidation-pipeline';
export { pipelineMetrics } from './pipeline-metrics';
