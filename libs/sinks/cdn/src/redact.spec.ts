import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { AxiosError, AxiosHeaders } from 'axios';
import { PurgeError, parseRetryAfter } from './purge-error';
import { SecretScrubber, safeErrorSummary } from './redact';

const TOKEN = 'sEcReT-token-1234567890';

describe('redaction', () => {
  it('reduces an axios error (which carries config.headers.Authorization) to a safe summary', () => {
    const headers = new AxiosHeaders({ Authorization: `Bearer ${TOKEN}` });
    const err = new AxiosError('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED', { headers } as never, { _header: `POST / HTTP/1.1\r\nAuthorization: Bearer ${TOKEN}` });
    assert.ok(JSON.stringify(err.toJSON()).includes(TOKEN), 'precondition: the raw error carries the token');
    const s = safeErrorSummary(err, new SecretScrubber([TOKEN]));
    assert.deepEqual(s, { name: 'AxiosError', code: 'ECONNREFUSED', status: undefined, message: 'connect ECONNREFUSED 127.0.0.1:1' });
    assert.ok(!JSON.stringify(s).includes(TOKEN));
  });

  it('scrubs configured secrets and unknown bearer tokens / SigV4 credentials echoed in text', () => {
    const scrub = new SecretScrubber([TOKEN, 'AKIAEXAMPLE', undefined, 'ab']);
    assert.equal(scrub.scrub(`echo ${TOKEN} and AKIAEXAMPLE`), 'echo [redacted] and [redacted]');
    assert.equal(scrub.scrub('Authorization: Bearer other.token-value'), 'Authorization: Bearer [redacted]');
    assert.equal(scrub.scrub('AWS4-HMAC-SHA256 Credential=AKIAOTHER/20240101/us-east-1/cloudfront/aws4_request, Sig'), 'AWS4-HMAC-SHA256 Credential=[redacted], Sig');
  });

  it('PurgeError never keeps the original error as cause', () => {
    const e = new PurgeError('x', { failure: 'transient', code: 'CDN_NETWORK', metricStatus: 'network_error' });
    assert.equal(e.cause, undefined);
    assert.equal(e.retriable, true);
    assert.equal(new PurgeError('x', { failure: 'rejected', code: 'CDN_REJECTED', metricStatus: 'rejected' }).retriable, false);
  });

  it('parses Retry-After seconds and HTTP dates', () => {
    assert.equal(parseRetryAfter('2'), 2000);
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:05 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')), 5000);
    assert.equal(parseRetryAfter(undefined), undefined);
    assert.equal(parseRetryAfter('soon'), undefined);
  });
});
