/**
 * Interrupted loads: kill -9 leaves a recognisable stage and ledger; --resume continues from the
 * committed chunks without loading any twice; a stage emptied by a server crash means a clean
 * restart; --cleanup removes leftovers.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { killMidLoad as killMidLoadOf } from '../support/kill-mid-load.ts';
import { tableFingerprint, useTestDatabase } from '../support/database.ts';
import { plainCopy, useTempDir } from '../support/fixtures.ts';

const db = useTestDatabase();
const write = useTempDir();
const COLUMNS = ['username', 'link', 'score'];
const file = write('votes.csv', Array.from({ length: 8_000 }, (_, i) => `user_${i % 101},"link ${i}\n(${i})",${i % 2 ? 1 : -1}\n`).join(''));
const args = ['--db', db.url, '--table', 'votes', '--columns', COLUMNS.join(','), '--workers', '2', '--chunk-size', '16kB', file];

async function freshTarget(): Promise<void> {
  for (const name of await leftovers()) await db.client.query(`DROP TABLE IF EXISTS "${name}"`);
  await db.client.query(`
    DROP TABLE IF EXISTS votes, twin;
    CREATE OR REPLACE FUNCTION slow_ok(int) RETURNS boolean LANGUAGE sql AS 'SELECT pg_sleep(0.0002) IS NOT NULL';
    CREATE TABLE votes (voteid serial PRIMARY KEY, username text NOT NULL, link text NOT NULL, score int NOT NULL CHECK (slow_ok(score)));
    CREATE INDEX votes_link_idx ON votes (link);
    CREATE TABLE twin (username text, link text, score int);
  `);
  await plainCopy(db.client, 'COPY twin FROM STDIN (FORMAT csv)', file);
}

async function leftovers(): Promise<string[]> {
  const { rows } = await db.client.query(`SELECT relname FROM pg_class WHERE relname LIKE 'ploader%' AND relkind = 'r' ORDER BY 1`);
  return rows.map((r) => r.relname);
}

/** Starts the CLI, and kill -9s it once `doneChunks` chunks are committed in its ledger. */
function killMidLoad(doneChunks: number): Promise<number> {
  return killMidLoadOf(db.client, args, { table: 'votes', doneChunks });
}

async function expectEqualsPlainCopy(): Promise<void> {
  expect(await tableFingerprint(db.client, 'votes', COLUMNS)).toEqual(await tableFingerprint(db.client, 'twin', COLUMNS));
  expect(await leftovers()).toEqual([]);
}

describe('an interrupted load', () => {
  it('kill -9, then --resume: the table equals a plain COPY, no chunk loaded twice', async () => {
    await freshTarget();
    const done = await killMidLoad(3);
    expect(done).toBeGreaterThanOrEqual(3);
    expect(await leftovers()).toEqual([expect.stringMatching(/^ploader_votes_[0-9a-f]{8}$/), expect.stringMatching(/^ploader_votes_[0-9a-f]{8}_chunks$/)]);
    const { rows } = await db.client.query('SELECT count(*)::int AS n FROM votes');
    expect(rows[0].n).toBe(0);

    const resumed = await runCli(['--resume', ...args]);
    expect(resumed.stderr).not.toMatch(/loading from the start/);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(new RegExp(`load: \\d+ chunks \\(${done}|load: \\d+ chunks \\(\\d+ done before\\)`));
    expect(resumed.stdout).toMatch(/^COPY 8000$/m);
    await expectEqualsPlainCopy();
  });

  it('a stage emptied by a server crash: --resume starts over and says so', async () => {
    await freshTarget();
    await killMidLoad(2);
    const left = await leftovers();
    const [stage] = left;
    // What a crash does to an UNLOGGED table: its contents are reset, the logged ledger survives.
    await db.client.query(`TRUNCATE "${stage}"`);
    const resumed = await runCli(['--resume', ...args]);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(/lost its staged rows .* loading from the start/);
    await expectEqualsPlainCopy();
  });

  it('is reported by the next plain run, and --cleanup removes it', async () => {
    await freshTarget();
    await killMidLoad(1);
    const left = await leftovers();
    const [stage] = left;
    const dry = await runCli(['--dry-run', ...args]);
    expect(dry.stderr).toMatch(new RegExp(`interrupted load .* left "public"\\."${stage}" behind: ploader --resume continues it, ploader --cleanup removes it`));
    const listed = await runCli(['--cleanup', '--dry-run', '--db', db.url, '--table', 'votes']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toBe(`would drop "public"."${stage}" (--dry-run: nothing was dropped)\n`);
    expect(await leftovers()).toEqual(left);
    const cleaned = await runCli(['--cleanup', '--db', db.url, '--table', 'votes']);
    expect(cleaned.code).toBe(0);
    expect(cleaned.stdout).toMatch(new RegExp(`dropped "public"\\."${stage}"`));
    expect(await leftovers()).toEqual([]);
  });
});
