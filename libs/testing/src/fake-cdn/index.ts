export { FaultInjector, InjectedFailure } from './fault-injector';
export { CF_ERROR, CloudflareRecordedRequest, FakeCloudflare, FakeCloudflareOptions } from './fake-cloudflare';
export { CloudFrontRecordedRequest, FakeCloudFront, FakeCloudFrontOptions, FakeInvalidation } from './fake-cloudfront';
