/**
 * FORMAT binary end to end: a file written by the server's own COPY ... TO (FORMAT binary), loaded
 * by ploader in parallel chunks, equals one plain binary COPY of it; a bad tuple is named by number.
 */
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { to as copyTo } from 'pg-copy-streams';
import { describe, expect, it } from 'vitest';
import { PloaderError } from '../../src/errors.ts';
import { load } from '../../src/load.ts';
import { tableFingerprint, useTestDatabase } from '../support/database.ts';
import { plainCopy, useTempDir } from '../support/fixtures.ts';

const db = useTestDatabase();
const write = useTempDir();
const TABLE = '(id serial PRIMARY KEY, n int, label text, amount numeric, at timestamptz, raw bytea, flag boolean)';
const COLUMNS = ['n', 'label', 'amount', 'at', 'raw', 'flag'];

async function binaryOf(query: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  await pipeline(db.client.query(copyTo(`COPY (${query}) TO STDOUT (FORMAT binary)`)), new Writable({ write(chunk, _e, done) { parts.push(chunk); done(); } }));
  return Buffer.concat(parts);
}

const SOURCE = `SELECT g AS n, CASE WHEN g % 7 = 0 THEN NULL ELSE 'label ' || g || E'\\n"quoted", ünï' END AS label,
  (g * 1.25)::numeric AS amount, timestamptz '2024-01-01' + g * interval '1 minute' AS at,
  decode(lpad(to_hex(g), 8, '0') || 'ffff', 'hex') AS raw, g % 2 = 0 AS flag FROM generate_series(1, 3000) g`;

describe('FORMAT binary', () => {
  it.each([
    { workers: 1, chunkBytes: undefined },
    { workers: 2, chunkBytes: 4096 },
    { workers: 3, chunkBytes: 700 },
  ])('workers $workers, chunk $chunkBytes: equals one plain binary COPY', async ({ workers, chunkBytes }) => {
    const file = write('data.bin', await binaryOf(SOURCE));
    await db.client.query(`DROP TABLE IF EXISTS target, twin; CREATE TABLE target ${TABLE}; CREATE TABLE twin ${TABLE}`);
    const expected = await plainCopy(db.client, `COPY twin (${COLUMNS.join(', ')}) FROM STDIN (FORMAT binary)`, file);
    const report = await load({ file, table: 'target', db: db.url, columns: COLUMNS, workers, chunkBytes });
    expect(report.rows).toBe(expected);
    expect(report.rows).toBe(3000);
    expect(await tableFingerprint(db.client, 'target', COLUMNS)).toEqual(await tableFingerprint(db.client, 'twin', COLUMNS));
  });

  it('a tuple the table refuses fails the load and is named by its number', async () => {
    // One NULL label, in tuple 2000 of 3000: whichever chunk fails, it is that one.
    const file = write('bad.bin', await binaryOf(SOURCE.replace('WHEN g % 7 = 0', 'WHEN g = 2000')));
    await db.client.query(`DROP TABLE IF EXISTS target; CREATE TABLE target ${TABLE.replace('label text', 'label text NOT NULL')}`);
    const failure = (await load({ file, table: 'target', db: db.url, columns: COLUMNS, workers: 2, chunkBytes: 8192 }).catch((e: unknown) => e)) as PloaderError;
    expect(failure).toBeInstanceOf(PloaderError);
    expect(failure.position).toMatchObject({ file, record: 2000, column: 'label' });
    expect(failure.message).toMatch(/^tuple 2000, column label: null value in column "label"/);
    const { rows } = await db.client.query(`SELECT (SELECT count(*)::int FROM target) AS n, (SELECT count(*)::int FROM pg_class WHERE relname LIKE 'ploader%') AS stages`);
    expect(rows[0]).toEqual({ n: 0, stages: 0 });
  });

  it('rejects options that do not apply to binary, by name', async () => {
    await expect(load({ file: 'x.bin', table: 'target', delimiter: ',' })).rejects.toThrow(/options.delimiter does not apply to format "binary"/);
    await expect(load({ file: 'x.bin', table: 'target', maxErrors: 5 })).rejects.toThrow(/maxErrors is not supported with format "binary"/);
  });
});
