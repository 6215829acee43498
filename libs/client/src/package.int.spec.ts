import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { RedisServer } from '@cdc/testing';

const run = promisify(execFile);
// Compiled to dist/libs/client/src: the repository root is four levels up.
const ROOT = resolve(__dirname, '..', '..', '..', '..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

async function npm(cwd: string, args: string[]): Promise<string> {
  const { stdout } = await run(NPM, args, { cwd, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' } });
  return stdout;
}

// Spelled out at run time: the monorepo build's tsc-alias would rewrite a literal require of it to a relative path.
const PACKAGE = ['@cdc', 'cache-client'].join('/');

/** What an app writes after `npm install @cdc/cache-client`: plain require, no monorepo paths. */
const APP = `
const Redis = require('ioredis');
const { CacheClient, CacheSerializationError } = require(${JSON.stringify(PACKAGE)});
(async () => {
  const redis = new Redis(process.argv[2]);
  const cache = new CacheClient({ redis, keyPrefix: 'pkg:', l1: false });
  await cache.set('product:1', { id: 1, title: 'packed' }, { ttlMs: 60000, tags: ['product-1'] });
  const got = await cache.get('product:1');
  let loads = 0;
  const loaded = await cache.getOrSet('product:2', async () => { loads++; return { id: 2 }; }, { ttlMs: 60000 });
  const again = await cache.getOrSet('product:2', async () => { loads++; return { id: -1 }; });
  const invalidated = await cache.invalidateTags(['product-1']);
  const gone = await cache.get('product:1');
  console.log(JSON.stringify({ got, loaded, again, loads, invalidated, gone: gone === undefined, typedErrors: typeof CacheSerializationError }));
  await cache.close();
  redis.disconnect();
})().catch((err) => { console.error(err); process.exit(1); });
`;

describe('the npm package', () => {
  let dir: string;
  let redis: RedisServer;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cdc-pack-'));
    redis = await RedisServer.start();
  });

  after(async () => {
    await redis?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('packs @cdc/cache-client and @cdc/protocol, installs them into an empty app and serves a get/set against Redis', { timeout: 300_000 }, async () => {
    // The client's prepack builds both packages (libs/*/tsconfig.json, to libs/*/dist); the protocol's own prepack would only rebuild it.
    const clientTgz = (await npm(join(ROOT, 'libs/client'), ['pack', '--pack-destination', dir])).trim().split('\n').pop()!;
    const protocolTgz = (await npm(join(ROOT, 'libs/protocol'), ['pack', '--ignore-scripts', '--pack-destination', dir])).trim().split('\n').pop()!;
    const listing = JSON.parse(await npm(join(ROOT, 'libs/client'), ['pack', '--dry-run', '--json', '--ignore-scripts'])) as Array<{ files: Array<{ path: string }> }>;
    const files = listing[0].files.map((f) => f.path);
    assert.ok(files.includes('dist/index.js') && files.includes('dist/index.d.ts') && files.includes('dist/nest/index.js'), files.join(' '));
    assert.deepEqual(files.filter((f) => /spec|test-helper|\.ts$/.test(f) && !f.endsWith('.d.ts')), [], 'no tests or sources in the package');

    const app = join(dir, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    writeFileSync(join(app, 'app.js'), APP);
    // The same ioredis the repository uses (in the npm cache already); no prom-client, no NestJS: both are optional.
    const ioredis = `ioredis@${(JSON.parse(readFileSync(join(ROOT, 'node_modules/ioredis/package.json'), 'utf8')) as { version: string }).version}`;
    const install = [join(dir, protocolTgz), join(dir, clientTgz), ioredis];
    try {
      await npm(app, ['install', '--offline', ...install]);
    } catch {
      // A cold npm cache (a fresh CI runner): the registry supplies what the cache lacks.
      await npm(app, ['install', '--prefer-offline', ...install]);
    }
    const installed = JSON.parse(readFileSync(join(app, 'node_modules/@cdc/cache-client/package.json'), 'utf8')) as { dependencies: Record<string, string> };
    assert.equal(installed.dependencies['@cdc/protocol'], '0.2.0');

    const { stdout } = await run(process.execPath, ['app.js', redis.url], { cwd: app });
    assert.deepEqual(JSON.parse(stdout), {
      got: { id: 1, title: 'packed' },
      loaded: { id: 2 },
      again: { id: 2 },
      loads: 1,
      invalidated: 1,
      gone: true,
      typedErrors: 'function',
    });
  });
});
