/**
 * Streams: standard input and .gz files are cut into record-aligned batches as they are read, with
 * the same result, atomicity and reject guarantees as a file.
 */
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { PloaderError } from '../../src/errors.ts';
import { load } from '../../src/load.ts';
import { runCliWithStdin } from '../support/cli.ts';
import { tableFingerprint, useTestDatabase } from '../support/database.ts';
import { plainCopy, useTempDir } from '../support/fixtures.ts';

const db = useTestDatabase();
const write = useTempDir();
const COLUMNS = ['username', 'link', 'score'];
const csv = 'username,link,score\n' + Array.from({ length: 5000 }, (_, i) => `user_${i % 97},"link ${i}${i % 3 ? '' : '\nmore, "" text'}",${i % 2 ? 1 : -1}\n`).join('');
const plain = write('votes.csv', csv);

async function fresh(): Promise<void> {
  await db.client.query(`
    DROP TABLE IF EXISTS votes, twin;
    CREATE TABLE votes (voteid serial PRIMARY KEY, username text NOT NULL, link text NOT NULL, score int NOT NULL);
    CREATE TABLE twin (username text, link text, score int);
  `);
  await plainCopy(db.client, 'COPY twin FROM STDIN (FORMAT csv, HEADER true)', plain);
}

async function expectSameAsPlainCopy(): Promise<void> {
  expect(await tableFingerprint(db.client, 'votes', COLUMNS)).toEqual(await tableFingerprint(db.client, 'twin', COLUMNS));
  const { rows } = await db.client.query('SELECT count(*)::int AS n FROM votes');
  expect(rows[0].n).toBe(5000);
}

describe('streamed input', () => {
  it.each([{ chunk: '1kB' }, { chunk: '64kB' }])('standard input (-), batches of $chunk: same table as one COPY', async ({ chunk }) => {
    await fresh();
    const result = await runCliWithStdin(['--db', db.url, '--table', 'votes', '--format', 'csv', '--header', '--columns', COLUMNS.join(','), '--workers', '2', '--chunk-size', chunk, '-'], csv);
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^COPY 5000$/m);
    await expectSameAsPlainCopy();
  });

  it('a .gz file is decompressed on the fly: same table as one COPY', async () => {
    await fresh();
    const file = write('votes.csv.gz', gzipSync(csv));
    const report = await load({ file, table: 'votes', db: db.url, header: true, columns: COLUMNS, workers: 2, chunkBytes: 3000 });
    expect(report.rows).toBe(5000);
    expect(report.strategy.publish).toBe('swap');
    expect(report.published).toBe('swap');
    await expectSameAsPlainCopy();
  });

  it('a bad row in a stream fails the load with its physical line, target unchanged', async () => {
    await fresh();
    const lines = csv.split('\n');
    const badLine = 4001; // physical line; quoted newlines before it make it differ from the record number
    lines[badLine - 1] = `${lines[badLine - 1].split(',')[0]},x,notanumber`;
    const file = write('bad.csv.gz', gzipSync(lines.join('\n')));
    const failure = (await load({ file, table: 'votes', db: db.url, header: true, columns: COLUMNS, workers: 2, chunkBytes: 2000 }).catch((e: unknown) => e)) as PloaderError;
    expect(failure).toBeInstanceOf(PloaderError);
    expect(failure.position).toMatchObject({ file, line: badLine });
    const { rows } = await db.client.query(`SELECT (SELECT count(*)::int FROM votes) AS n, (SELECT count(*)::int FROM pg_class WHERE relname LIKE 'ploader%') AS stages`);
    expect(rows[0]).toEqual({ n: 0, stages: 0 });
  });

  it('--max-errors on a stream: bad rows go to the reject file byte for byte', async () => {
    await fresh();
    const bad = ['broken,"row",x\n', 'also,"bad\nrow",9.5\n'];
    const input = csv + bad[0] + 'fine,row,1\n' + bad[1];
    const rejectFile = write('stdin.rejects', '');
    const result = await runCliWithStdin(['--db', db.url, '--table', 'votes', '--format', 'csv', '--header', '--columns', COLUMNS.join(','), '--chunk-size', '4kB', '--max-errors', '5', '--reject-file', rejectFile, '-'], input);
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/^COPY 5001$/m);
    expect(readFileSync(rejectFile, 'utf8')).toBe(bad.join(''));
  });

  it('an empty stream loads nothing and says so', async () => {
    await fresh();
    const result = await runCliWithStdin(['--db', db.url, '--table', 'votes', '--format', 'csv', '-'], '');
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/holds no rows/);
  });

  it('refuses what a stream cannot do, by name', async () => {
    await expect(load({ file: '-', table: 'votes', resume: true })).rejects.toThrow(/options.resume needs a file/);
    await expect(load({ file: '-' })).rejects.toThrow(/options.table is required when reading standard input/);
    await expect(load({ file: 'x.csv.gz', onConflict: 'skip' })).rejects.toThrow(/onConflict skip needs a file/);
  });
});
