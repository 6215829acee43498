/**
 * `npm run gen:schemas`: writes the JSON Schemas published in docs/ from the schemas the code
 * itself uses (one source of truth), and the README's configuration reference from the
 * declared configuration fields. libs/rules/src/rules-json-schema.spec.ts and
 * apps/worker/src/config/config-reference.spec.ts fail while the committed files differ.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RULES_JSON_SCHEMA_PATH, rulesJsonSchemaText } from '@cdc/rules';
import { withConfigurationReference } from '../apps/worker/src/config/config-reference';

// dist/scripts/gen-schemas.js → the repository root.
const root = join(__dirname, '..', '..');
const target = join(root, RULES_JSON_SCHEMA_PATH);
writeFileSync(target, rulesJsonSchemaText());
console.log(`wrote ${RULES_JSON_SCHEMA_PATH}`);

const readme = join(root, 'README.md');
writeFileSync(readme, withConfigurationReference(readFileSync(readme, 'utf8')));
console.log('wrote the configuration reference in README.md');
