/**
 * Writes single-row update transactions at a fixed rate from its own process (so the
 * writer does not steal the worker's event loop), then exits.
 *   node rate-writer.js <databaseUrl> <ratePerSec> <seconds> <rows>
 */
import { Client } from 'pg';

async function main(): Promise<void> {
  const [url, rateArg, secondsArg, rowsArg] = process.argv.slice(2);
  const rate = Number(rateArg);
  const seconds = Number(secondsArg);
  const rows = Number(rowsArg);
  const connections = 8;
  const clients = await Promise.all(
    Array.from({ length: connections }, async () => {
      const c = new Client({ connectionString: url });
      await c.connect();
      return c;
    }),
  );
  const total = Math.round(rate * seconds);
  const intervalMs = 1000 / rate;
  const start = performance.now();
  let issued = 0;
  let done = 0;
  // One chain per connection: a connection runs one query at a time, and pg deprecates
  // queueing a query on a Client that is still busy (an error in pg@9).
  const chains = new Array<Promise<unknown>>(connections).fill(Promise.resolve());
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor((performance.now() - start) / intervalMs) + 1);
      while (issued < due) {
        const k = issued % connections;
        const id = 1 + (issued % rows);
        issued++;
        chains[k] = chains[k]
          .then(() => clients[k].query('UPDATE products SET price = price + 1 WHERE id = $1', [id]))
          .then(() => {
            done++;
            if (done === total) resolve();
          });
      }
      if (issued < total) setTimeout(tick, 1);
    };
    tick();
  });
  const elapsed = (performance.now() - start) / 1000;
  process.stdout.write(JSON.stringify({ transactions: total, seconds: elapsed, rate: total / elapsed }) + '\n');
  await Promise.all(clients.map((c) => c.end()));
}

void main();
