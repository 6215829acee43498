/**
 * One Kafka source instance in its own process, for the scale-out test (and by hand:
 * `KAFKA_BROKERS=... KAFKA_TOPICS=... npx tsx test/kafka/source-runner.ts`).
 * Configured by the same environment as the service (kafkaSourceOptionsFromEnv); reads,
 * "processes" each batch (prints one `E <position>` line per event, then waits
 * RUNNER_DELAY_MS), and only then acks. SIGTERM stops it cleanly.
 */
import { createKafkaSource, kafkaSourceOptionsFromEnv } from '@cdc/source-kafka';

async function main(): Promise<void> {
  const options = kafkaSourceOptionsFromEnv(process.env);
  const source = createKafkaSource({ ...options, heartbeatIntervalMs: 500, stopTimeoutMs: 2000 });
  const delayMs = Number(process.env.RUNNER_DELAY_MS ?? 0);
  let stopping = false;
  process.on('SIGTERM', () => {
    stopping = true;
    void source.stop().then(() => process.exit(0));
  });
  await source.start();
  process.stdout.write('READY\n');
  while (!stopping) {
    const batch = await source.read(Number(process.env.RUNNER_BATCH ?? 20));
    if (!batch) break;
    process.stdout.write(batch.events.map((e) => `E ${e.position}\n`).join(''));
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    batch.ack();
  }
}

main().catch((err) => {
  process.stderr.write(`runner failed: ${String(err)}\n`);
  process.exit(1);
});
