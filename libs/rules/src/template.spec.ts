import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { EventRows } from './event-rows';
import { bindTemplate, renderTemplate } from './render';
import { parseTemplate } from './template';
import { formatValue } from './value-format';
import { ChangeEvent, MissingValue } from '@cdc/core';

function render(source: string, event: Partial<ChangeEvent>): string | undefined {
  const { template, problems } = parseTemplate(source);
  assert.deepEqual(problems, []);
  const missing: MissingValue[] = [];
  return renderTemplate(bindTemplate(template, null), new EventRows({ op: 'update', schema: 's', table: 't', commitTimeMs: 0, position: '1', ...event }), 'r', missing);
}

describe('template parsing', () => {
  it('splits literals and placeholders once', () => {
    const { template, problems } = parseTemplate('product:{id}:slug:{after.slug|lower|trim}');
    assert.deepEqual(problems, []);
    assert.equal(template.parts.length, 4);
    assert.equal(template.parts[0], 'product:');
    assert.deepEqual(
      template.placeholders.map((p) => [p.side, p.column, p.text, p.offset, p.filters.length]),
      [
        ['current', 'id', '{id}', 8, 0],
        ['after', 'slug', '{after.slug|lower|trim}', 18, 2],
      ],
    );
  });

  it('reads {{ and }} as literal braces', () => {
    const { template, problems } = parseTemplate('a{{b}}:{id}');
    assert.deepEqual(problems, []);
    assert.deepEqual(template.parts.slice(0, 1), ['a{b}:']);
    assert.equal(render('a{{b}}:{id}', { after: { id: 7 } }), 'a{b}:7');
  });

  it('reports each problem with its offset', () => {
    const cases: Array<[string, number, RegExp]> = [
      ['a:{id', 2, /unclosed '\{'/],
      ['a:{}', 2, /empty placeholder '\{\}'/],
      ['a:{ }', 2, /empty placeholder/],
      ['a:{middle.x}', 2, /unknown side 'middle'/],
      ['a:{before.}', 2, /names no column/],
      ['a:{id|slugify}', 2, /unknown filter 'slugify'.*available filters: lower, upper, trim, urlencode, json/],
      ['a:{id|}', 2, /empty filter/],
      ['a}b', 1, /unmatched '\}'/],
      ['x{a{b}', 1, /unclosed/],
    ];
    for (const [source, offset, message] of cases) {
      const { problems } = parseTemplate(source);
      assert.equal(problems.length, 1, source);
      assert.equal(problems[0].offset, offset, source);
      assert.match(problems[0].message, message, source);
    }
  });
});

describe('template rendering and filters', () => {
  const after = { id: 42, slug: '  Hello World/Ä ', n: 12345678901234567890n, flag: true, at: new Date('2024-05-01T10:00:00Z'), doc: { a: [1, 'x'] } };

  it('applies lower, upper, trim, urlencode and json', () => {
    assert.equal(render('{after.slug|trim|lower}', { after }), 'hello world/ä');
    assert.equal(render('{after.slug|trim|upper}', { after }), 'HELLO WORLD/Ä');
    assert.equal(render('{after.slug|trim|urlencode}', { after }), 'Hello%20World%2F%C3%84');
    assert.equal(render('{after.slug|json}', { after }), '"  Hello World/Ä "');
    assert.equal(render('{doc|json}', { after }), '{"a":[1,"x"]}');
  });

  it('formats values by type', () => {
    assert.equal(render('{id}|{n}|{flag}|{at}|{doc}', { after }), '42|12345678901234567890|true|2024-05-01T10:00:00.000Z|{"a":[1,"x"]}');
    assert.equal(formatValue(false), 'false');
    assert.equal(formatValue(Buffer.from([0xde, 0xad])), '\\xdead');
    assert.equal(formatValue({ big: 5n }), '{"big":"5"}');
  });

  it('yields nothing for SQL NULL without reporting a miss', () => {
    const { template } = parseTemplate('category-{after.category_id}');
    const missing: MissingValue[] = [];
    const rows = new EventRows({ op: 'insert', schema: 's', table: 't', after: { category_id: null }, commitTimeMs: 0, position: '1' });
    assert.equal(renderTemplate(bindTemplate(template, null), rows, 'r', missing), undefined);
    assert.deepEqual(missing, []);
  });
});
