import { strict as assert } from 'node:assert';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { COMMANDS } from './commands';

/** `dead-letters.command.js` → `registerDeadLetters`. */
function registerName(file: string): string {
  return `register${file.replace(/\.command\.js$/, '').replace(/(^|-)([a-z])/g, (_, _dash: string, c: string) => c.toUpperCase())}`;
}

describe('CLI commands', () => {
  const files = readdirSync(__dirname).filter((f) => f.endsWith('.command.js'));

  it('each command file exports one `register<Command>` and COMMANDS lists each once', () => {
    assert.ok(files.length >= 7, files.join(', '));
    const registered = new Set<unknown>();
    for (const file of files) {
      const mod = require(`./${file}`) as Record<string, unknown>;
      const registers = Object.keys(mod).filter((k) => /^register/.test(k));
      assert.deepEqual(registers, [registerName(file)], `${file} exports ${registers.join(', ')}`);
      const fn = mod[registers[0]];
      assert.equal(typeof fn, 'function');
      assert.ok(COMMANDS.includes(fn as (typeof COMMANDS)[number]), `${registers[0]} is in COMMANDS`);
      registered.add(fn);
    }
    assert.equal(COMMANDS.length, registered.size, 'COMMANDS holds nothing but the command files, each once');
  });
});
