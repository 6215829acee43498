import 'reflect-metadata';
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { Controller, Get, Inject, Injectable, Module, Param } from '@nestjs/common';
import { APP_INTERCEPTOR, NestFactory } from '@nestjs/core';
import { EventPattern, Payload } from '@nestjs/microservices';
import Redis from 'ioredis';
import { RedisServer } from '@cdc/testing';
import { CacheClient } from '../cache-client';
import { FakeWorker, eventually } from '../fake-worker.test-helper';
import { CacheClientModule, InjectCacheClient } from './cache-client.module';
import { CacheManagerAdapter } from './cache-manager-adapter';
import { CACHE_FLUSH_EVENT, CacheInvalidationServer } from './cache-invalidation.server';
import { CacheTags, CacheTagsInterceptor } from './cache-tags.interceptor';
import { CACHE_MANAGER } from './tokens';

describe('NestJS integration', () => {
  let server: RedisServer;
  let redis: Redis;
  let probe: Redis;

  before(async () => {
    server = await RedisServer.start();
    redis = server.client();
    probe = server.client();
  });

  after(async () => {
    redis.disconnect();
    probe.disconnect();
    await server.destroy();
  });

  it('forRootAsync provides the CacheClient and a cache-manager adapter under CACHE_MANAGER', async () => {
    @Injectable()
    class ProductService {
      constructor(
        @InjectCacheClient() readonly cache: CacheClient,
        @Inject(CACHE_MANAGER) readonly manager: CacheManagerAdapter,
      ) {}
    }
    @Module({
      imports: [CacheClientModule.forRootAsync({ useFactory: () => ({ redis, keyPrefix: 'nest:', l1: false }) })],
      providers: [ProductService],
    })
    class AppModule {}
    const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
    try {
      const svc = app.get(ProductService);
      assert.ok(svc.cache instanceof CacheClient);
      await svc.manager.set('a', { x: 1 }, 5000);
      assert.deepEqual(await svc.cache.get('a'), { x: 1 });
      assert.ok((await probe.pttl('nest:a')) <= 5000);
      assert.equal(await svc.manager.wrap('b', async () => 'loaded', 5000), 'loaded');
      assert.equal(await svc.manager.get('b'), 'loaded');
      await svc.manager.del('b');
      assert.equal(await svc.manager.get('b'), undefined);
    } finally {
      await app.close();
    }
  });

  it('the microservices transport dispatches invalidations to @EventPattern handlers, flushes on gaps, and keeps the L1 correct', async () => {
    const channel = 'nest-inv';
    const received: unknown[] = [];
    const flushes: unknown[] = [];
    @Controller()
    class InvalidationHandlers {
      @EventPattern(channel)
      onInvalidate(@Payload() message: unknown): void {
        received.push(message);
      }

      @EventPattern(CACHE_FLUSH_EVENT)
      onFlush(@Payload() data: unknown): void {
        flushes.push(data);
      }
    }
    @Module({ controllers: [InvalidationHandlers] })
    class HandlersModule {}

    const cache = new CacheClient({ redis, l1: {} }); // its L1 is driven by the transport below
    const worker = new FakeWorker(probe, channel);
    const app = await NestFactory.createMicroservice(HandlersModule, {
      strategy: new CacheInvalidationServer({ redis, channels: [channel], silenceMs: 60_000, cache }),
      logger: false,
    });
    await app.listen();
    try {
      await eventually('connect flush', () => flushes.length === 1);
      assert.deepEqual(flushes[0], { reason: 'connect' });
      assert.equal(cache.l1Bypassed, true);
      await worker.heartbeat();
      await eventually('hearing', () => !cache.l1Bypassed);
      await cache.set('n:1', 1);
      await worker.publish({ keys: ['n:1'] });
      await eventually('handler', () => received.length === 1);
      assert.deepEqual((received[0] as { keys: string[] }).keys, ['n:1']);
      const hits = cache.stats().hits.l1;
      await cache.get('n:1');
      assert.equal(cache.stats().hits.l1, hits, 'evicted from L1 by the transport');
      worker.lose();
      await worker.heartbeat();
      await eventually('gap flush', () => flushes.length === 2);
      assert.deepEqual(flushes[1], { reason: 'gap' });
      assert.equal(received.length, 1, 'heartbeats are not dispatched');
    } finally {
      await app.close();
      await cache.close();
    }
  });

  it('the interceptor sets Cache-Tag and Surrogate-Key from the tags a route declares', async () => {
    @Controller('products')
    class ProductController {
      @Get(':id')
      @CacheTags('products', (req: { params: { id: string } }) => [`product-${req.params.id}`, 'bad tag'])
      one(@Param('id') id: string): object {
        return { id };
      }

      @Get()
      list(): object {
        return [];
      }
    }
    @Module({ controllers: [ProductController], providers: [{ provide: APP_INTERCEPTOR, useClass: CacheTagsInterceptor }] })
    class HttpModule {}
    const app = await NestFactory.create(HttpModule, { logger: false });
    await app.listen(0, '127.0.0.1');
    try {
      const url = await app.getUrl();
      const res = await fetch(`${url}/products/42`);
      assert.equal(res.headers.get('cache-tag'), 'products,product-42');
      assert.equal(res.headers.get('surrogate-key'), 'products product-42');
      const plain = await fetch(`${url}/products`);
      assert.equal(plain.headers.get('cache-tag'), null);
    } finally {
      await app.close();
    }
  });
});
