/**
 * The publish and the other sessions: a swap waits for readers in short attempts that never hold them
 * up for more than a moment, says who it waits for, and gives up at --lock-wait keeping the stage for
 * --resume; view readers never deadlock with it; Ctrl-C in the index phase or at the publish cancels
 * the server-side work at once; a lost main session ends the load within seconds.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { runCli, startCli } from '../support/cli.ts';
import { dropPloaderTables, ploaderRelations, tableFingerprint, useTestDatabase } from '../support/database.ts';
import { plainCopy, useTempDir } from '../support/fixtures.ts';

const db = useTestDatabase();
const write = useTempDir();
const COLUMNS = ['username', 'link', 'score'];
const file = write('votes.csv', Array.from({ length: 4_000 }, (_, i) => `user_${i % 97},link ${i},${i % 5}\n`).join(''));
const args = (...more: string[]) => ['--db', db.url, '--table', 'votes', '--columns', COLUMNS.join(','), '--workers', '2', '--chunk-size', '16kB', ...more, file];

async function freshTarget(extra = ''): Promise<void> {
  await dropPloaderTables(db.client);
  await db.client.query(`
    DROP VIEW IF EXISTS votes_view;
    DROP TABLE IF EXISTS votes, twin;
    CREATE TABLE votes (voteid serial PRIMARY KEY, username text NOT NULL, link text NOT NULL, score int NOT NULL);
    CREATE INDEX votes_link_idx ON votes (link);
    CREATE TABLE twin (username text, link text, score int);
    ${extra}
  `);
  await plainCopy(db.client, 'COPY twin FROM STDIN (FORMAT csv)', file);
}

async function session(): Promise<pg.Client> {
  const client = new pg.Client(db.url);
  await client.connect();
  return client;
}

async function expectEqualsPlainCopy(): Promise<void> {
  expect(await tableFingerprint(db.client, 'votes', COLUMNS)).toEqual(await tableFingerprint(db.client, 'twin', COLUMNS));
}

async function expectEmptyTarget(): Promise<void> {
  expect((await db.client.query('SELECT count(*)::int AS n FROM votes')).rows[0].n).toBe(0);
}

describe('publish and readers', () => {
  it('a reader holding the table makes the publish wait visibly, other readers still run, and --lock-wait gives up keeping the stage', async () => {
    await freshTarget();
    const holder = await session();
    await holder.query('BEGIN');
    await holder.query('SELECT count(*) FROM votes');
    const { rows: [{ pid: holderPid }] } = await holder.query('SELECT pg_backend_pid() AS pid');
    const loading = startCli(args('--lock-wait', '4s'));
    await loading.waitForStderr(/waiting/);
    // Other readers meanwhile: none waits more than a moment behind the publish's attempts.
    const reader = await session();
    const waits: number[] = [];
    for (let i = 0; i < 15; i++) {
      const started = performance.now();
      await reader.query('SELECT count(*) FROM votes');
      waits.push(performance.now() - started);
      await new Promise((r) => setTimeout(r, 100));
    }
    const result = await loading.done;
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`waiting \\d+ s for "public"\\."votes", held by pid ${holderPid}`));
    expect(result.stderr).toMatch(/gave up waiting \d+ s for a ACCESS EXCLUSIVE lock .* — let those sessions finish, or raise --lock-wait; nothing was published, and the loaded stage is kept: ploader --resume publishes it later/);
    expect(Math.max(...waits)).toBeLessThan(1000);
    await reader.end();
    await holder.query('COMMIT');
    await holder.end();
    await expectEmptyTarget();
    expect((await ploaderRelations(db.client)).filter((n) => /^ploader_votes_[0-9a-f]{8}$/.test(n))).toHaveLength(1);
    const resumed = await runCli(args('--resume'));
    expect(resumed.code, resumed.stderr).toBe(0);
    await expectEqualsPlainCopy();
    expect(await ploaderRelations(db.client)).toEqual([]);
  });

  it('readers that go through a dependent view never deadlock with the swap', async () => {
    await freshTarget('CREATE VIEW votes_view AS SELECT username, score FROM votes');
    const reader = await session();
    let stop = false;
    const errors: string[] = [];
    let reads = 0;
    const reading = (async () => {
      while (!stop) {
        try {
          await reader.query('BEGIN');
          await reader.query('SELECT count(*) FROM votes_view');
          await reader.query('SELECT pg_sleep(0.02)');
          await reader.query('SELECT count(*) FROM votes');
          await reader.query('COMMIT');
          reads++;
        } catch (error) {
          errors.push((error as Error).message);
          await reader.query('ROLLBACK').catch(() => {});
        }
      }
    })();
    const result = await runCli(['--json', ...args()]);
    stop = true;
    await reading;
    await reader.end();
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).published).toBe('swap');
    expect(errors).toEqual([]);
    expect(reads).toBeGreaterThan(3);
    await expectEqualsPlainCopy();
    expect((await db.client.query('SELECT count(*)::int AS n FROM votes_view')).rows[0].n).toBe(4000);
  });
});

describe('cancelling', () => {
  it('Ctrl-C while the publish waits for its lock: nothing is published and nothing is left', async () => {
    await freshTarget();
    const holder = await session();
    await holder.query('BEGIN');
    await holder.query('SELECT count(*) FROM votes');
    const loading = startCli(args());
    await loading.waitForStderr(/waiting/);
    loading.child.kill('SIGINT');
    const result = await loading.done;
    await holder.query('COMMIT');
    await holder.end();
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/cancelled/);
    await expectEmptyTarget();
    expect(await ploaderRelations(db.client)).toEqual([]);
  });

  it('Ctrl-C in the index phase cancels the running CREATE INDEX at once', async () => {
    await freshTarget(`
      CREATE OR REPLACE FUNCTION slow_key(text) RETURNS text IMMUTABLE LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.003); RETURN $1; END $$;
      CREATE INDEX votes_slow_idx ON votes (slow_key(link));`);
    const loading = startCli(args());
    await loading.waitForStderr(/^indexes:/m);
    await new Promise((r) => setTimeout(r, 300));
    const signalled = performance.now();
    loading.child.kill('SIGINT');
    const result = await loading.done;
    const exitMs = performance.now() - signalled;
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/cancelled/);
    // The build alone takes 12 s; cancelled, the process is gone within a second or so.
    expect(exitMs).toBeLessThan(1500);
    const { rows } = await db.client.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'CREATE%INDEX%ploader%' AND pid <> pg_backend_pid()`);
    expect(rows[0].n).toBe(0);
    await expectEmptyTarget();
    expect(await ploaderRelations(db.client)).toEqual([]);
  });

  it("losing ploader's main session ends the load within seconds; --resume then finishes it", async () => {
    await freshTarget(`
      CREATE OR REPLACE FUNCTION slow_ok(int) RETURNS boolean LANGUAGE sql AS 'SELECT pg_sleep(0.002) IS NOT NULL';
      ALTER TABLE votes ADD CONSTRAINT slow CHECK (slow_ok(score));`);
    const loading = startCli(args());
    await loading.waitForStderr(/^load:/m);
    const { rows } = await db.client.query(`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'ploader main' AND datname = current_database()`);
    expect(rows).toEqual([{ ok: true }]);
    const terminated = performance.now();
    const result = await loading.done;
    expect(performance.now() - terminated).toBeLessThan(5000);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/ploader's main session to the server was lost .*: nothing was published — load again, or pass --resume/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    await expectEmptyTarget();
    await db.client.query(`DROP FUNCTION slow_ok(int) CASCADE`).catch(() => {});
    const resumed = await runCli(args('--resume'));
    expect(resumed.code, resumed.stderr).toBe(0);
    await expectEqualsPlainCopy();
    expect(await ploaderRelations(db.client)).toEqual([]);
  });

  describe('a main session whose backend stops answering (SIGSTOP)', () => {
    /** The main session's server process, stopped; only for a server on this machine that we may signal. */
    async function freezeMain(): Promise<number | undefined> {
      const { rows } = await db.client.query(`SELECT pid FROM pg_stat_activity WHERE application_name = 'ploader main' AND datname = current_database()`);
      try {
        process.kill(rows[0].pid, 'SIGSTOP');
        return rows[0].pid;
      } catch {
        return undefined;
      }
    }

    /** A slow load whose main backend is then stopped; undefined (and the load killed) where that is not possible. */
    async function startFrozenLoad(): Promise<{ loading: ReturnType<typeof startCli>; pid: number } | undefined> {
      await freshTarget(`
        CREATE OR REPLACE FUNCTION slow_ok(int) RETURNS boolean LANGUAGE sql AS 'SELECT pg_sleep(0.01) IS NOT NULL';
        ALTER TABLE votes ADD CONSTRAINT slow CHECK (slow_ok(score));`);
      const loading = startCli(args());
      await loading.waitForStderr(/^load:/m);
      const pid = await freezeMain();
      if (pid !== undefined) return { loading, pid };
      loading.child.kill('SIGKILL');
      await loading.done;
      return undefined;
    }

    it('is noticed by the heartbeat, and the load fails on its own', async (context) => {
      const frozenLoad = await startFrozenLoad();
      if (!frozenLoad) return context.skip();
      const { loading, pid } = frozenLoad;
      try {
        const frozen = performance.now();
        const result = await loading.done;
        expect(performance.now() - frozen).toBeLessThan(20_000);
        expect(result.code).toBe(1);
        expect(result.stderr).toMatch(/ploader's main session stopped answering \(no reply in 10 s\): nothing was published/);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      await expectEmptyTarget();
    }, 60_000);

    it('Ctrl-C still ends ploader within seconds', async (context) => {
      const frozenLoad = await startFrozenLoad();
      if (!frozenLoad) return context.skip();
      const { loading, pid } = frozenLoad;
      try {
        const signalled = performance.now();
        loading.child.kill('SIGINT');
        const result = await loading.done;
        expect(performance.now() - signalled).toBeLessThan(5000);
        expect(result.stderr).toMatch(/cancelled/);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      await expectEmptyTarget();
    });
  });
});
