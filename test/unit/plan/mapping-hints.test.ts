/**
 * The hints a refused first record gets: each from what the record's bytes show, none for a record
 * that is simply bad, and none after the first record.
 */
import { describe, expect, it } from 'vitest';
import { mappingHints, splitFields, type HintContext } from '../../../src/plan/mapping-hints.ts';

const COLUMNS = ['username', 'link', 'score'];
const csv = (over: Partial<HintContext> = {}): HintContext => ({
  options: { file: 'votes.csv', format: 'csv', delimiter: undefined, quote: undefined, header: false },
  columns: COLUMNS,
  firstRecord: true,
  sqlstate: '22P02',
  ...over,
});
const text = (file = 'votes.txt'): HintContext => csv({ options: { file, format: 'text', delimiter: undefined, quote: undefined, header: false } });

describe('mappingHints', () => {
  it.each<[string, string, HintContext, RegExp | undefined]>([
    ['a header', 'username,link,score\n', csv(), /looks like a header \(username, link, score are column names\): pass --header/],
    ['a quoted header', '"Username","Link","Score"\r\n', csv(), /looks like a header/],
    ['a header whose names differ, when the rest loads', 'who,what,how\n', csv({ restLoads: true }), /looks like a header \(the records after it load\): pass --header/],
    ['tab-separated as csv', 'a\tb\t1\n', csv(), /looks tab-separated \(3 tab-separated fields\): pass --format text/],
    ['comma-separated as text', 'a,b,1\n', text(), /looks comma-separated \(3 comma-separated fields\): pass --format csv/],
    ['comma-separated on standard input', 'a,b,1\n', text('-'), /standard input is read as text .* pass --format csv/],
    ['too many fields', '1,a,b,1\n', csv({ sqlstate: '22P04' }), /the record has 4 fields and the column list 3 \(username, link, score\): pass --columns/],
    ['a bad value, nothing else', 'a,b,x\n', csv(), undefined],
    ['not the first record', 'username,link,score\n', csv({ firstRecord: false }), undefined],
    ['with --header given', 'username,link,score\n', csv({ options: { file: 'v.csv', format: 'csv', delimiter: undefined, quote: undefined, header: true } }), undefined],
  ])('%s', (_, record, context, expected) => {
    const hints = mappingHints(record, context);
    if (expected) expect(hints.join('; ')).toMatch(expected);
    else expect(hints).toEqual([]);
  });
});

describe('splitFields', () => {
  it.each<[string, 'csv' | 'text', string, string[]]>([
    ['a,"b,c",d\n', 'csv', ',', ['a', '"b,c"', 'd']],
    ['a\\\tb\tc\n', 'text', '\t', ['a\\\tb', 'c']],
    ['', 'csv', ',', ['']],
  ])('%j', (record, format, delimiter, expected) => {
    expect(splitFields(record, format, delimiter)).toEqual(expected);
  });
});
