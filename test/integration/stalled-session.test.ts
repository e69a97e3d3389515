/**
 * A chunk's server process that stops (SIGSTOP: what a hung disk or a frozen VM looks like to the
 * client) never fails its COPY: the load must notice, stop within --stall-timeout, leave the target as
 * it was and keep the committed chunks, and --resume must then finish with what one COPY gives.
 * Needs a server on this machine whose processes the test may signal; skipped elsewhere.
 */
import { describe, expect, it } from 'vitest';
import { runCli, startCli } from '../support/cli.ts';
import { dropPloaderTables, ploaderRelations, tableFingerprint, useTestDatabase } from '../support/database.ts';
import { plainCopy, useTempDir } from '../support/fixtures.ts';

const db = useTestDatabase();
const write = useTempDir();
const COLUMNS = ['username', 'link', 'score'];
const file = write('votes.csv', Array.from({ length: 3_000 }, (_, i) => `user_${i % 97},link ${i},${i % 5}\n`).join(''));
const args = (...more: string[]) => ['--db', db.url, '--table', 'votes', '--columns', COLUMNS.join(','), '--workers', '2', '--chunk-size', '8kB', ...more, file];

describe('a chunk session whose server process stops', () => {
  it('stops the load at --stall-timeout with the target unchanged and the stage kept, and --resume finishes it as one COPY would', async (context) => {
    await dropPloaderTables(db.client);
    await db.client.query(`
      DROP TABLE IF EXISTS votes, twin;
      CREATE OR REPLACE FUNCTION slow_ok(int) RETURNS boolean LANGUAGE sql AS 'SELECT pg_sleep(0.005) IS NOT NULL';
      CREATE TABLE votes (voteid serial PRIMARY KEY, username text NOT NULL, link text NOT NULL, score int NOT NULL CHECK (slow_ok(score)));
      CREATE TABLE twin (voteid serial, username text, link text, score int);
      INSERT INTO votes (username, link, score) VALUES ('before', 'kept', 1), ('before', 'kept too', 2);
      INSERT INTO twin (username, link, score) VALUES ('before', 'kept', 1), ('before', 'kept too', 2);`);
    await plainCopy(db.client, `COPY twin (${COLUMNS.join(', ')}) FROM STDIN (FORMAT csv)`, file);
    const withIds = ['voteid', ...COLUMNS];
    const before = await tableFingerprint(db.client, 'votes', withIds);

    const loading = startCli(args('--stall-timeout', '2s'));
    await loading.waitForStderr(/^load:/m);
    const pid = await stopAChunkSession();
    if (pid === undefined) {
      loading.child.kill('SIGKILL');
      await loading.done;
      return context.skip();
    }
    try {
      const stopped = performance.now();
      const result = await loading.done;
      expect(performance.now() - stopped).toBeLessThan(15_000);
      expect(result.code).toBe(1);
      // The stopped process is named; a session that waits behind a lock it holds may be named after it
      // (in the same poll both are past the timeout).
      expect(result.stderr).toMatch(/the server session copying chunk \d+ \(pid \d+, active.*\) made no progress for 2 s \(--stall-timeout\)(, nor did .*)?: the load was stopped and nothing was published/);
      expect(result.stderr).toMatch(new RegExp(`copying chunk \\d+ \\(pid ${pid}, active`));
      expect(result.stderr).not.toMatch(/\n\s+at /);
      expect(await tableFingerprint(db.client, 'votes', withIds)).toEqual(before);
      // The stage and its ledger, kept for --resume (the stopped session's temporary counters live as long as it does).
      const { rows: kept } = await db.client.query<{ relname: string }>(
        `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname LIKE 'ploader%' AND c.relkind = 'r' AND n.nspname = 'public' ORDER BY 1`,
      );
      expect(kept.map((r) => r.relname)).toEqual([expect.stringMatching(/^ploader_votes_[0-9a-f]{8}$/), expect.stringMatching(/^ploader_votes_[0-9a-f]{8}_chunks$/)]);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    // The stopped process finds its client gone and rolls its chunk back; the rest is copied again.
    await db.client.query(`CREATE OR REPLACE FUNCTION slow_ok(int) RETURNS boolean LANGUAGE sql AS 'SELECT true'`);
    const resumed = await runCli(args('--resume'));
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await tableFingerprint(db.client, 'votes', withIds)).toEqual(await tableFingerprint(db.client, 'twin', withIds));
    expect(await ploaderRelations(db.client)).toEqual([]);
  }, 60_000);
});

/** Stops the server process of a chunk session in the middle of its COPY; undefined where it may not be signalled. */
async function stopAChunkSession(): Promise<number | undefined> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const { rows } = await db.client.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name ~ ' copy \\d+ [0-9a-f]{8}$' AND state = 'active' AND query LIKE 'COPY %' LIMIT 1`,
    );
    if (rows.length > 0) {
      try {
        process.kill(rows[0].pid, 'SIGSTOP');
        return rows[0].pid;
      } catch {
        return undefined;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return undefined;
}
