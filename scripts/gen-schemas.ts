/**
 * `npm run gen:schemas`: writes the JSON Schemas published in docs/ from the schemas the code
 * itself uses (one source of truth). libs/rules/src/rules-json-schema.spec.ts fails while the
 * committed file differs from what this writes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RULES_JSON_SCHEMA_PATH, rulesJsonSchemaText } from '@cdc/rules';

// dist/scripts/gen-schemas.js → the repository root.
const root = join(__dirname, '..', '..');
const target = join(root, RULES_JSON_SCHEMA_PATH);
writeFileSync(target, rulesJsonSchemaText());
console.log(`wrote ${RULES_JSON_SCHEMA_PATH}`);
