/**
 * Which topics the consumer subscribes to, from the topics that exist now. kafkajs resolves a
 * subscription once, when the consumer starts: a topic created later (Debezium creates a
 * table's topic at its first change) is never fetched. The source re-evaluates this
 * periodically and restarts its consumer when the answer grows.
 */
export interface TopicSelection {
  readonly topics?: readonly string[];
  readonly topicPattern?: RegExp;
}

/** The selected topics among `existing`, sorted. A listed topic that does not exist yet is left out (for now). */
export function selectTopics(existing: Iterable<string>, selection: TopicSelection): string[] {
  const out: string[] = [];
  const listed = selection.topics ? new Set(selection.topics) : undefined;
  for (const topic of existing) {
    if (listed ? listed.has(topic) : selection.topicPattern ? matches(selection.topicPattern, topic) : false) out.push(topic);
  }
  return out.sort();
}

/** Topics in `next` that `current` lacks (a deleted topic does not restart the consumer). */
export function addedTopics(current: readonly string[], next: readonly string[]): string[] {
  const have = new Set(current);
  return next.filter((t) => !have.has(t));
}

function matches(pattern: RegExp, topic: string): boolean {
  pattern.lastIndex = 0; // a /g or /y pattern keeps state between test() calls
  return pattern.test(topic);
}
