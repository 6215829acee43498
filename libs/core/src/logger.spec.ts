import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseLogLevel, redactUrl } from './logger';

describe('redactUrl (issue 8 part 5)', () => {
  it('masks a password with @, :, /, %, unicode and emoji, percent-encoded or raw, whole', () => {
    const cases: Array<[string, string, string[]]> = [
      // The probe: redaction used to stop at the first '@' and print the rest of the password.
      ['redis://:Sup3r@SecretPw@127.0.0.1:6380', 'redis://:***@127.0.0.1:6380', ['Sup3r', 'SecretPw']],
      ['postgres://app:p%40ss%3Aw%2Frd%25x@db.internal:5432/shop', 'postgres://app:***@db.internal:5432/shop', ['p%40ss', 'w%2Frd', '25x']],
      ['postgres://app:p@ss:w@rd@db:5432/shop?sslmode=require', 'postgres://app:***@db:5432/shop?sslmode=require', ['p@ss', 'w@rd']],
      ['redis://user:pässwörd€🔑@host:6379/2', 'redis://user:***@host:6379/2', ['pässwörd', 'p%C3%A4ss', '%F0%9F']],
      ['rediss://default:%F0%9F%94%91k3y@cache.example.com:6380', 'rediss://default:***@cache.example.com:6380', ['k3y', '%F0%9F']],
    ];
    for (const [url, expected, secrets] of cases) {
      const out = redactUrl(url);
      assert.equal(out, expected, url);
      for (const s of secrets) assert.ok(!out.includes(s), `${out} leaks ${s}`);
    }
  });

  it('masks everything up to the last @ when the URL parser would split the password elsewhere', () => {
    // An unencoded '/' or '#' ends the authority for the parser, leaving password text in the path.
    for (const [url, secret] of [
      ['postgres://app:pa/ss@db:5432/shop', 'ss'],
      ['redis://:abc/def@ghi@127.0.0.1:6379', 'def'],
      ['redis://:se#cret@127.0.0.1:6379', 'cret'],
      ['redis://:se?cret@127.0.0.1:6379', 'cret'],
      ['not a url://user:hunter2@x', 'hunter2'],
    ]) {
      const out = redactUrl(url);
      assert.ok(!out.includes(secret), `${out} leaks ${secret}`);
      assert.match(out, /\/\/\*\*\*@/);
    }
  });

  it('leaves URLs without a password alone', () => {
    assert.equal(redactUrl('redis://127.0.0.1:6379'), 'redis://127.0.0.1:6379');
    assert.equal(redactUrl('postgres://postgres@127.0.0.1:5432/postgres'), 'postgres://postgres@127.0.0.1:5432/postgres');
    assert.equal(redactUrl('http://fake-cdn:8080/client/v4'), 'http://fake-cdn:8080/client/v4');
  });
});

describe('LOG_LEVEL (issue 8 part 8)', () => {
  it('reads pino levels in any case and rejects others', () => {
    assert.equal(parseLogLevel(undefined), 'info');
    assert.equal(parseLogLevel(''), 'info');
    assert.equal(parseLogLevel('DEBUG'), 'debug');
    assert.equal(parseLogLevel(' Trace '), 'trace');
    assert.equal(parseLogLevel('verbose'), undefined);
    assert.equal(parseLogLevel('warning'), undefined);
  });
});
