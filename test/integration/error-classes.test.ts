/**
 * Error classes (issue 11 item 5): what the user is told follows the SQLSTATE class. A row's fault
 * names file:line:column and says to fix the row or pass --max-errors; a terminated session (57), a
 * connection failure (08), a resource the server ran out of (53), a system error (58, XX) say what
 * happened and what to do, and never blame a row, with --max-errors or without. The server raises
 * each one for real in the middle of a COPY: a CHECK whose function raises the SQLSTATE at one record,
 * and pg_terminate_backend for 57P01.
 */
import { describe, expect, it } from 'vitest';
import { PloaderError } from '../../src/errors.ts';
import { load } from '../../src/load.ts';
import { runCli } from '../support/cli.ts';
import { useTestDatabase } from '../support/database.ts';
import { useTempDir } from '../support/fixtures.ts';

const db = useTestDatabase();
const write = useTempDir();
const COLUMNS = ['username', 'link', 'score'];
/** 12,000 records (past the probe's first 64 kB: the workers meet it); record 10,001 has the link 'boom'. */
const file = write('votes.csv', Array.from({ length: 12_000 }, (_, i) => `u${i},${i === 10_000 ? 'boom' : `link ${i}`},1\n`).join(''));
/** A score that is not a number: in the probe's first records, or past them. */
const badRow = (at: number) => write(`bad-row-${at}.csv`, Array.from({ length: 12_000 }, (_, i) => `u${i},link ${i},${i === at - 1 ? 'x' : 1}\n`).join(''));

async function targetRaising(sqlstate: string, message: string): Promise<void> {
  await db.client.query(`
    DROP TABLE IF EXISTS votes;
    CREATE OR REPLACE FUNCTION raise_at(link text) RETURNS boolean LANGUAGE plpgsql AS $$
      BEGIN IF link = 'boom' THEN RAISE EXCEPTION '${message}' USING ERRCODE = '${sqlstate}'; END IF; RETURN true; END $$;
    CREATE TABLE votes (voteid serial PRIMARY KEY, username text NOT NULL, link text NOT NULL CHECK (raise_at(link)), score int NOT NULL);
  `);
}

async function failure(maxErrors = 0, input = file): Promise<PloaderError> {
  const error = await load({ file: input, table: 'votes', db: db.url, columns: COLUMNS, workers: 2, chunkBytes: 8192, maxErrors }).catch((e: unknown) => e);
  if (!(error instanceof PloaderError)) throw error;
  return error;
}

describe('error classes', () => {
  it.each([
    { sqlstate: '53100', message: 'could not extend file: No space left on device', code: 'SERVER_RESOURCES', says: /^the server ran out of resources: could not extend file: No space left on device \(SQLSTATE 53100\); the target is unchanged — free disk space on the server/ },
    { sqlstate: '53200', message: 'out of shared memory', code: 'SERVER_RESOURCES', says: /^the server ran out of resources: out of shared memory \(SQLSTATE 53200\).* max_locks_per_transaction/ },
    { sqlstate: '58030', message: 'could not read block 7', code: 'SERVER_ERROR', says: /^the server reported a system error: could not read block 7 \(SQLSTATE 58030\); the target is unchanged — this is not a fault of the input: look at the server's log/ },
    { sqlstate: 'XX000', message: 'unexpected internal state', code: 'SERVER_ERROR', says: /^the server reported a system error: unexpected internal state \(SQLSTATE XX000\)/ },
    { sqlstate: '08006', message: 'connection failure', code: 'CONNECTION_LOST', says: /^the connection to the server failed during the load: connection failure \(SQLSTATE 08006\); the target is unchanged — check that the server is up, then run the same command again with --resume/ },
    { sqlstate: '40P01', message: 'deadlock detected', code: 'SERVER_ERROR', says: /^the server rolled a transaction of the load back: deadlock detected \(SQLSTATE 40P01\); the target is unchanged — load again/ },
  ])('$sqlstate raised at one record: $code, says what happened, never "fix the row", with or without --max-errors', async ({ sqlstate, message, code, says }) => {
    await targetRaising(sqlstate, message);
    for (const maxErrors of [0, Infinity]) {
      const error = await failure(maxErrors);
      expect(error.code).toBe(code);
      expect(error.message).toMatch(says);
      expect(error.message).not.toMatch(/fix the row/);
      expect(error.position).toBeUndefined();
    }
    const { rows } = await db.client.query(`SELECT (SELECT count(*)::int FROM votes) AS n, (SELECT count(*)::int FROM pg_class WHERE relname LIKE 'ploader%') AS left`);
    expect(rows[0]).toEqual({ n: 0, left: 0 });
  });

  it.each([1501, 10_501])('a row error (22P02) at record %i keeps file:line:column and says to fix the row or pass --max-errors', async (at) => {
    await targetRaising('53100', 'not raised: no record has the link boom');
    const input = badRow(at);
    const error = await failure(0, input);
    expect(error.code).toBe('BAD_ROW');
    expect(error.position).toEqual({ file: input, line: at, record: at, column: 'score' });
    expect(error.message).toMatch(new RegExp(`^record ${at}, column score: invalid input syntax for type integer: "x" \\(SQLSTATE 22P02\\) — fix the row, or pass --max-errors`));
  });

  it('57P01: a backend terminated mid-COPY is the server ending a session, not a row; the CLI prints no stack trace', async () => {
    await db.client.query(`CREATE OR REPLACE FUNCTION slow_ok(int) RETURNS boolean LANGUAGE sql AS 'SELECT pg_sleep(0.002) IS NOT NULL'`);
    await db.client.query(`DROP TABLE IF EXISTS votes; CREATE TABLE votes (voteid serial PRIMARY KEY, username text NOT NULL, link text NOT NULL, score int NOT NULL CHECK (slow_ok(score)))`);
    const clean = write('clean.csv', Array.from({ length: 3000 }, (_, i) => `u${i},link ${i},1\n`).join(''));
    let terminated = 0;
    const killer = (async () => {
      for (let i = 0; i < 1000 && terminated === 0; i++) {
        const { rows } = await db.client.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'ploader copy %' AND state = 'active' AND query LIKE 'COPY%' LIMIT 1`,
        );
        terminated = rows.length;
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const result = await runCli(['--db', db.url, '--table', 'votes', '--columns', COLUMNS.join(','), '--workers', '2', '--chunk-size', '8kB', clean]);
    await killer;
    expect(terminated).toBe(1);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^ploader: the server ended a session of the load: terminating connection due to administrator command \(SQLSTATE 57P01\).*; the target is unchanged — check that the server is up, then run the same command again with --resume/m);
    expect(result.stderr).not.toMatch(/fix the row|record \d+/);
    expect(result.stderr).not.toMatch(/ at .*\.(ts|js):\d+/);
  });
});
