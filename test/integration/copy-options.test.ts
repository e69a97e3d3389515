/**
 * COPY option parity: with each option, ploader's table equals what one plain COPY with that option
 * gives (split into many small chunks, so the option has to survive every cut).
 */
import { describe, expect, it } from 'vitest';
import { load } from '../../src/load.ts';
import type { LoadOptions } from '../../src/options.ts';
import { tableFingerprint, useTestDatabase } from '../support/database.ts';
import { plainCopy, useTempDir } from '../support/fixtures.ts';

const db = useTestDatabase();
const write = useTempDir();
const TABLE = `(id serial PRIMARY KEY, a text, b text DEFAULT 'dflt', n int)`;
const COLUMNS = ['a', 'b', 'n'];
const rows = (count: number, make: (i: number) => string) => Array.from({ length: count }, (_, i) => make(i)).join('');

const cases: Array<{ name: string; content: string | Buffer; options: Partial<LoadOptions>; copy: string }> = [
  { name: 'DELIMITER ; (csv)', content: rows(120, (i) => `x${i};"semi;colon\n${i}";${i}\n`), options: { format: 'csv', delimiter: ';' }, copy: `FORMAT csv, DELIMITER ';'` },
  { name: 'DELIMITER | (text)', content: rows(120, (i) => `x${i}|pipe\\|${i}|${i}\n`), options: { format: 'text', delimiter: '|' }, copy: `FORMAT text, DELIMITER '|'` },
  { name: 'NULL NULL (text)', content: rows(120, (i) => `x${i}\t${i % 3 ? 'NULL' : 'v'}\t${i % 4 ? i : 'NULL'}\n`), options: { format: 'text', null: 'NULL' }, copy: `FORMAT text, NULL 'NULL'` },
  { name: 'NULL \\N (csv)', content: rows(120, (i) => `x${i},${i % 3 ? '\\N' : '"\\N"'},${i}\n`), options: { format: 'csv', null: '\\N' }, copy: `FORMAT csv, NULL '\\N'` },
  { name: "QUOTE ' (csv)", content: rows(120, (i) => `'x,${i}','it''s\n${i}',${i}\n`), options: { format: 'csv', quote: "'" }, copy: `FORMAT csv, QUOTE ''''` },
  { name: 'ESCAPE \\ (csv)', content: rows(120, (i) => `"x\\"${i}","back\\\\slash\n\\"q\\"",${i}\n`), options: { format: 'csv', escape: '\\' }, copy: `FORMAT csv, ESCAPE '\\'` },
  { name: 'FORCE_NULL (csv)', content: rows(120, (i) => `x${i},"",${i}\n`), options: { format: 'csv', forceNull: ['b'] }, copy: 'FORMAT csv, FORCE_NULL (b)' },
  { name: 'FORCE_NOT_NULL (csv)', content: rows(120, (i) => `x${i},,${i}\n`), options: { format: 'csv', forceNotNull: ['b'] }, copy: 'FORMAT csv, FORCE_NOT_NULL (b)' },
  { name: 'ENCODING LATIN1', content: Buffer.from(rows(120, (i) => `caf\u00e9${i},"na\u00efve\n\u00e0",${i}\n`), 'latin1'), options: { format: 'csv', encoding: 'LATIN1' }, copy: `FORMAT csv, ENCODING 'LATIN1'` },
  { name: 'DEFAULT \\D (PostgreSQL 16+)', content: rows(120, (i) => `x${i},${i % 2 ? '\\D' : 'given'},${i}\n`), options: { format: 'csv', default: '\\D' }, copy: `FORMAT csv, DEFAULT '\\D'` },
  { name: 'HEADER (csv)', content: `a,"b\nstill header",n\n${rows(120, (i) => `x${i},y,${i}\n`)}`, options: { format: 'csv', header: true }, copy: 'FORMAT csv, HEADER true' },
];

describe.each(cases)('$name', ({ name, content, options, copy }) => {
  it('gives the same table as one plain COPY with the same option', async (context) => {
    const { rows: [server] } = await db.client.query("SELECT current_setting('server_version_num')::int AS version");
    if (options.default !== undefined && server.version < 160000) context.skip(); // COPY DEFAULT is PostgreSQL 16+
    const file = write(`${name.replace(/\W+/g, '_')}.dat`, content);
    await db.client.query(`DROP TABLE IF EXISTS target, twin; CREATE TABLE target ${TABLE}; CREATE TABLE twin ${TABLE}`);
    const expected = await plainCopy(db.client, `COPY twin (${COLUMNS.join(', ')}) FROM STDIN (${copy})`, file);
    const report = await load({ file, table: 'target', db: db.url, columns: COLUMNS, workers: 2, chunkBytes: 97, ...options });
    expect(report.rows).toBe(expected);
    expect(expected).toBe(120);
    expect(await tableFingerprint(db.client, 'target', COLUMNS)).toEqual(await tableFingerprint(db.client, 'twin', COLUMNS));
  });
});
