/**
 * `--json`: stdout holds exactly one JSON document, the report, for scripts to parse; progress and
 * warnings stay on stderr. With `--dry-run` the document carries the plan and nothing is loaded.
 */
import { statSync } from 'node:fs';
import { beforeEach, describe, expect, it } from 'vitest';
import type { LoadReport } from '../../src/index.ts';
import { runCli, type CliResult } from '../support/cli.ts';
import { tableFingerprint, useTestDatabase } from '../support/database.ts';
import { useTempDir } from '../support/fixtures.ts';

const db = useTestDatabase();
const write = useTempDir();
const ROWS = 500;
const COLUMNS = ['username', 'link', 'score'];
const ALL = ['voteid', ...COLUMNS];
const file = write('votes.csv', Array.from({ length: ROWS }, (_, i) => `user_${i},"link, ${i}",${i % 2 ? 1 : -1}\n`).join(''));
const ARGS = ['--db', db.url, '--table', 'votes', '--columns', COLUMNS.join(','), '--workers', '2', '--chunk-size', '4kB'];

beforeEach(async () => {
  await db.client.query(`
    DROP TABLE IF EXISTS votes;
    CREATE TABLE votes (voteid serial PRIMARY KEY, username text NOT NULL, link text NOT NULL, score int NOT NULL);
    CREATE INDEX votes_link_idx ON votes (link);
  `);
});

/** The whole of stdout parsed as one JSON value: anything before or after it makes JSON.parse throw. */
function parseStdout(result: CliResult): LoadReport {
  expect(result.stdout.endsWith('}\n')).toBe(true);
  return JSON.parse(result.stdout) as LoadReport;
}

async function stageTables(): Promise<number> {
  const { rows } = await db.client.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE 'ploader%'`);
  return rows[0].n;
}

describe('--json', () => {
  it('prints exactly one JSON document: the report, with rows equal to what was loaded', async () => {
    const result = await runCli([...ARGS, '--json', file]);
    expect(result.code).toBe(0);
    const report = parseStdout(result);
    const { rows } = await db.client.query('SELECT count(*)::int AS n FROM votes');
    expect(rows[0].n).toBe(ROWS);
    expect(report).toMatchObject({
      file,
      table: '"public"."votes"',
      rows: ROWS,
      bytes: statSync(file).size,
      workers: 2,
      rejected: 0,
      strategy: { publish: 'swap' },
      published: 'swap',
    });
    expect(report.wallMs).toBeGreaterThan(0);
    expect(Object.keys(report.phases).sort()).toEqual(['durable', 'indexes', 'load', 'publish', 'split']);
    for (const ms of Object.values(report.phases)) expect(ms).toBeGreaterThanOrEqual(0);
    expect(report.phases.load).toBeGreaterThan(0);
    expect(report.phases.load).toBeLessThanOrEqual(report.wallMs);
    expect(typeof report.strategy.reason).toBe('string');
    expect(report.strategy.reason.length).toBeGreaterThan(0);
    expect(report.chunks).toBeGreaterThan(1);
    expect(report.warnings).toEqual([]);
    expect(report.plan).toBeUndefined();
  });

  it('appending to a table with rows: the insert strategy and its reason, rows counts only the new ones', async () => {
    await db.client.query(`INSERT INTO votes (username, link, score) VALUES ('old', 'old', 1), ('old2', 'old2', 1)`);
    const result = await runCli([...ARGS, '--json', file]);
    expect(result.code).toBe(0);
    const report = parseStdout(result);
    expect(report.rows).toBe(ROWS);
    expect(report.strategy.publish).toBe('insert');
    expect(report.published).toBe('insert');
    expect(report.strategy.reason).toMatch(/\S/);
    expect((await tableFingerprint(db.client, 'votes', ALL)).rows).toBe(ROWS + 2);
  });

  it('a file with no rows: still one document, rows 0, the warning in `warnings`', async () => {
    const empty = write('header-only.csv', 'username,link,score\n');
    const result = await runCli([...ARGS, '--header', '--json', empty]);
    expect(result.code).toBe(0);
    const report = parseStdout(result);
    expect(report.rows).toBe(0);
    expect(report.warnings).toHaveLength(1);
    expect(report.warnings[0]).toMatch(/no rows/);
  });

  it('--dry-run --json: the plan (chunks and steps) and nothing loaded', async () => {
    const before = await tableFingerprint(db.client, 'votes', ALL);
    const result = await runCli([...ARGS, '--dry-run', '--json', file]);
    expect(result.code).toBe(0);
    const report = parseStdout(result);
    expect(report.dryRun).toBe(true);
    expect(report.rows).toBe(0);
    const plan = report.plan!;
    expect(plan.chunks).toHaveLength(report.chunks);
    expect(plan.chunks[0]).toMatchObject({ index: 0, start: 0, line: 1 });
    expect(plan.chunks.at(-1)!.end).toBe(statSync(file).size);
    for (let i = 1; i < plan.chunks.length; i++) expect(plan.chunks[i].start).toBe(plan.chunks[i - 1].end);
    expect(Object.keys(plan.steps).sort()).toEqual(['durable', 'foreignKeys', 'indexes', 'stage', 'targetOid']);
    expect(plan.stage).toBe(`"${plan.steps.stage.schema}"."${plan.steps.stage.name}"`);
    // SET LOGGED or nothing, depending on the server's wal_level: only its shape is the promise.
    for (const step of plan.steps.durable) expect(step).toEqual({ label: expect.any(String), sql: expect.any(String) });
    // The primary key and votes_link_idx are rebuilt on the stage, each step naming the target's index.
    expect(plan.steps.indexes).toHaveLength(2);
    expect(plan.steps.indexes.map((s) => s.index).sort()).toEqual(['votes_link_idx', 'votes_pkey']);
    // The schedule: both builds in start order, the text index (the costlier sort) first, each with its session's settings.
    expect(plan.indexBuilds?.map((b) => [b.order, b.label])).toEqual([[1, 'index votes_link_idx'], [2, 'index votes_pkey']]);
    for (const build of plan.indexBuilds!) expect(build.maintenanceWorkMem).toMatch(/^\d+(MB|kB)$/);
    expect(plan.steps.indexes.map((s) => s.sql).join('\n')).toMatch(/^CREATE UNIQUE INDEX .*\(voteid\)$/m);
    expect(plan.copySql).toMatch(/^COPY .* FROM STDIN/);
    expect(await tableFingerprint(db.client, 'votes', ALL)).toEqual(before);
    expect(await stageTables()).toBe(0);
  });
});
