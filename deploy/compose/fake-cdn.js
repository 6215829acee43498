'use strict';
// Local stand-ins for the Cloudflare and CloudFront purge APIs, for docker-compose only.
// Runs the repository's fake servers (libs/testing/src/fake-cdn, compiled into dist/ by the
// image's build stage) and exposes them on all interfaces: the fakes bind 127.0.0.1 (they
// are test fixtures), so a small TCP relay makes them reachable from the worker container.
//   FAKE_CLOUDFLARE_PORT   (8787)  point CLOUDFLARE_API_URL at http://fake-cdn:8787
//   FAKE_CLOUDFRONT_PORT   (8788)  point CLOUDFRONT_ENDPOINT at http://fake-cdn:8788
//   FAKE_CLOUDFLARE_TOKEN  the Bearer token the fake Cloudflare accepts (CLOUDFLARE_API_TOKEN)
//   FAKE_CDN_RATE_PER_SEC  optional per-zone / per-distribution rate limit (429 / Throttling)
const net = require('node:net');
const path = require('node:path');
// Mounted at /app/deploy/compose/ in the container; the same relative path works from a checkout after `npm run build`.
const { FakeCloudflare, FakeCloudFront } = require(path.resolve(__dirname, '../../dist/libs/testing/src/fake-cdn'));

function portFrom(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${name} must be a TCP port, got "${raw}"`);
  return port;
}

function relay(publicPort, targetPort, label) {
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', closeBoth);
    upstream.on('error', closeBoth);
    client.pipe(upstream).pipe(client);
  });
  server.listen(publicPort, '0.0.0.0', () => console.log(JSON.stringify({ msg: `fake ${label} listening`, port: publicPort })));
  return server;
}

async function main() {
  const token = process.env.FAKE_CLOUDFLARE_TOKEN;
  if (!token) throw new Error('FAKE_CLOUDFLARE_TOKEN is required (the token the worker sends as CLOUDFLARE_API_TOKEN)');
  const rate = process.env.FAKE_CDN_RATE_PER_SEC ? Number(process.env.FAKE_CDN_RATE_PER_SEC) : undefined;
  const cloudflare = await FakeCloudflare.start({ token, ratePerSec: rate });
  const cloudfront = await FakeCloudFront.start({ ratePerSec: rate, completeAfterMs: 2000 });
  const servers = [
    relay(portFrom('FAKE_CLOUDFLARE_PORT', 8787), cloudflare.port, 'cloudflare'),
    relay(portFrom('FAKE_CLOUDFRONT_PORT', 8788), cloudfront.port, 'cloudfront'),
  ];
  // Every purge the fakes accepted, so `docker compose logs fake-cdn` shows the CDN side.
  let seen = { cloudflare: 0, cloudfront: 0 };
  const report = setInterval(() => {
    for (const [name, fake] of [['cloudflare', cloudflare], ['cloudfront', cloudfront]]) {
      for (const r of fake.requests.slice(seen[name])) {
        const { authorization: _hidden, ...shown } = r;
        console.log(JSON.stringify({ msg: `${name} request`, ...shown }));
      }
      seen = { ...seen, [name]: fake.requests.length };
    }
  }, 1000);
  const stop = async () => {
    clearInterval(report);
    for (const s of servers) s.close();
    await Promise.all([cloudflare.stop(), cloudfront.stop()]);
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
