/**
 * The oracle: for nasty files, worker counts and chunk sizes, ploader's table equals what one plain
 * COPY of the same file gives (all columns, order-independent; serial ids compared as a set).
 */
import { describe, expect, it } from 'vitest';
import { load } from '../../src/load.ts';
import { tableFingerprint, useTestDatabase } from '../support/database.ts';
import { plainCopy, useTempDir } from '../support/fixtures.ts';

const db = useTestDatabase();
const write = useTempDir();

const TABLE = `(id serial PRIMARY KEY, name text, note text, score int, created date DEFAULT '2020-01-01')`;
const COLUMNS = ['name', 'note', 'score'];

function csvRows(count: number, make: (i: number) => string): string {
  return Array.from({ length: count }, (_, i) => make(i)).join('');
}

const fixtures: Array<{ name: string; content: string; format: 'csv' | 'text'; header?: boolean; copyOptions: string }> = [
  { name: 'plain.csv', format: 'csv', copyOptions: 'FORMAT csv', content: csvRows(200, (i) => `user_${i},note ${i},${i % 7}\n`) },
  {
    name: 'quoted-newlines.csv',
    format: 'csv',
    copyOptions: 'FORMAT csv',
    // Quoted LFs, delimiters and doubled quotes, packed densely so that chunk edges fall inside them.
    content: csvRows(120, (i) => `"u${i}\n,x","a ""quoted"" ${i}\nsecond line\n",${i}\n`),
  },
  { name: 'crlf.csv', format: 'csv', copyOptions: 'FORMAT csv', content: csvRows(80, (i) => `"n\r\n${i}",plain,${i}\r\n`) },
  { name: 'header.csv', format: 'csv', header: true, copyOptions: 'FORMAT csv, HEADER true', content: `"name","note\nwith newline","score"\n${csvRows(50, (i) => `h${i},x,${i}\n`)}` },
  { name: 'unicode.csv', format: 'csv', copyOptions: 'FORMAT csv', content: csvRows(100, (i) => `名前${i},"ünïcödé 🎉\n${'é'.repeat(i % 5)}",${i}\n`) },
  { name: 'nulls.csv', format: 'csv', copyOptions: 'FORMAT csv', content: csvRows(60, (i) => (i % 3 ? `n${i},,${i}\n` : `,"",\n`)) },
  { name: 'no-final-newline.csv', format: 'csv', copyOptions: 'FORMAT csv', content: csvRows(30, (i) => `n${i},"q\n${i}",${i}\n`) + 'last,"row",99' },
  { name: 'one-row.csv', format: 'csv', copyOptions: 'FORMAT csv', content: 'only,"one\nrow",1\n' },
  {
    name: 'escapes.txt',
    format: 'text',
    copyOptions: 'FORMAT text',
    // Backslash escapes: \t and \n in data, an escaped literal LF (backslash + newline), \\ before a record end, \N nulls.
    content: csvRows(90, (i) => `t${i}\\tx\tline\\nbreak\\\nliteral ${i}\\\\\t${i % 2 ? '\\N' : String(i)}\n`),
  },
];

const runs = [
  { workers: 1, chunkBytes: undefined },
  { workers: 2, chunkBytes: 1 },
  { workers: 3, chunkBytes: 7 },
  { workers: 2, chunkBytes: 64 },
];

describe.each(fixtures)('$name', (fixture) => {
  const file = write(fixture.name, fixture.content);

  it.each(runs)('workers $workers, chunk $chunkBytes bytes: same table as one COPY', async ({ workers, chunkBytes }) => {
    const { client } = db;
    await client.query('DROP TABLE IF EXISTS target, twin');
    await client.query(`CREATE TABLE target ${TABLE}`);
    await client.query(`CREATE TABLE twin ${TABLE}`);
    const expectedRows = await plainCopy(client, `COPY twin (${COLUMNS.join(', ')}) FROM STDIN (${fixture.copyOptions})`, file);

    const report = await load({ file, table: 'target', db: db.url, columns: COLUMNS, format: fixture.format, header: fixture.header, workers, chunkBytes });

    expect(report.rows).toBe(expectedRows);
    const columns = ['name', 'note', 'score', 'created'];
    expect(await tableFingerprint(client, 'target', columns)).toEqual(await tableFingerprint(client, 'twin', columns));
    // Serial ids: drawn from the target's own sequence, 1..n as one COPY would give them.
    const ids = await client.query('SELECT count(DISTINCT id)::int AS n, coalesce(min(id), 0) AS lo, coalesce(max(id), 0) AS hi FROM target');
    expect(ids.rows[0]).toEqual({ n: expectedRows, lo: expectedRows ? 1 : 0, hi: expectedRows });
  });
});

describe('empty input', () => {
  it.each([
    { name: 'empty.csv', content: '', header: false },
    { name: 'header-only.csv', content: 'name,note,score\n', header: true },
  ])('$name loads nothing, leaves the target as it was, and says so', async ({ name, content, header }) => {
    const { client } = db;
    await client.query('DROP TABLE IF EXISTS target');
    await client.query(`CREATE TABLE target ${TABLE}`);
    await client.query(`INSERT INTO target (name) VALUES ('kept')`);
    const report = await load({ file: write(name, content), table: 'target', db: db.url, columns: COLUMNS, header, workers: 2 });
    expect(report.rows).toBe(0);
    expect(report.warnings.join('\n')).toMatch(/holds no rows/);
    const { rows } = await client.query('SELECT name FROM target');
    expect(rows).toEqual([{ name: 'kept' }]);
  });
});
