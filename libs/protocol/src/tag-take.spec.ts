import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import calculateSlot from 'cluster-key-slot';
import { isReservedKey } from './key-names';
import { newTakeToken, tagTakeKeys } from './tag-take';

describe('tag take keys', () => {
  it('live in their tag set\'s Cluster slot, under the reserved prefix, apart from tag sets', () => {
    for (const setKey of ['cdc:tag:category-7', 'cdc:tag:{shop}:t', 'cdc:tag:', 'cdc:tag:a}b', 'app:tags:x', 'cdc:tag:{}x', 'cdc:tag:é']) {
      const { holdKey, epochKey } = tagTakeKeys(setKey);
      for (const k of [holdKey, epochKey]) {
        assert.equal(calculateSlot(k), calculateSlot(setKey), `${k} hashes like ${setKey}`);
        assert.ok(isReservedKey(k));
        assert.ok(!k.startsWith('cdc:tag:'), 'never mistaken for a tag set');
      }
      assert.notEqual(holdKey, epochKey);
      assert.notEqual(tagTakeKeys(setKey + 'x').holdKey, holdKey);
    }
  });
});

describe('take tokens', () => {
  it('never repeat within a process, and differ between processes', () => {
    const tokens = new Set<string>();
    for (let i = 0; i < 100_000; i++) tokens.add(newTakeToken());
    assert.equal(tokens.size, 100_000);
    // Another process (another worker replica or client) draws its own prefix.
    const script = `process.stdout.write(require(${JSON.stringify(require.resolve('./tag-take'))}).newTakeToken())`;
    const other = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    const prefix = (t: string): string => t.slice(0, t.lastIndexOf('.'));
    assert.ok(other.length > 16);
    assert.notEqual(prefix(other), prefix(newTakeToken()));
  });
});
