/**
 * Who owns a run is its advisory lock, never a name or a timing window: real concurrent ploader
 * processes race each other (--resume against a starting load, --cleanup against a running one),
 * leftovers are found by what their ledger records after the target was swapped or re-created, and
 * --resume with nothing to resume loads nothing. Every test compares the target with one plain COPY.
 */
import { spawn } from 'node:child_process';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { CLI, runCli, startCli } from '../support/cli.ts';
import { dropPloaderTables, ploaderRelations, tableFingerprint, useTestDatabase } from '../support/database.ts';
import { plainCopy, useTempDir } from '../support/fixtures.ts';
import { tryLockRun } from '../../src/copy/run-identity.ts';
import { claimRun, dropRun, findLeftoverRuns } from '../../src/stage/run-ledger.ts';

const db = useTestDatabase();
const write = useTempDir();
const COLUMNS = ['username', 'link', 'score'];
const ROWS = 6_000;
const file = write('votes.csv', Array.from({ length: ROWS }, (_, i) => `user_${i % 101},"link ${i}\n(${i})",${i % 2 ? 1 : -1}\n`).join(''));
/** One worker and small chunks: a load of a second or two with gaps between its chunks. */
const args = (table: string, ...more: string[]) => ['--db', db.url, '--table', table, '--columns', COLUMNS.join(','), '--workers', '1', '--chunk-size', '8kB', ...more, file];

async function freshTarget(table = 'votes'): Promise<void> {
  await dropPloaderTables(db.client);
  await db.client.query(`
    DROP TABLE IF EXISTS ${table}, twin;
    CREATE OR REPLACE FUNCTION slow_ok(int) RETURNS boolean LANGUAGE sql AS 'SELECT pg_sleep(0.0002) IS NOT NULL';
    CREATE TABLE ${table} (username text NOT NULL, link text NOT NULL, score int NOT NULL CHECK (slow_ok(score)));
    CREATE INDEX ON ${table} (link);
    CREATE TABLE twin (username text, link text, score int);
  `);
  await plainCopy(db.client, 'COPY twin FROM STDIN (FORMAT csv)', file);
}

async function expectEqualsPlainCopy(table = 'votes'): Promise<void> {
  expect(await tableFingerprint(db.client, table, COLUMNS)).toEqual(await tableFingerprint(db.client, 'twin', COLUMNS));
}

async function stagedChunks(): Promise<number> {
  const { rows } = await db.client.query(`SELECT relname FROM pg_class WHERE relname LIKE 'ploader\\_%\\_chunks'`);
  if (rows.length === 0) return 0;
  return (await db.client.query(`SELECT count(rows)::int AS n FROM "${rows[0].relname}"`)).rows[0].n;
}

/** Starts a load, kill -9s it once `chunks` chunks are committed, and waits until its sessions are gone. */
async function killMidLoad(table: string, chunks: number): Promise<void> {
  const child = spawn(process.execPath, [CLI, ...args(table)], { stdio: 'ignore' });
  for (let i = 0; i < 600 && (await stagedChunks()) < chunks; i++) await new Promise((r) => setTimeout(r, 25));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  for (let i = 0; i < 200; i++) {
    // This database's advisory locks only: loads of other test files, in their own databases, hold theirs.
    const { rows } = await db.client.query(
      `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND pid <> pg_backend_pid() AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    if (rows[0].n === 0) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('the killed run still holds its lock');
}

describe('run identity', () => {
  it.each([0, 60, 150, 300, 500])('--resume started %i ms after a normal load of the same file never takes it over', async (delayMs) => {
    await freshTarget();
    const loading = startCli(args('votes'));
    await new Promise((r) => setTimeout(r, delayMs));
    const resuming = await runCli(args('votes', '--resume'));
    const loaded = await loading.done;
    expect(loaded.code, loaded.stderr).toBe(0);
    // The resume either saw the running load (its lock is held) or found nothing yet: it loads nothing either way.
    expect(resuming.code).toBe(1);
    expect(resuming.stderr).toMatch(/another ploader is loading into this table right now|no interrupted load of "public"\."votes" was found/);
    await expectEqualsPlainCopy();
    expect(await ploaderRelations(db.client)).toEqual([]);
  });

  it('--cleanup run again and again during a load never touches it', async () => {
    await freshTarget();
    const loading = startCli(args('votes'));
    let exited = false;
    void loading.done.then(() => (exited = true));
    const outputs: string[] = [];
    while (!exited) outputs.push((await runCli(['--db', db.url, '--table', 'votes', '--cleanup'])).stdout);
    const loaded = await loading.done;
    expect(loaded.code, loaded.stderr).toBe(0);
    expect(outputs.length).toBeGreaterThan(1);
    expect(outputs.filter((o) => /dropped/.test(o))).toEqual([]);
    expect(outputs.some((o) => /left "public"\."ploader_votes_[0-9a-f]{8}" alone: a ploader is still loading into it/.test(o))).toBe(true);
    await expectEqualsPlainCopy();
    expect(await ploaderRelations(db.client)).toEqual([]);
  });

  it('a run finished between reading its ledger and taking its lock is not claimed, and its lock is left free', async () => {
    // The window the repeated --cleanup above hits now and then: the ledger is read, then its run
    // publishes (ledger gone, lock released) before the lock is tried. Here another session removes it.
    await freshTarget();
    await killMidLoad('votes', 2);
    const { rows: [{ oid }] } = await db.client.query(`SELECT 'votes'::regclass::oid AS oid`);
    const [run] = await findLeftoverRuns(db.client, { oid, schema: 'public', name: 'votes' });
    expect(run.active).toBe(false);
    await dropRun(db.client, run);
    expect(await claimRun(db.client, run)).toBe('gone');
    // 'gone' leaves the lock free: a fresh session takes it at once.
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      expect(await tryLockRun(other, run.runId)).toBe(true);
    } finally {
      await other.end();
    }
    expect(await ploaderRelations(db.client)).toEqual([]);
  });

  it('--cleanup matches the stages its ledgers record, not table names that look like one', async () => {
    await freshTarget();
    // A user table whose name and comment look like ploader's: not a run of ours.
    await db.client.query(`CREATE TABLE "ploader_votes_0badc0de" (x int); COMMENT ON TABLE "ploader_votes_0badc0de" IS 'ploader stage run 0badc0de for "public"."votes" (oid 1)'`);
    const result = await runCli(['--db', db.url, '--table', 'votes', '--cleanup']);
    expect(result.stdout).toMatch(/nothing to clean up/);
    expect(await ploaderRelations(db.client)).toEqual(['ploader_votes_0badc0de']);
    await db.client.query('DROP TABLE "ploader_votes_0badc0de"');
  });

  it('an interrupted load is still found after the target was swapped by a later load', async () => {
    await freshTarget();
    await killMidLoad('votes', 2);
    const [stage] = (await ploaderRelations(db.client)).filter((n) => /^ploader_votes_[0-9a-f]{8}$/.test(n));
    const { rows: [{ oid: before }] } = await db.client.query(`SELECT 'votes'::regclass::oid AS oid`);
    const full = await runCli(['--json', ...args('votes')]);
    expect(full.code, full.stderr).toBe(0);
    const report = JSON.parse(full.stdout);
    expect(report.published).toBe('swap');
    expect(report.warnings.join('\n')).toMatch(/an interrupted load \(run [0-9a-f]{8} of .*votes\.csv, started .*\) left "public"\."ploader_votes_[0-9a-f]{8}" behind/);
    const { rows: [{ oid: after }] } = await db.client.query(`SELECT 'votes'::regclass::oid AS oid`);
    expect(after).not.toBe(before);
    await expectEqualsPlainCopy();
    const cleaned = await runCli(['--db', db.url, '--table', 'votes', '--cleanup']);
    expect(cleaned.stdout).toContain(`dropped "public"."${stage}"`);
    expect(await ploaderRelations(db.client)).toEqual([]);
  });

  it('an interrupted load is resumed into a target that was dropped and created again', async () => {
    await freshTarget('votes2');
    await killMidLoad('votes2', 2);
    const fingerprintBefore = await tableFingerprint(db.client, 'votes2', COLUMNS);
    expect(fingerprintBefore.rows).toBe(0);
    await db.client.query('DROP TABLE votes2; CREATE TABLE votes2 (username text NOT NULL, link text NOT NULL, score int NOT NULL CHECK (slow_ok(score))); CREATE INDEX ON votes2 (link)');
    const resumed = await runCli(args('votes2', '--resume'));
    expect(resumed.code, resumed.stderr).toBe(0);
    await expectEqualsPlainCopy('votes2');
    expect(await ploaderRelations(db.client)).toEqual([]);
  });

  it('--resume with nothing to resume fails and loads nothing', async () => {
    await freshTarget();
    await db.client.query(`INSERT INTO votes VALUES ('kept', 'row', 1)`);
    const before = await tableFingerprint(db.client, 'votes', COLUMNS);
    const result = await runCli(args('votes', '--resume'));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/--resume: no interrupted load of "public"\."votes" was found .* so nothing was loaded — load without --resume to start afresh/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(await tableFingerprint(db.client, 'votes', COLUMNS)).toEqual(before);
    expect(await ploaderRelations(db.client)).toEqual([]);
  });

  it('an interrupted append resumed with --truncate replaces the target with a LOGGED table', async () => {
    await freshTarget();
    await db.client.query(`INSERT INTO votes VALUES ('old', 'row', 1)`);
    await killMidLoad('votes', 2);
    const { rows: [stage] } = await db.client.query(`SELECT relpersistence FROM pg_class WHERE relname ~ '^ploader_votes_[0-9a-f]{8}$'`);
    expect(stage.relpersistence).toBe('u');
    const resumed = await runCli(['--json', ...args('votes', '--resume', '--truncate')]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const report = JSON.parse(resumed.stdout);
    expect(report.published).toBe('swap');
    expect(report.strategy.setLoggedBeforeIndexes).toBe(true);
    const { rows: [target] } = await db.client.query(`SELECT relpersistence FROM pg_class WHERE oid = 'votes'::regclass`);
    expect(target.relpersistence).toBe('p');
    await expectEqualsPlainCopy();
    expect(await ploaderRelations(db.client)).toEqual([]);
  });

  it('two ploaders loading into one empty table at once: both publish, and it holds the rows of both, as two COPYs leave it', async () => {
    await freshTarget();
    await plainCopy(db.client, 'COPY twin FROM STDIN (FORMAT csv)', file);
    const twoArgs = (...more: string[]) => ['--db', db.url, '--table', 'votes', '--columns', COLUMNS.join(','), '--workers', '1', '--chunk-size', '64kB', ...more, file];
    const [first, second] = await Promise.all([runCli(['--json', ...twoArgs()]), runCli(['--json', ...twoArgs()])]);
    expect(first.code, first.stderr).toBe(0);
    expect(second.code, second.stderr).toBe(0);
    const methods = [JSON.parse(first.stdout).published, JSON.parse(second.stdout).published].sort();
    expect(methods).toContain('insert');
    await expectEqualsPlainCopy();
    expect(await ploaderRelations(db.client)).toEqual([]);
  });

  it('two ploaders replacing one table at once: one publishes, the other steps back keeping its stage for --resume', async () => {
    await freshTarget();
    await db.client.query(`INSERT INTO votes VALUES ('old', 'row', 1)`);
    const twoArgs = (...more: string[]) => ['--db', db.url, '--table', 'votes', '--columns', COLUMNS.join(','), '--workers', '1', '--chunk-size', '64kB', '--truncate', ...more, file];
    const results = await Promise.all([runCli(twoArgs()), runCli(twoArgs())]);
    const codes = results.map((r) => r.code).sort();
    expect(codes).toEqual([0, 1]);
    const failed = results.find((r) => r.code === 1)!;
    expect(failed.stderr).toMatch(/another ploader \(run [0-9a-f]{8}\) is replacing this table at the same time.* the loaded stage is kept — ploader --resume publishes it once that run is done/);
    await expectEqualsPlainCopy();
    const resumed = await runCli(twoArgs('--resume'));
    expect(resumed.code, resumed.stderr).toBe(0);
    await expectEqualsPlainCopy();
    expect(await ploaderRelations(db.client)).toEqual([]);
  });
});
