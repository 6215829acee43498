import { RULES_SCHEMA } from './rules-schema';

/** Where the published schema lives, relative to the repository root (`npm run gen:schemas` writes it). */
export const RULES_JSON_SCHEMA_PATH = 'docs/rules.schema.json';

/**
 * The JSON Schema editors use for rules files: the loader's own schema (RULES_SCHEMA, the one
 * ajv checks at load) with the draft and a title added, so the two cannot drift apart.
 * Like the loader's, it checks structure only; `validate` also checks meaning.
 */
export function rulesJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'cdc-cache-invalidator rules file (version 1)',
    description:
      'Generated from libs/rules/src/rules-schema.ts by `npm run gen:schemas`; do not edit. Structure only: `cdc-invalidator validate` also checks templates, ops, tables and CDN URLs. Reference: docs/rules.md',
    ...RULES_SCHEMA,
  };
}

/** The file text: stable key order, two-space indent, trailing newline. */
export function rulesJsonSchemaText(): string {
  return JSON.stringify(rulesJsonSchema(), null, 2) + '\n';
}
