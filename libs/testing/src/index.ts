export { freePort, waitFor } from './free-port';
export { PostgresServer, PostgresServerOptions, postgresBinDir } from './postgres-server';
export { RedisServer } from './redis-server';
