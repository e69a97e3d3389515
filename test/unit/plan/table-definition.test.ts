/**
 * The table --create makes: column names from --columns, the header or column1..N, checked as
 * PostgreSQL names; its DDL quoted by quoteIdent.
 */
import { describe, expect, it } from 'vitest';
import { RecordTypeInference } from '../../../src/plan/infer-types.ts';
import { createTableSql, defineTable, newColumnNames } from '../../../src/plan/table-definition.ts';

const options = (over: { columns?: string[]; header?: boolean } = {}) => ({ file: 'f.csv', columns: over.columns, header: over.header ?? false });

describe('newColumnNames', () => {
  it.each([
    ['no header: column1..N', options(), ['1', 'x', null], ['column1', 'column2', 'column3']],
    ['a header: its names as written', options({ header: true }), ['Id', 'user name', 'x"y'], ['Id', 'user name', 'x"y']],
    ['--columns win over the header', options({ header: true, columns: ['a', 'b'] }), ['x', 'y'], ['a', 'b']],
  ])('%s', (_, opts, first, names) => {
    expect(newColumnNames(opts, first)).toEqual(names);
  });

  it.each([
    ['a NULL header name', options({ header: true }), ['a', null], /^header field 2 is NULL: a new table needs a name for every column/],
    ['an empty header name', options({ header: true }), ['', 'b'], /^header field 1 is empty/],
    ['a name twice', options({ header: true }), ['a', 'b', 'a'], /^header fields 1 and 3 are both "a"/],
    ['a name PostgreSQL would cut', options({ header: true }), ['x'.repeat(64)], /^header field 1, "x{64}", is 64 bytes long and PostgreSQL keeps 63/],
    ['--columns of another count', options({ columns: ['a'] }), ['1', '2'], /^--columns names 1 columns, but line 1 has 2 fields/],
  ])('refuses %s', (_, opts, first, message) => {
    expect(() => newColumnNames(opts, first)).toThrow(message);
  });

  it('takes a name of 63 bytes, multibyte characters counted in bytes', () => {
    expect(newColumnNames(options({ header: true }), ['é'.repeat(31) + 'x'])).toHaveLength(1);
    expect(() => newColumnNames(options({ header: true }), ['é'.repeat(32)])).toThrow(/64 bytes long/);
  });
});

describe('createTableSql', () => {
  it('quotes every name and uses the inferred types', () => {
    const sample = new RecordTypeInference(3);
    sample.add(['1', '2024-01-02', 'x']);
    sample.add(['2', null, '']);
    const definition = defineTable({ schema: 'My Schema', name: 'new"table' }, ['id', 'Day', 'a b'], sample);
    expect(definition.sampled).toBe(2);
    expect(createTableSql(definition)).toBe('CREATE TABLE "My Schema"."new""table" ("id" smallint, "Day" date, "a b" text)');
  });
});
