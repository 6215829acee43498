import { DynamicModule, Inject, Injectable, Module, ModuleMetadata, OnApplicationShutdown, Provider } from '@nestjs/common';
import { CacheClient } from '../cache-client';
import type { CacheClientOptions } from '../options';
import { CacheManagerAdapter } from './cache-manager-adapter';
import { CACHE_CLIENT, CACHE_CLIENT_OPTIONS, CACHE_MANAGER } from './tokens';

export interface CacheClientModuleOptions extends CacheClientOptions {
  /** Register the module globally. Default false. */
  readonly isGlobal?: boolean;
}

export interface CacheClientModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  readonly isGlobal?: boolean;
  readonly inject?: unknown[];
  readonly useFactory: (...args: any[]) => CacheClientOptions | Promise<CacheClientOptions>;
}

/** Closes the client (its subscriber) on shutdown; the Redis client stays with its owner. */
@Injectable()
class CacheClientShutdown implements OnApplicationShutdown {
  constructor(@Inject(CACHE_CLIENT) private readonly client: CacheClient) {}

  async onApplicationShutdown(): Promise<void> {
    await this.client.close();
  }
}

/**
 * Provides the CacheClient under CACHE_CLIENT (inject it with `@InjectCacheClient()` or
 * `@Inject(CACHE_CLIENT)`) and a cache-manager-compatible adapter under CACHE_MANAGER.
 */
@Module({})
export class CacheClientModule {
  static forRoot(options: CacheClientModuleOptions): DynamicModule {
    return CacheClientModule.build([{ provide: CACHE_CLIENT_OPTIONS, useValue: options }], [], options.isGlobal);
  }

  static forRootAsync(options: CacheClientModuleAsyncOptions): DynamicModule {
    const provider: Provider = { provide: CACHE_CLIENT_OPTIONS, useFactory: options.useFactory, inject: (options.inject ?? []) as never[] };
    return CacheClientModule.build([provider], options.imports ?? [], options.isGlobal);
  }

  private static build(optionProviders: Provider[], imports: NonNullable<ModuleMetadata['imports']>, isGlobal = false): DynamicModule {
    return {
      module: CacheClientModule,
      global: isGlobal,
      imports,
      providers: [
        ...optionProviders,
        {
          provide: CACHE_CLIENT,
          inject: [CACHE_CLIENT_OPTIONS],
          useFactory: async (options: CacheClientOptions) => {
            const client = new CacheClient(options);
            await client.connect();
            return client;
          },
        },
        { provide: CACHE_MANAGER, inject: [CACHE_CLIENT], useFactory: (client: CacheClient) => new CacheManagerAdapter(client) },
        CacheClientShutdown,
      ],
      exports: [CACHE_CLIENT, CACHE_MANAGER],
    };
  }
}

/** Parameter decorator: `constructor(@InjectCacheClient() cache: CacheClient)`. */
export const InjectCacheClient = (): ParameterDecorator & PropertyDecorator => Inject(CACHE_CLIENT);
