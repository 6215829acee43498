import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parserForType, timestampToIso } from './value-parsers';

const parse = (oid: number, text: string, typeName?: string): unknown => parserForType(oid, typeName)(text);

describe('value parsers', () => {
  it('keeps integers as numbers and int8 / numeric exact as strings', () => {
    assert.equal(parse(21, '-7'), -7);
    assert.equal(parse(23, '2147483647'), 2147483647);
    assert.equal(parse(20, '9223372036854775807'), '9223372036854775807');
    assert.equal(parse(1700, '12345678901234567890.000001'), '12345678901234567890.000001');
    assert.equal(parse(701, '0.1'), 0.1);
    assert.ok(Number.isNaN(parse(701, 'NaN')));
    assert.equal(parse(700, '-Infinity'), Number.NEGATIVE_INFINITY);
  });

  it('reads booleans, json and text-like values', () => {
    assert.equal(parse(16, 't'), true);
    assert.equal(parse(16, 'f'), false);
    assert.deepEqual(parse(3802, '{"a": [1, null]}'), { a: [1, null] });
    assert.equal(parse(2950, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'), 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
    assert.equal(parse(17, '\\x00ff'), '\\x00ff');
    assert.equal(parse(1186, '1 day 02:00:00'), '1 day 02:00:00', 'types without a parser stay as printed');
  });

  it('keeps integers beyond 2^53 inside json/jsonb exact, as strings', () => {
    assert.deepEqual(parse(3802, '{"id": 9007199254740993, "n": [-12345678901234567890, 42], "s": "9007199254740993", "f": 1.5}'), {
      id: '9007199254740993',
      n: ['-12345678901234567890', 42],
      s: '9007199254740993',
      f: 1.5,
    });
    assert.deepEqual(parse(114, '[9007199254740991]'), [9007199254740991], 'safe integers stay numbers');
  });

  it('turns timestamps into ISO 8601, keeping microseconds', () => {
    assert.equal(timestampToIso('2024-05-01 10:00:00.123456+00'), '2024-05-01T10:00:00.123456Z');
    assert.equal(timestampToIso('2024-05-01 10:00:00+05:30'), '2024-05-01T10:00:00+05:30');
    assert.equal(timestampToIso('2024-05-01 10:00:00-03'), '2024-05-01T10:00:00-03:00');
    assert.equal(timestampToIso('2024-05-01 10:00:00.5'), '2024-05-01T10:00:00.5');
    assert.equal(timestampToIso('infinity'), 'infinity');
    assert.equal(timestampToIso('0044-03-15 12:00:00+00 BC'), '0044-03-15 12:00:00+00 BC');
    assert.equal(parse(1082, '2024-05-01'), '2024-05-01');
  });

  it('reads arrays with their element types, nested, with NULLs', () => {
    assert.deepEqual(parse(1007, '{{1,2},{3,NULL}}'), [
      [1, 2],
      [3, null],
    ]);
    assert.deepEqual(parse(1009, '{a,"b c",NULL,"NULL","q\\"x"}'), ['a', 'b c', null, 'NULL', 'q"x']);
    assert.deepEqual(parse(1185, '{"2024-05-01 10:00:00+00"}'), ['2024-05-01T10:00:00Z']);
    assert.deepEqual(parse(1016, '{1,9223372036854775807}'), ['1', '9223372036854775807']);
    assert.deepEqual(parse(99999, '{happy,sad}', '_mood'), ['happy', 'sad'], 'arrays of user types: strings');
    assert.equal(parse(99998, 'happy', 'mood'), 'happy');
  });
});
