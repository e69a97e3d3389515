/**
 * Type inference for --create: what each value fits, and the narrowest type a column of values
 * gets (NULLs no evidence, an empty string only text), table-driven.
 */
import { describe, expect, it } from 'vitest';
import { inferColumnTypes, type InferredType } from '../../../src/plan/infer-types.ts';

const typeOf = (...values: Array<string | null>): InferredType => inferColumnTypes(values.map((v) => [v]), 1)[0];

describe('one value', () => {
  it.each([
    ['0', 'smallint'],
    ['-32768', 'smallint'],
    ['32767', 'smallint'],
    ['32768', 'integer'],
    ['+12', 'smallint'],
    ['-2147483648', 'integer'],
    ['2147483648', 'bigint'],
    ['9223372036854775807', 'bigint'],
    ['-9223372036854775808', 'bigint'],
    ['9223372036854775808', 'numeric'],
    ['1.50', 'numeric'],
    ['-0.5', 'numeric'],
    ['.5', 'numeric'],
    ['5.', 'numeric'],
    ['6.02e23', 'double precision'],
    ['1E-7', 'double precision'],
    ['-Infinity', 'double precision'],
    ['inf', 'double precision'],
    ['NaN', 'numeric'],
    ['1e400', 'numeric'],
    ['1e-400', 'numeric'],
    ['1e2000', 'text'],
    ['007', 'text'],
    ['01.5', 'text'],
    [' 5', 'text'],
    ['5 ', 'text'],
    ['1_000', 'text'],
    ['0x1F', 'text'],
    ['true', 'boolean'],
    ['FALSE', 'boolean'],
    ['t', 'boolean'],
    ['yes', 'boolean'],
    ['off', 'boolean'],
    ['2024-02-29', 'date'],
    ['2023-02-29', 'text'],
    ['2024-13-01', 'text'],
    ['0000-01-01', 'text'],
    ['1900-02-29', 'text'],
    ['2000-02-29', 'date'],
    ['01/02/2024', 'text'],
    ['10:00', 'time'],
    ['23:59:59.123456', 'time'],
    ['23:59:59.1234567', 'text'],
    ['24:00', 'text'],
    ['2024-01-02 10:00:00', 'timestamp'],
    ['2024-01-02T10:00', 'timestamp'],
    ['2024-01-02 10:00:00.5', 'timestamp'],
    ['2024-01-02T10:00:00Z', 'timestamptz'],
    ['2024-01-02 10:00:00+05:30', 'timestamptz'],
    ['2024-01-02 10:00:00-0800', 'timestamptz'],
    ['2024-01-02 10:00:00+05', 'timestamptz'],
    ['2024-01-02 10:00:00 UTC', 'text'],
    ['2024-01-32 10:00:00', 'text'],
    ['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'uuid'],
    ['A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', 'uuid'],
    ['a0eebc999c0b4ef8bb6d6bb9bd380a11', 'text'],
    ['{"a": [1, 2]}', 'jsonb'],
    ['[1, "x", null]', 'jsonb'],
    ['{"a": 1', 'text'],
    ['{"a": "\\u0000"}', 'text'],
    ['{"a": "\\ud800"}', 'text'],
    ['{"a": "\\ud83d\\ude00"}', 'jsonb'],
    ['"just a string"', 'text'],
    ['', 'text'],
    ['hello', 'text'],
  ])('%j → %s', (value, type) => {
    expect(typeOf(value)).toBe(type);
  });
});

describe('a column of values: the narrowest type all fit', () => {
  it.each([
    ['small and large integers', ['1', '70000', '-3'], 'integer'],
    ['an integer beyond integer', ['1', '3000000000'], 'bigint'],
    ['integers and decimals', ['1', '2.5'], 'numeric'],
    ['decimals and one with an exponent', ['1.5', '2e3'], 'double precision'],
    ['an exponent out of double range keeps numeric', ['1.5', '1e400'], 'numeric'],
    ['0 and 1 are numbers', ['0', '1', '1'], 'smallint'],
    ['0, 1 and words are booleans', ['1', 'true', 'f'], 'boolean'],
    ['dates and timestamps are timestamps', ['2024-01-02', '2024-01-02 10:00'], 'timestamp'],
    ['timestamps with and without a zone are text', ['2024-01-02 10:00', '2024-01-02 10:00Z'], 'text'],
    ['NULLs are no evidence', [null, '5', null], 'smallint'],
    ['only NULLs: text', [null, null], 'text'],
    ['no values at all: text', [], 'text'],
    ['an empty string fits text only', ['5', ''], 'text'],
    ['one value that fits nothing else', ['1', '2', 'x'], 'text'],
    ['uuids', ['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'], 'uuid'],
    ['json objects and arrays', ['{}', '[1]'], 'jsonb'],
    ['a number is no json document here', ['{}', '5'], 'text'],
  ])('%s → %s', (_, values, type) => {
    expect(typeOf(...(values as Array<string | null>))).toBe(type);
  });

  it('infers each column of a record on its own; fields past the width are not looked at, missing ones are NULL', () => {
    expect(inferColumnTypes([['1', 'a', 'x'], ['2'], ['3', 'b', '4', 'extra']], 3)).toEqual(['smallint', 'text', 'text']);
  });
});
