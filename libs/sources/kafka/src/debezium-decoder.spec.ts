import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ChangeEvent, UNKNOWN } from '@cdc/core';
import { DebeziumDecoder, DebeziumRecord, DecodeResult, tableFromTopic } from './debezium-decoder';
import { decodeDecimal } from './debezium-values';
import { hasUnsafeInteger, parseJsonExact, parseJsonValue } from '@cdc/core';

const TOPIC = 'shop.public.products';

function record(value: unknown, extra: Partial<DebeziumRecord> = {}): DebeziumRecord {
  return {
    topic: TOPIC,
    partition: 2,
    offset: '41',
    value: value === null ? null : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
    timestamp: '1700000000999',
    ...extra,
  };
}

function event(result: DecodeResult): ChangeEvent {
  assert.equal(result.kind, 'event', JSON.stringify(result));
  return (result as { event: ChangeEvent }).event;
}

const source = { schema: 'public', table: 'products', lsn: 123456, txId: 777, ts_ms: 1700000000123 };

/** Base64 of the unscaled big-endian two's-complement bytes, as Debezium writes precise decimals. */
function decimalBytes(unscaled: bigint): string {
  let hex = (unscaled < 0n ? (1n << 64n) + unscaled : unscaled).toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let bytes = Buffer.from(hex, 'hex');
  if (unscaled < 0n) {
    while (bytes.length > 1 && bytes[0] === 0xff && bytes[1] & 0x80) bytes = bytes.subarray(1);
  } else if (bytes[0] & 0x80) {
    bytes = Buffer.concat([Buffer.from([0]), bytes]);
  }
  return bytes.toString('base64');
}

const rowSchema = (name: string) => ({
  type: 'struct',
  optional: true,
  field: name,
  name: 'shop.public.products.Value',
  fields: [
    { type: 'int64', optional: false, field: 'id' },
    { type: 'string', optional: true, field: 'title' },
    { type: 'bytes', optional: true, field: 'price', name: 'org.apache.kafka.connect.data.Decimal', version: 1, parameters: { scale: '2', 'connect.decimal.precision': '10' } },
    { type: 'string', optional: true, field: 'body' },
    { type: 'string', optional: true, field: 'attrs', name: 'io.debezium.data.Json' },
    { type: 'int64', optional: true, field: 'created', name: 'io.debezium.time.MicroTimestamp' },
    { type: 'int32', optional: true, field: 'day', name: 'io.debezium.time.Date' },
  ],
});
const envelopeSchema = {
  type: 'struct',
  name: 'shop.public.products.Envelope',
  fields: [rowSchema('before'), rowSchema('after'), { type: 'struct', field: 'source', fields: [] }, { type: 'string', field: 'op' }],
};

describe('DebeziumDecoder: envelopes', () => {
  const decoder = new DebeziumDecoder({ topicPrefix: 'shop' });

  it('decodes an update without embedded schema (bare payload), with before/after, source and position', () => {
    const e = event(
      decoder.decode(
        record({ before: { id: 1, title: 'old', price: '9.99' }, after: { id: 1, title: 'new', price: '12.50' }, source, op: 'u', ts_ms: 1700000000200 }, {
          key: Buffer.from('{"id":1}'),
        }),
      ),
    );
    assert.equal(e.op, 'update');
    assert.equal(e.schema, 'public');
    assert.equal(e.table, 'products');
    assert.deepEqual(e.before, { id: 1, title: 'old', price: '9.99' });
    assert.deepEqual(e.after, { id: 1, title: 'new', price: '12.50' });
    assert.equal(e.commitTimeMs, 1700000000123);
    assert.equal(e.txId, '777');
    assert.equal(e.position, 'shop.public.products/2/41');
    assert.deepEqual(e.keyColumns, ['id']);
  });

  it('decodes {schema, payload}: precise decimals to exact strings, int64 to string, json, timestamps, dates', () => {
    const payload = {
      before: null,
      after: {
        id: 9007199254740993,
        title: 't',
        price: decimalBytes(1234567n),
        body: 'b',
        attrs: '{"color":"red"}',
        created: 1700000000123456,
        day: 19675,
      },
      source: { ...source, ts_us: 1700000000123456 },
      op: 'c',
    };
    // Written by hand so the big id stays a JSON number with all its digits.
    const text = JSON.stringify({ schema: envelopeSchema, payload }).replace('9007199254740992', '9007199254740993');
    const e = event(decoder.decode(record(text, { key: Buffer.from(JSON.stringify({ schema: {}, payload: { id: 1 } })) })));
    assert.equal(e.op, 'insert');
    assert.equal(e.before, undefined);
    assert.deepEqual(e.after, {
      id: '9007199254740993',
      title: 't',
      price: '12345.67',
      body: 'b',
      attrs: { color: 'red' },
      created: '2023-11-14T22:13:20.123456Z',
      day: '2023-11-14',
    });
    assert.equal(e.commitTimeMs, 1700000000123.456);
    assert.deepEqual(e.keyColumns, ['id']);
  });

  it('decodes ±infinity timestamps and dates as Debezium 3.4 writes them, instead of dead-lettering the event', () => {
    // Captured from Debezium 3.4.3: timestamp 'infinity' / '-infinity' (MicroTimestamp) and date 'infinity' / '-infinity'.
    const text = (created: string, day: number): string =>
      `{"schema":${JSON.stringify(envelopeSchema)},"payload":{"before":null,"after":{"id":1,"title":"t","price":null,"body":null,"attrs":null,"created":${created},"day":${day}},"source":${JSON.stringify(source)},"op":"c"}}`;
    const plus = event(decoder.decode(record(text('9223372036825200000', -2147472692))));
    assert.equal(plus.after?.created, 'infinity');
    assert.equal(plus.after?.day, 'infinity');
    const minus = event(decoder.decode(record(text('-9223372036832400000', -2147472691))));
    assert.equal(minus.after?.created, '-infinity');
    assert.equal(minus.after?.day, '-infinity');
    // Older Debezium: the ms constants as epoch days; a millisecond timestamp schema with the raw constant.
    const old = event(decoder.decode(record(text('9223372036825200000', 106751991))));
    assert.equal(old.after?.day, 'infinity');
    const millis = new DebeziumDecoder({ topicPrefix: 'shop' });
    const msSchema = JSON.parse(JSON.stringify(envelopeSchema).replaceAll('io.debezium.time.MicroTimestamp', 'org.apache.kafka.connect.data.Timestamp')) as unknown;
    const ms = event(millis.decode(record(`{"schema":${JSON.stringify(msSchema)},"payload":{"before":null,"after":{"id":1,"created":-9223372036832400000},"source":${JSON.stringify(source)},"op":"c"}}`)));
    assert.equal(ms.after?.created, '-infinity');
  });

  it('keeps integers beyond 2^53 inside json values exact, as the Postgres source does', () => {
    const payload = { before: null, after: { id: 1, attrs: '{"owner": 9007199254740993, "ids": [12345678901234567890]}' }, source, op: 'c' };
    const e = event(decoder.decode(record({ schema: envelopeSchema, payload })));
    assert.deepEqual(e.after?.attrs, { owner: '9007199254740993', ids: ['12345678901234567890'] });
    assert.deepEqual(parseJsonValue('{"a":1,"b":[2.5,"x"]}'), { a: 1, b: [2.5, 'x'] });
  });

  it('decodes negative, zero-padded and zero-scale decimals', () => {
    assert.equal(decodeDecimal(decimalBytes(-1250n), 2), '-12.50');
    assert.equal(decodeDecimal(decimalBytes(5n), 3), '0.005');
    assert.equal(decodeDecimal(decimalBytes(-5n), 3), '-0.005');
    assert.equal(decodeDecimal(decimalBytes(255n), 0), '255');
    assert.equal(decodeDecimal(decimalBytes(128n), 1), '12.8');
    assert.equal(decodeDecimal(decimalBytes(12345678901234567890n), 4), '1234567890123456.7890');
    assert.equal(decodeDecimal('', 2), '0');
    // Around the 6-byte boundary where the number path hands over to BigInt.
    assert.equal(decodeDecimal(decimalBytes(2n ** 47n - 1n), 2), '1407374883553.27');
    assert.equal(decodeDecimal(decimalBytes(-(2n ** 47n)), 2), '-1407374883553.28');
    assert.equal(decodeDecimal(decimalBytes(2n ** 47n), 2), '1407374883553.28');
    assert.equal(decodeDecimal(decimalBytes(-(2n ** 47n) - 1n), 0), '-140737488355329');
    assert.equal(decodeDecimal(decimalBytes(-7n), -2), '-700');
  });

  it('decodes a variable-scale decimal struct', () => {
    const schema = {
      type: 'struct',
      fields: [{ type: 'struct', field: 'after', fields: [{ type: 'struct', field: 'n', name: 'io.debezium.data.VariableScaleDecimal', fields: [] }] }],
    };
    const e = event(decoder.decode(record({ schema, payload: { after: { n: { scale: 3, value: decimalBytes(-31415n) } }, source, op: 'r' } })));
    assert.equal(e.op, 'snapshot');
    assert.deepEqual(e.after, { n: '-31.415' });
  });

  it('maps every op: c, u, d, r, t', () => {
    const ops = { c: 'insert', u: 'update', d: 'delete', r: 'snapshot', t: 'truncate' } as const;
    for (const [op, want] of Object.entries(ops)) {
      const row = { id: 1 };
      const payload = { before: op === 'd' || op === 'u' ? row : null, after: op === 'd' || op === 't' ? null : row, source, op };
      const e = event(decoder.decode(record(payload)));
      assert.equal(e.op, want);
      assert.equal(e.table, 'products');
      if (want === 'delete') {
        assert.deepEqual(e.before, row);
        assert.equal(e.after, undefined);
      }
      if (want === 'truncate') {
        assert.equal(e.before, undefined);
        assert.equal(e.after, undefined);
      }
    }
  });

  it('turns the unchanged-TOAST placeholder into UNKNOWN (text, bytes, arrays), with a configurable placeholder', () => {
    const e = event(
      decoder.decode(
        record({
          before: { id: 1, body: '__debezium_unavailable_value' },
          after: { id: 1, body: '__debezium_unavailable_value', tags: ['__debezium_unavailable_value'], title: null },
          source,
          op: 'u',
        }),
      ),
    );
    assert.equal(e.after!.body, UNKNOWN);
    assert.equal(e.before!.body, UNKNOWN);
    assert.equal(e.after!.tags, UNKNOWN);
    assert.equal(e.after!.title, null, 'a real NULL stays null');

    const bytesSchema = { type: 'struct', fields: [{ type: 'struct', field: 'after', fields: [{ type: 'bytes', field: 'blob' }] }] };
    const placeholderBytes = Buffer.from('__debezium_unavailable_value').toString('base64');
    const b = event(decoder.decode(record({ schema: bytesSchema, payload: { after: { blob: placeholderBytes }, source, op: 'u' } })));
    assert.equal(b.after!.blob, UNKNOWN);

    const custom = new DebeziumDecoder({ unavailableValue: '<toast>' });
    const c = event(custom.decode(record({ after: { id: 1, body: '<toast>', other: '__debezium_unavailable_value' }, source, op: 'u' })));
    assert.equal(c.after!.body, UNKNOWN);
    assert.equal(c.after!.other, '__debezium_unavailable_value');
  });

  it('skips tombstones (null value, empty value, null payload) and heartbeat topics', () => {
    assert.deepEqual(decoder.decode(record(null)), { kind: 'skip', reason: 'tombstone' });
    assert.deepEqual(decoder.decode(record('', { value: Buffer.alloc(0) })), { kind: 'skip', reason: 'tombstone' });
    assert.deepEqual(decoder.decode(record({ schema: null, payload: null })), { kind: 'skip', reason: 'tombstone' });
    assert.deepEqual(decoder.decode(record({ ts_ms: 1 }, { topic: '__debezium-heartbeat.shop' })), { kind: 'skip', reason: 'heartbeat' });
    const other = new DebeziumDecoder({ heartbeatTopicPrefix: 'hb.' });
    assert.deepEqual(other.decode(record({ ts_ms: 1 }, { topic: 'hb.shop' })), { kind: 'skip', reason: 'heartbeat' });
  });

  it('turns our logical messages into explicit invalidations and skips other prefixes', () => {
    const content = Buffer.from(JSON.stringify({ keys: ['product:1'], tags: ['t1'] })).toString('base64');
    const e = event(decoder.decode(record({ op: 'm', source: { ...source, schema: '', table: '' }, message: { prefix: 'cache-invalidation', content } }, { topic: 'shop.message' })));
    assert.equal(e.op, 'message');
    assert.equal(e.schema, '');
    assert.equal(e.table, '');
    assert.deepEqual(e.explicit, { keys: ['product:1'], tags: ['t1'], patterns: [] });
    assert.equal(e.position, 'shop.message/2/41');
    assert.deepEqual(decoder.decode(record({ op: 'm', source, message: { prefix: 'audit', content } })), { kind: 'skip', reason: 'foreign-message' });
    const bad = decoder.decode(record({ op: 'm', source, message: { prefix: 'cache-invalidation', content: Buffer.from('{"key":["x"]}').toString('base64') } }));
    assert.equal(bad.kind, 'poison');
    assert.match((bad as { reason: string }).reason, /keys/);
  });

  it('makes an explicit invalidation its policy refuses poison (dead-lettered) with the reason', () => {
    const content = (body: object) => Buffer.from(JSON.stringify(body)).toString('base64');
    const m = (body: object) => record({ op: 'm', source, message: { prefix: 'cache-invalidation', content: content(body) } });
    // Default policy: patterns are off.
    const refused = decoder.decode(m({ patterns: ['*'] }));
    assert.equal(refused.kind, 'poison');
    assert.match((refused as { reason: string }).reason, /refused by policy: explicit invalidations may not carry patterns/);
    const strict = new DebeziumDecoder({ explicitPolicy: { allow: new Set(['keys', 'tags', 'patterns']), prefixes: ['product:'], maxItems: 10, minPatternPrefix: 3 } });
    assert.equal(strict.decode(m({ patterns: ['product:list:*'] })).kind, 'event');
    const outside = strict.decode(m({ tags: ['everything'] }));
    assert.equal(outside.kind, 'poison');
    assert.match((outside as { reason: string }).reason, /tags entry "everything" does not start with an allowed prefix/);
  });

  it('reports poison: unparseable JSON, unknown shape, unknown op, missing rows', () => {
    const cases: Array<[unknown, RegExp]> = [
      ['{not json', /not JSON/],
      [[1, 2], /not a JSON object/],
      [{ id: 1, title: 'x' }, /no "op"/],
      [{ op: 'x', source }, /unknown Debezium op "x"/],
      [{ op: 'c', before: null, after: null, source }, /without "after"/],
      [{ op: 'd', before: null, after: null, source }, /without "before"/],
    ];
    for (const [value, reason] of cases) {
      const r = decoder.decode(record(value));
      assert.equal(r.kind, 'poison', JSON.stringify(value));
      assert.match((r as { reason: string }).reason, reason);
    }
  });

  it('uses the record timestamp when the event has no source time', () => {
    const e = event(decoder.decode(record({ after: { id: 1 }, op: 'c' })));
    assert.equal(e.commitTimeMs, 1700000000999);
  });
});

describe('DebeziumDecoder: topics and tables', () => {
  it('maps <prefix>.<schema>.<table>, falls back to the last two segments, and obeys the override map', () => {
    assert.deepEqual(tableFromTopic('shop.public.products', 'shop'), { schema: 'public', table: 'products' });
    assert.deepEqual(tableFromTopic('my.prefix.sales.orders', 'my.prefix'), { schema: 'sales', table: 'orders' });
    assert.deepEqual(tableFromTopic('x.sales.orders'), { schema: 'sales', table: 'orders' });
    const decoder = new DebeziumDecoder({ topicPrefix: 'shop', tableMap: { 'products-v2': 'catalog.items' } });
    const mapped = event(decoder.decode(record({ after: { id: 1 }, op: 'c', source }, { topic: 'products-v2' })));
    assert.equal(`${mapped.schema}.${mapped.table}`, 'catalog.items');
    const fromTopic = event(decoder.decode(record({ after: { id: 1 }, op: 'c' }, { topic: 'shop.inventory.stock' })));
    assert.equal(`${fromTopic.schema}.${fromTopic.table}`, 'inventory.stock');
  });
});

describe('DebeziumDecoder: flattened (ExtractNewRecordState)', () => {
  const decoder = new DebeziumDecoder({ topicPrefix: 'shop', flattened: true });

  it('decodes __op/__table/__schema/__source_ts_ms and drops the metadata columns', () => {
    const e = event(decoder.decode(record({ id: 1, title: 'x', __op: 'u', __table: 'products', __schema: 'public', __source_ts_ms: 1700000000500, __deleted: 'false' })));
    assert.equal(e.op, 'update');
    assert.equal(`${e.schema}.${e.table}`, 'public.products');
    assert.deepEqual(e.after, { id: 1, title: 'x' });
    assert.equal(e.before, undefined, 'a flattened update has no old row');
    assert.equal(e.commitTimeMs, 1700000000500);
  });

  it('treats __deleted=true as a delete whose row is the old row; __db names the schema otherwise', () => {
    const e = event(decoder.decode(record({ id: 1, title: 'x', __op: 'd', __deleted: 'true', __table: 'products', __db: 'shopdb' })));
    assert.equal(e.op, 'delete');
    assert.deepEqual(e.before, { id: 1, title: 'x' });
    assert.equal(e.after, undefined);
    assert.equal(e.schema, 'shopdb');
  });

  it('decodes decimals of a flattened record with an embedded schema, and takes the table from the topic when absent', () => {
    const schema = { type: 'struct', fields: [{ type: 'int32', field: 'id' }, { type: 'bytes', field: 'price', name: 'org.apache.kafka.connect.data.Decimal', parameters: { scale: '2' } }, { type: 'string', field: '__op' }] };
    const e = event(decoder.decode(record({ schema, payload: { id: 3, price: decimalBytes(999n), __op: 'c' } })));
    assert.equal(e.op, 'insert');
    assert.equal(`${e.schema}.${e.table}`, 'public.products');
    assert.deepEqual(e.after, { id: 3, price: '9.99' });
  });

  it('still decodes full envelopes when flattened is on', () => {
    const e = event(decoder.decode(record({ before: null, after: { id: 1 }, source, op: 'c' })));
    assert.equal(e.op, 'insert');
  });

  it('without the flattened option, a flattened record is poison with a hint', () => {
    const r = new DebeziumDecoder().decode(record({ id: 1, __op: 'c' }));
    assert.equal(r.kind, 'poison');
    assert.match((r as { reason: string }).reason, /KAFKA_FLATTENED/);
  });
});

describe('parseJsonExact', () => {
  it('keeps integers beyond 2^53 exact as strings, leaves strings, floats and safe integers alone', () => {
    assert.equal(hasUnsafeInteger({ a: 1, b: 2 ** 53 + 2, c: 'x' }), true);
    assert.equal(hasUnsafeInteger({ a: 2 ** 53 - 1, b: 1.5, c: -0.5 }), false);
    const v = parseJsonExact('{"a":9223372036854775807,"b":"12345678901234567890","c":1.2345678901234567,"d":-9007199254740993,"e":42,"f":[1e21]}') as Record<string, unknown>;
    assert.equal(v.a, '9223372036854775807');
    assert.equal(v.b, '12345678901234567890');
    assert.equal(v.c, 1.2345678901234567);
    assert.equal(v.d, '-9007199254740993');
    assert.equal(v.e, 42);
    assert.deepEqual(v.f, [1e21]);
    assert.deepEqual(parseJsonExact('{"s":"a \\" 12345678901234567890 \\\\","n":1234567890123456}'), { s: 'a " 12345678901234567890 \\', n: 1234567890123456 });
  });
});

describe('DebeziumDecoder: schema cache (schema-enabled records)', () => {
  // A schema text with braces, brackets and escaped quotes inside strings: the scan must skip them.
  const schemaV1 = { ...envelopeSchema, doc: 'odd "}]{[" text \\ here' };
  const wrap = (schema: unknown, payload: unknown) => JSON.stringify({ schema, payload });
  const update = (id: number, price: bigint) => ({
    before: { id, title: 'old', price: decimalBytes(price - 1n), body: null, attrs: null, created: null, day: null },
    after: { id, title: 'new', price: decimalBytes(price), body: null, attrs: '{"n":1}', created: 1700000000123456, day: 19675 },
    source,
    op: 'u',
  });

  it('parses a topic schema once: later records with the same schema bytes decode the payload only, with the same result', () => {
    const decoder = new DebeziumDecoder({ topicPrefix: 'shop' });
    const first = event(decoder.decode(record(wrap(schemaV1, update(1, 1000n)), { offset: '1' })));
    assert.deepEqual(decoder.schemaCacheStats, { hits: 0, misses: 1 });
    const second = event(decoder.decode(record(wrap(schemaV1, update(2, 250n)), { offset: '2' })));
    assert.deepEqual(decoder.schemaCacheStats, { hits: 1, misses: 1 });
    assert.deepEqual(first.after, { id: '1', title: 'new', price: '10.00', body: null, attrs: { n: 1 }, created: '2023-11-14T22:13:20.123456Z', day: '2023-11-14' });
    assert.deepEqual(second.before, { id: '2', title: 'old', price: '2.49', body: null, attrs: null, created: null, day: null });
    assert.equal(second.after?.price, '2.50');
    assert.equal(second.position, 'shop.public.products/2/2');
    // The same schema on another topic is that topic's own first sighting.
    event(decoder.decode(record(wrap(schemaV1, update(3, 1n)), { topic: 'shop.public.other' })));
    assert.deepEqual(decoder.schemaCacheStats, { hits: 1, misses: 2 });
  });

  it('follows a schema change mid-topic and keeps recognising the previous schema', () => {
    const decoder = new DebeziumDecoder({ topicPrefix: 'shop' });
    event(decoder.decode(record(wrap(schemaV1, update(1, 1000n)))));
    // ALTER TABLE: price gets scale 3, a column is added.
    const rowV2 = (name: string) => {
      const r = rowSchema(name);
      return {
        ...r,
        fields: [
          ...r.fields.map((f) => (f.field === 'price' ? { ...f, parameters: { scale: '3' } } : f)),
          { type: 'int64', optional: true, field: 'stock' },
        ],
      };
    };
    const schemaV2 = { ...envelopeSchema, fields: [rowV2('before'), rowV2('after'), ...envelopeSchema.fields.slice(2)] };
    const changed = update(1, 1000n);
    const v2 = event(decoder.decode(record(wrap(schemaV2, { ...changed, after: { ...changed.after, stock: 5 } }))));
    assert.deepEqual(decoder.schemaCacheStats, { hits: 0, misses: 2 });
    assert.equal(v2.after?.price, '1.000', 'the new scale applies');
    assert.equal(v2.after?.stock, '5', 'the new int64 column is typed by the new schema');
    const v1 = event(decoder.decode(record(wrap(schemaV1, update(1, 1000n)))));
    assert.deepEqual(decoder.schemaCacheStats, { hits: 1, misses: 2 });
    assert.equal(v1.after?.price, '10.00', 'the old schema is still recognised, with its own scale');
  });

  it('keeps int8 beyond 2^53 exact on a cache hit', () => {
    const decoder = new DebeziumDecoder({ topicPrefix: 'shop' });
    event(decoder.decode(record(wrap(schemaV1, update(1, 1n)))));
    const text = wrap(schemaV1, update(9007199254740992, 1n)).replace(/9007199254740992/g, '9007199254740993');
    const e = event(decoder.decode(record(text)));
    assert.deepEqual(decoder.schemaCacheStats, { hits: 1, misses: 1 });
    assert.equal(e.after?.id, '9007199254740993');
    assert.equal(e.before?.id, '9007199254740993');
  });

  it('turns placeholders into UNKNOWN on a cache hit (plain and base64 bytes)', () => {
    const decoder = new DebeziumDecoder({ topicPrefix: 'shop' });
    event(decoder.decode(record(wrap(schemaV1, update(1, 1n)))));
    const u = update(1, 1n);
    const placeholder = Buffer.from('__debezium_unavailable_value').toString('base64');
    const e = event(decoder.decode(record(wrap(schemaV1, { ...u, after: { ...u.after, body: '__debezium_unavailable_value', price: placeholder } }))));
    assert.deepEqual(decoder.schemaCacheStats, { hits: 1, misses: 1 });
    assert.equal(e.after?.body, UNKNOWN);
    assert.equal(e.after?.price, UNKNOWN);
    assert.equal(e.after?.title, 'new');
  });

  it('decodes documents not in the compact JsonConverter form as a whole, with the same result', () => {
    const decoder = new DebeziumDecoder({ topicPrefix: 'shop' });
    const compact = event(decoder.decode(record(wrap(schemaV1, update(1, 1000n)))));
    const spaced = event(decoder.decode(record(JSON.stringify({ schema: schemaV1, payload: update(1, 1000n) }, null, 2))));
    const payloadFirst = event(decoder.decode(record(JSON.stringify({ payload: update(1, 1000n), schema: schemaV1 }))));
    assert.deepEqual(decoder.schemaCacheStats, { hits: 0, misses: 1 });
    assert.deepEqual(spaced, compact);
    assert.deepEqual(payloadFirst, compact);
    // A third member: not an envelope wrapper, as before (the document is taken as the payload).
    const extra = decoder.decode(record(`${wrap(schemaV1, update(1, 1000n)).slice(0, -1)},"x":1}`));
    assert.equal(extra.kind, 'poison');
    const truncated = decoder.decode(record(wrap(schemaV1, update(1, 1000n)).slice(0, -2)));
    assert.equal(truncated.kind, 'poison');
    assert.match((truncated as { reason: string }).reason, /not JSON/);
  });
});
