import { SinkPlugin } from '../pipeline/plugins';
import { cdnOutboxSinkPlugin } from './cdn.plugin';
import { l1PubSubSinkPlugin } from './l1-pubsub.plugin';

/**
 * Sinks after Redis L2, in the order they run: L1 after L2 (an L1 refilled from a
 * not-yet-deleted L2 entry would be stale again), then the CDN (the edge refills through the app).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const SINK_PLUGINS: readonly SinkPlugin<any>[] = [l1PubSubSinkPlugin, cdnOutboxSinkPlugin];
