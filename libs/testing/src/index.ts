export { freePort, waitFor } from './free-port';
export { PostgresServer, PostgresServerOptions, StandbyServer, postgresBinDir } from './postgres-server';
export { RedisServer } from './redis-server';
export { KafkaServer, KafkaServerOptions, kafkaScriptsDir } from './kafka-server';
export { CF_ERROR, FakeCloudFront, FakeCloudflare, FaultInjector } from './fake-cdn';
export { RedisCluster, RedisClusterNode } from './redis-cluster';
export { PatientReader } from './patient-reader';
export { captureLogger } from './capture-logger';
