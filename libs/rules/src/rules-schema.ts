/**
 * JSON Schema of the rules file (version 1). It checks structure only: types, required
 * keys and unknown keys (additionalProperties: false everywhere). What a value means
 * (templates, op names, table names, URL shapes) is checked by the compiler, which can
 * say more precisely what was expected.
 */
const templates = { type: 'array', items: { type: 'string', minLength: 1 } };
const scalar = { type: ['string', 'number', 'boolean', 'null'] };
const scalars = { type: 'array', items: scalar };
const ordered = { type: ['string', 'number'] };

const whereOperators = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    eq: scalar,
    ne: scalar,
    in: scalars,
    not_in: scalars,
    gt: ordered,
    gte: ordered,
    lt: ordered,
    lte: ordered,
    is_null: { type: 'boolean' },
    exists: { type: 'boolean' },
  },
};

/** Column reference → operators; every operator of every entry must hold. */
const whereMap = { type: 'object', additionalProperties: whereOperators };

const cloudflare = {
  type: 'object',
  additionalProperties: false,
  required: ['zone'],
  properties: {
    zone: { type: 'string', minLength: 1 },
    files: {
      type: 'array',
      items: {
        type: ['string', 'object'],
        minLength: 1,
        additionalProperties: false,
        required: ['url'],
        properties: {
          url: { type: 'string', minLength: 1 },
          headers: { type: 'object', additionalProperties: { type: 'string' } },
        },
      },
    },
    tags: templates,
    hosts: templates,
    prefixes: templates,
  },
};

const cloudfront = {
  type: 'object',
  additionalProperties: false,
  required: ['distribution', 'paths'],
  properties: {
    distribution: { type: 'string', minLength: 1 },
    paths: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
  },
};

const rule = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'invalidate'],
  properties: {
    name: { type: 'string', minLength: 1 },
    description: { type: 'string' },
    table: { type: 'string', minLength: 1 },
    tables: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
    on: { type: ['string', 'array'], minLength: 1, minItems: 1, items: { type: 'string' } },
    when: {
      type: 'object',
      additionalProperties: false,
      properties: {
        changed: { type: ['string', 'array'], minLength: 1, minItems: 1, items: { type: 'string', minLength: 1 } },
        where: whereMap,
        // OR: the rule fires when at least one item (a where-map, all of whose entries hold) holds.
        any: { type: 'array', minItems: 1, items: { ...whereMap, minProperties: 1 } },
      },
    },
    invalidate: {
      type: 'object',
      additionalProperties: false,
      properties: {
        keys: templates,
        tags: templates,
        patterns: templates,
        channels: templates,
        cdn: { type: 'object', additionalProperties: false, properties: { cloudflare, cloudfront } },
      },
    },
  },
};

export const RULES_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['version', 'rules'],
  properties: {
    version: { const: 1 },
    defaults: {
      type: 'object',
      additionalProperties: false,
      properties: { channels: templates },
    },
    rules: { type: 'array', items: rule },
  },
} as const;
