import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Ajv2020, { ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

/**
 * Compiles docs/pubsub-message.schema.json (the published contract) with ajv's draft
 * 2020-12 build, found by walking up from this file (works from src and from dist).
 */
export function l1MessageValidator(): ValidateFunction {
  let dir = __dirname;
  for (;;) {
    const candidate = join(dir, 'docs', 'pubsub-message.schema.json');
    if (existsSync(candidate)) {
      const ajv = new Ajv2020({ allErrors: true, strict: true });
      addFormats(ajv);
      return ajv.compile(JSON.parse(readFileSync(candidate, 'utf8')));
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('docs/pubsub-message.schema.json not found above ' + __dirname);
    dir = parent;
  }
}
