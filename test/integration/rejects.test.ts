/**
 * --max-errors: every good row loads exactly once, every bad row goes to the reject file as its
 * original bytes, and the log names its physical line, record, column and reason.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { copyFromBuffer } from '../../src/copy/copy-stream.ts';
import { PloaderError } from '../../src/errors.ts';
import { load } from '../../src/load.ts';
import { runCli } from '../support/cli.ts';
import { tableFingerprint, useTestDatabase } from '../support/database.ts';
import { useTempDir } from '../support/fixtures.ts';

const db = useTestDatabase();
const write = useTempDir();
const COLUMNS = ['username', 'link', 'score'];

interface Fixture {
  content: string;
  good: string[];
  bad: Array<{ bytes: string; line: number; record: number; sqlstate: string; column: string | null }>;
}

/**
 * 600 records with quoted newlines every fourth record, and bad rows of every kind placed at chunk
 * starts, in the middle, back to back, and as the very last record (without a final newline).
 */
function fixture(): Fixture {
  const badAt = new Map<number, { row: string; sqlstate: string; column: string | null }>([
    [1, { row: 'u1,"bad\nfirst",x\n', sqlstate: '22P02', column: 'score' }],
    [77, { row: 'u77,"check",5\n', sqlstate: '23514', column: null }],
    [78, { row: 'u78,,1\n', sqlstate: '23502', column: 'link' }],
    [300, { row: 'u300,"too","many",1\n', sqlstate: '22P04', column: null }],
    // "missing data for column" names the column in the message only, not in the error's fields.
    [301, { row: 'u301,"few"\n', sqlstate: '22P04', column: null }],
    [450, { row: 'u450,"\u00e9t\u00e9\nbad",1.5\n', sqlstate: '22P02', column: 'score' }],
    [600, { row: 'u600,last,nope', sqlstate: '22P02', column: 'score' }],
  ]);
  const result: Fixture = { content: '', good: [], bad: [] };
  let line = 1;
  for (let record = 1; record <= 600; record++) {
    const bad = badAt.get(record);
    const row = bad ? bad.row : record % 4 === 0 ? `u${record},"multi\nline ${record}",1\n` : `u${record},link ${record},-1\n`;
    if (bad) result.bad.push({ bytes: row, line, record, sqlstate: bad.sqlstate, column: bad.column });
    else result.good.push(row);
    result.content += row;
    line += row.split('\n').length - 1;
  }
  return result;
}

async function freshTarget(): Promise<void> {
  await db.client.query(`
    DROP TABLE IF EXISTS votes, expected;
    CREATE TABLE votes (voteid serial PRIMARY KEY, username text NOT NULL, link text NOT NULL, score int NOT NULL CHECK (score IN (-1, 1)));
    CREATE TABLE expected (username text, link text, score int);
  `);
}

describe('--max-errors', () => {
  const data = fixture();
  const file = write('votes.csv', data.content);

  it.each([
    { workers: 1, chunkBytes: undefined },
    { workers: 3, chunkBytes: 900 },
    { workers: 2, chunkBytes: 1 },
  ])('workers $workers, chunk $chunkBytes: good rows exactly once, bad rows byte-identical in the reject file', async ({ workers, chunkBytes }) => {
    await freshTarget();
    const rejectFile = `${file}.${workers}.${chunkBytes}.rejects`;
    const report = await load({ file, table: 'votes', db: db.url, columns: COLUMNS, workers, chunkBytes, maxErrors: 10, rejectFile });

    expect(report.rows).toBe(data.good.length);
    expect(report.rejected).toBe(data.bad.length);
    expect(readFileSync(rejectFile, 'utf8')).toBe(data.bad.map((b) => b.bytes).join(''));
    const log = readFileSync(`${rejectFile}.log`, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log.map(({ line, record, sqlstate, column }) => ({ line, record, sqlstate, column }))).toEqual(
      data.bad.map(({ line, record, sqlstate, column }) => ({ line, record, sqlstate, column })),
    );
    // Each reason in the words one COPY of that row into the target gives (never the stage's name).
    const words: string[] = [];
    for (const bad of data.bad) words.push(await plainCopyError(bad.bytes));
    expect(log.map((entry) => entry.message)).toEqual(words);
    // The good rows, each exactly once: compare with a plain COPY of just the good rows.
    const parsed = data.good.map(parseRow);
    await db.client.query('INSERT INTO expected SELECT * FROM unnest($1::text[], $2::text[], $3::int[])', [0, 1, 2].map((i) => parsed.map((p) => p[i])));
    expect(await tableFingerprint(db.client, 'votes', COLUMNS)).toEqual(await tableFingerprint(db.client, 'expected', COLUMNS));
  });

  it('fails with nothing loaded when there are more bad rows than allowed, naming the first', async () => {
    await freshTarget();
    const failure = (await load({ file, table: 'votes', db: db.url, columns: COLUMNS, workers: 2, chunkBytes: 900, maxErrors: 3 }).catch((e: unknown) => e)) as PloaderError;
    expect(failure).toBeInstanceOf(PloaderError);
    expect(failure.code).toBe('TOO_MANY_BAD_ROWS');
    expect(failure.message).toMatch(/more than 3 bad rows/);
    const { rows } = await db.client.query(`SELECT (SELECT count(*)::int FROM votes) AS n, (SELECT count(*)::int FROM pg_class WHERE relname LIKE 'ploader%') AS stages`);
    expect(rows[0]).toEqual({ n: 0, stages: 0 });
  });

  it('CLI: --max-errors all loads the good rows and exits 3', async () => {
    await freshTarget();
    const result = await runCli(['--db', db.url, '--table', 'votes', '--columns', COLUMNS.join(','), '--workers', '2', '--max-errors', 'all', file]);
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(new RegExp(`^COPY ${data.good.length}$`, 'm'));
    expect(result.stdout).toMatch(/rejected\s+7 → .*votes\.csv\.rejects/);
    expect(readFileSync(`${file}.rejects`, 'utf8')).toBe(data.bad.map((b) => b.bytes).join(''));
  });
});

/** The message of one plain COPY of `row` into the target (rolled back). */
async function plainCopyError(row: string): Promise<string> {
  await db.client.query('BEGIN');
  try {
    await copyFromBuffer(db.client, `COPY votes (${COLUMNS.join(', ')}) FROM STDIN (FORMAT csv)`, Buffer.from(row));
    return 'loaded';
  } catch (error) {
    return (error as Error).message;
  } finally {
    await db.client.query('ROLLBACK');
  }
}

/** The fixture's good rows, parsed (they are simple: one optional quoted field with no quotes inside). */
function parseRow(row: string): [string, string, number] {
  const match = /^([^,]*),("([^"]*)"|[^,]*),(-?\d+)\n$/.exec(row)!;
  return [match[1], match[3] ?? match[2], Number(match[4])];
}
