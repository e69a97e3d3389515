/**
 * Identifier quoting and the COPY statement each worker runs. The rendered COPY options also run
 * against a real server in test/integration/line-mapping-server.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { copyFromStdin, qualified, quoteIdent, quoteLiteral, type CopyStatementOptions } from '../../../src/db/sql.ts';

/** Reads a quoted identifier back the way PostgreSQL's scanner does: outer quotes off, "" → ". */
function unquoteIdent(quoted: string): string {
  expect(quoted).toMatch(/^"(?:[^"]|"")*"$/);
  return quoted.slice(1, -1).replaceAll('""', '"');
}

const HOSTILE_NAMES = [
  'votes',
  'Votes',
  'My Table',
  'x"y',
  '"',
  '""',
  'x"; drop table y; --',
  'a"."b',
  "it's",
  'back\\slash',
  'new\nline',
  '',
  '投票',
  '😀'.repeat(20),
];

describe('quoteIdent', () => {
  it.each([
    ['votes', '"votes"'],
    ['Votes', '"Votes"'],
    ['x"y', '"x""y"'],
    ['x"; drop table y; --', '"x""; drop table y; --"'],
    ['a"."b', '"a"".""b"'],
    ["it's", '"it\'s"'],
    ['', '""'],
  ])('%j → %s', (name, quoted) => {
    expect(quoteIdent(name)).toBe(quoted);
  });

  it.each(HOSTILE_NAMES)('%j reads back as itself, one identifier', (name) => {
    expect(unquoteIdent(quoteIdent(name))).toBe(name);
  });

  it('qualified quotes schema and name separately', () => {
    expect(qualified({ schema: 'my schema', name: 'x"; drop table y; --' })).toBe('"my schema"."x""; drop table y; --"');
  });
});

describe('quoteLiteral', () => {
  it.each([
    ['|', "'|'"],
    ["'", "''''"],
    ['', "''"],
    ['\\', " E'\\\\'"],
    ['\\N', " E'\\\\N'"],
  ])('%j → %s', (value, literal) => {
    expect(quoteLiteral(value)).toBe(literal);
  });
});

describe('copyFromStdin', () => {
  const table = { schema: 'public', name: 'votes' };
  const columns = ['username', 'link', 'score'];
  const head = 'COPY "public"."votes" ("username", "link", "score") FROM STDIN';

  it.each<[string, CopyStatementOptions, string]>([
    ['csv defaults', { format: 'csv' }, '(FORMAT csv)'],
    ['text defaults', { format: 'text' }, '(FORMAT text)'],
    ['DELIMITER', { format: 'csv', delimiter: '|' }, "(FORMAT csv, DELIMITER '|')"],
    ['a tab DELIMITER', { format: 'text', delimiter: '\t' }, "(FORMAT text, DELIMITER '\t')"],
    ['a quote as DELIMITER', { format: 'text', delimiter: "'" }, "(FORMAT text, DELIMITER '''')"],
    ['NULL', { format: 'csv', null: 'NULL' }, "(FORMAT csv, NULL 'NULL')"],
    ['an empty NULL', { format: 'text', null: '' }, "(FORMAT text, NULL '')"],
    ['a backslash NULL', { format: 'text', null: '\\N' }, "(FORMAT text, NULL  E'\\\\N')"],
    ['QUOTE', { format: 'csv', quote: "'" }, "(FORMAT csv, QUOTE '''')"],
    ['ESCAPE', { format: 'csv', escape: '\\' }, "(FORMAT csv, ESCAPE  E'\\\\')"],
    ['FORCE_NULL', { format: 'csv', forceNull: ['link', 'My Col'] }, '(FORMAT csv, FORCE_NULL ("link", "My Col"))'],
    ['FORCE_NOT_NULL', { format: 'csv', forceNotNull: ['x"y'] }, '(FORMAT csv, FORCE_NOT_NULL ("x""y"))'],
    ['empty FORCE lists are left out', { format: 'csv', forceNull: [], forceNotNull: [] }, '(FORMAT csv)'],
    ['ENCODING', { format: 'text', encoding: 'LATIN1' }, "(FORMAT text, ENCODING 'LATIN1')"],
    [
      'every csv option, in a fixed order',
      { format: 'csv', delimiter: ';', null: '', quote: "'", escape: '"', forceNull: ['link'], forceNotNull: ['score'], encoding: 'UTF8' },
      "(FORMAT csv, DELIMITER ';', NULL '', QUOTE '''', ESCAPE '\"', FORCE_NULL (\"link\"), FORCE_NOT_NULL (\"score\"), ENCODING 'UTF8')",
    ],
    [
      'csv-only options are not sent with text',
      { format: 'text', quote: "'", escape: '\\', forceNull: ['link'], forceNotNull: ['score'] },
      '(FORMAT text)',
    ],
  ])('%s', (_, options, rendered) => {
    expect(copyFromStdin(table, columns, options)).toBe(`${head} ${rendered}`);
  });

  it('never sends HEADER: the main thread skips the header by offset', () => {
    expect(copyFromStdin(table, columns, { format: 'csv', delimiter: ',' })).not.toMatch(/HEADER/i);
  });

  it('quotes a hostile table and hostile columns', () => {
    expect(copyFromStdin({ schema: 'a"b', name: 'x"; drop table y; --' }, ['c"d', 'e f'], { format: 'csv' })).toBe(
      'COPY "a""b"."x""; drop table y; --" ("c""d", "e f") FROM STDIN (FORMAT csv)',
    );
  });

  it.each(HOSTILE_NAMES.filter((name) => name !== ''))('a column named %j is one quoted identifier', (name) => {
    const sql = copyFromStdin(table, [name], { format: 'csv' });
    const columnList = /^COPY "public"\."votes" \((.*)\) FROM STDIN \(FORMAT csv\)$/s.exec(sql)?.[1];
    expect(unquoteIdent(columnList!)).toBe(name);
  });
});
