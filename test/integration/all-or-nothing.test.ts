/**
 * A failed load leaves the target exactly as it was and no stage behind, and says where the bad row
 * is in the input file: physical line (quoted newlines counted), record, column, SQLSTATE.
 */
import { describe, expect, it } from 'vitest';
import { load } from '../../src/load.ts';
import { PloaderError } from '../../src/errors.ts';
import { runCli } from '../support/cli.ts';
import { tableFingerprint, useTestDatabase } from '../support/database.ts';
import { useTempDir } from '../support/fixtures.ts';

const db = useTestDatabase();
const write = useTempDir();
const COLUMNS = ['username', 'link', 'score'];
const ALL = ['voteid', 'username', 'link', 'score'];

async function freshTarget(): Promise<{ rows: number; checksum: string }> {
  await db.client.query(`
    DROP TABLE IF EXISTS votes;
    CREATE TABLE votes (voteid serial PRIMARY KEY, username text NOT NULL, link text NOT NULL, score int NOT NULL CHECK (score IN (-1, 1)));
    CREATE INDEX votes_link_idx ON votes (link);
    INSERT INTO votes (username, link, score) SELECT 'old' || g, 'l' || g, 1 FROM generate_series(1, 10) g;
  `);
  return tableFingerprint(db.client, 'votes', ALL);
}

async function expectUnchanged(before: { rows: number; checksum: string }): Promise<void> {
  expect(await tableFingerprint(db.client, 'votes', ALL)).toEqual(before);
  const { rows } = await db.client.query(
    `SELECT (SELECT count(*)::int FROM pg_class WHERE relname LIKE 'ploader%') AS leftovers,
            (SELECT relpersistence FROM pg_class WHERE relname = 'votes') AS persistence,
            (SELECT count(*)::int FROM pg_index WHERE indrelid = 'votes'::regclass) AS indexes`,
  );
  expect(rows[0]).toEqual({ leftovers: 0, persistence: 'p', indexes: 2 });
}

/** 400 records; every third holds a quoted newline, so physical lines run ahead of record numbers. */
function votesWithBadRecord(badRecord: number, badRow: string): { content: string; badLine: number } {
  let content = '';
  let line = 1;
  let badLine = 0;
  for (let record = 1; record <= 400; record++) {
    const row = record === badRecord ? badRow : record % 3 === 0 ? `u${record},"multi\nline ${record}",1\n` : `u${record},link ${record},-1\n`;
    if (record === badRecord) badLine = line;
    content += row;
    line += row.split('\n').length - 1;
  }
  return { content, badLine };
}

describe('a bad row in the middle chunk of many', () => {
  it.each([
    { kind: 'type error', badRow: 'bad,"x\ny",notanumber\n', sqlstate: '22P02', column: 'score' },
    { kind: 'CHECK violation', badRow: 'bad,"x\ny",7\n', sqlstate: '23514', column: undefined },
    { kind: 'NOT NULL violation', badRow: 'bad,,1\n', sqlstate: '23502', column: 'link' },
    { kind: 'missing column', badRow: 'bad,"x\ny"\n', sqlstate: '22P04', column: undefined },
  ])('$kind: target unchanged, no stage left, error at the physical line', async ({ badRow, sqlstate, column }) => {
    const before = await freshTarget();
    const badRecord = 251;
    const { content, badLine } = votesWithBadRecord(badRecord, badRow);
    const file = write('bad.csv', content);

    const failure = await load({ file, table: 'votes', db: db.url, columns: COLUMNS, workers: 3, chunkBytes: 700 }).catch((e: unknown) => e);

    expect(failure).toBeInstanceOf(PloaderError);
    const error = failure as PloaderError;
    expect(error.code).toBe('BAD_ROW');
    expect(error.server?.sqlstate).toBe(sqlstate);
    expect(error.position).toMatchObject({ file, line: badLine, record: badRecord });
    expect(error.position?.column).toBe(column);
    expect(error.message).toMatch(/fix the row/);
    if (sqlstate === '22P04') expect(error.message).toMatch(/missing data for column "score"/);
    await expectUnchanged(before);
  });

  it('names the bad row for the first record of a chunk that starts with quoted newlines', async () => {
    const before = await freshTarget();
    // Chunk size 1: every record is a chunk of its own, so the bad record is first in its COPY stream.
    const { content, badLine } = votesWithBadRecord(30, 'bad,"x\ny\nz",oops\n');
    const failure = (await load({ file: write('first.csv', content), table: 'votes', db: db.url, columns: COLUMNS, workers: 2, chunkBytes: 1 }).catch((e: unknown) => e)) as PloaderError;
    expect(failure.position).toMatchObject({ line: badLine, record: 30, column: 'score' });
    await expectUnchanged(before);
  });
});

describe('interruptions', () => {
  // 400k rows, ~10 MB: long enough to interrupt.
  const big = Array.from({ length: 400_000 }, (_, i) => `user_${i % 997},"link ${i}",${i % 2 ? 1 : -1}\n`).join('');

  it('pg_terminate_backend of one worker mid-COPY aborts cleanly, target unchanged', async () => {
    const before = await freshTarget();
    // A CHECK that sleeps makes every COPY slow enough to be caught in the middle, every time.
    await db.client.query(`CREATE FUNCTION slow_ok(int) RETURNS boolean LANGUAGE sql AS 'SELECT pg_sleep(0.0005) IS NOT NULL'`);
    await db.client.query('ALTER TABLE votes ADD CONSTRAINT votes_slow CHECK (slow_ok(score))');
    const file = write('slow.csv', big.slice(0, big.indexOf('\n', 100_000) + 1));
    let terminated = 0;
    const killer = (async () => {
      for (let i = 0; i < 500 && terminated === 0; i++) {
        const { rows } = await db.client.query(
          `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'ploader copy %' AND state = 'active' AND query LIKE 'COPY%' LIMIT 1`,
        );
        terminated = rows.length;
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const failure = await load({ file, table: 'votes', db: db.url, columns: COLUMNS, workers: 2, chunkBytes: 16 * 1024 }).catch((e: unknown) => e);
    await killer;
    await db.client.query('ALTER TABLE votes DROP CONSTRAINT votes_slow');
    expect(terminated).toBe(1);
    expect(failure).toBeInstanceOf(PloaderError);
    await expectUnchanged(before);
  });

  it('SIGINT to the CLI mid-load exits non-zero and leaves nothing behind', async () => {
    const before = await freshTarget();
    const file = write('big-sigint.csv', big);
    let sent = false;
    const result = await runCli(['--db', db.url, '--table', 'votes', '--columns', COLUMNS.join(','), '--workers', '2', '--chunk-size', '256kB', file], {
      onStderr: (text, kill) => {
        if (!sent && /^load:/m.test(text)) {
          sent = true;
          setTimeout(() => kill('SIGINT'), 150);
        }
      },
    });
    expect(sent).toBe(true);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/cancelled: nothing was loaded/);
    await expectUnchanged(before);
  });
});
