export { BackfillOptions, BackfillProgress, BackfillSummary } from './backfill-options';
export { BackfillCursor, CursorStore, MemoryCursorStore, backfillScope } from './cursor-store';
export { RedisCursorStore, RedisCursorStoreOptions } from './redis-cursor-store';
export { ProgressRenderer, ProgressRendererOptions, createProgressRenderer, formatEta } from './progress-renderer';
export { runBackfill } from './run-backfill';
export { TableName, parseTableName } from './table-name';
