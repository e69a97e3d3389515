/**
 * Columns without --columns: the card's command on the seed's table (by field count, voteid left to
 * its serial), --header names (any order) against \copy with the right column list, and --header
 * match against what the server's own COPY ... (HEADER MATCH) accepts and refuses. csv and text,
 * files and streams; every case checks the rows and that no ploader_* relation is left.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { load } from '../../src/load.ts';
import { PloaderError } from '../../src/errors.ts';
import { pgEnvOf, runCli, runCliWithStdin } from '../support/cli.ts';
import { ploaderRelations, tableFingerprint, useTestDatabase } from '../support/database.ts';
import { plainCopy } from '../support/fixtures.ts';

const db = useTestDatabase();
const dir = mkdtempSync(path.join(tmpdir(), 'ploader-columns-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const write = (name: string, content: string | Buffer) => {
  const file = path.join(dir, name);
  writeFileSync(file, content);
  return file;
};

const COLUMNS = ['username', 'link', 'score'];
const ROWS = 3000;
/** username, link, score: the seed's 3-field file, with quoted newlines and doubled quotes. */
const record = (i: number) => [`user_${i % 97}`, `"t3_${i}${i % 5 ? '' : '\nsecond ""line""'}"`, String(i % 2 ? 1 : -1)];
const votesCsv = Array.from({ length: ROWS }, (_, i) => `${record(i).join(',')}\n`).join('');
/** The same rows with a header, the fields in another order (score, username, link). */
const shuffledCsv = 'score,username,link\n' + Array.from({ length: ROWS }, (_, i) => { const [u, l, s] = record(i); return `${s},${u},${l}\n`; }).join('');
const shuffledText = 'score\tUserName\tlink\n' + Array.from({ length: ROWS }, (_, i) => `${i % 2 ? 1 : -1}\tuser_${i % 97}\tt3\\t${i}${i % 5 ? '' : '\\nsecond'}\n`).join('');

const pgEnv = () => pgEnvOf(db.url);
beforeEach(async () => {
  // The README's seed table, and the oracle: what \copy with the right column list gives.
  await db.client.query(`
    DROP TABLE IF EXISTS votes, oracle;
    CREATE TABLE votes (voteid serial PRIMARY KEY, username text NOT NULL, link text NOT NULL, score int NOT NULL);
    CREATE TABLE oracle (voteid serial PRIMARY KEY, username text NOT NULL, link text NOT NULL, score int NOT NULL);
  `);
});

async function expectLike(oracleCopy: string, file: string): Promise<void> {
  await plainCopy(db.client, oracleCopy, file);
  const loaded = await tableFingerprint(db.client, 'votes', COLUMNS);
  expect(loaded.rows).toBe(ROWS);
  expect(loaded).toEqual(await tableFingerprint(db.client, 'oracle', COLUMNS));
  // Every voteid drawn from the serial: all there, none twice.
  const { rows: [ids] } = await db.client.query('SELECT count(DISTINCT voteid)::int AS n, count(*) FILTER (WHERE voteid IS NULL)::int AS nulls FROM votes');
  expect(ids).toEqual({ n: ROWS, nulls: 0 });
  expect(await ploaderRelations(db.client)).toEqual([]);
}

async function refusal(promise: Promise<unknown>): Promise<PloaderError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(PloaderError);
  return error as PloaderError;
}

describe('the card\'s command: ploader --workers 8 votes.csv', () => {
  it('loads the 3-field file into the 4-column seed table (CLI, PG* variables); the report says voteid is a default', async () => {
    write('votes.csv', votesCsv);
    const result = await runCli(['--workers', '8', 'votes.csv'], { cwd: dir, env: pgEnv() });
    expect(result.stderr).not.toMatch(/ploader:|error/i);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^COPY 3000$/m);
    expect(result.stdout).toMatch(/^columns +username, link, score$/m);
    expect(result.stdout).toMatch(/^defaults +voteid \(not in the file: filled by its default\)$/m);
    await expectLike('COPY oracle (username, link, score) FROM STDIN (FORMAT csv)', path.join(dir, 'votes.csv'));
  });

  it('--dry-run and --json say it too', async () => {
    write('votes.csv', votesCsv);
    const plan = await runCli(['--dry-run', 'votes.csv'], { cwd: dir, env: pgEnv() });
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(/^columns: username, link, score$/m);
    expect(plan.stdout).toMatch(/^defaults: voteid \(not in the file: filled by its default\)$/m);
    expect(plan.stdout).toMatch(/each chunk: COPY .* \("username", "link", "score"\) FROM STDIN/);
    const json = await runCli(['--json', '--workers', '2', 'votes.csv'], { cwd: dir, env: pgEnv() });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ rows: ROWS, columns: COLUMNS, defaulted: ['voteid'] });
  });

  it('a file with all four fields fills all four columns, as COPY does', async () => {
    const file = write('four.csv', Array.from({ length: 10 }, (_, i) => `${1000 + i},u${i},l${i},1\n`).join(''));
    const report = await load({ file, table: 'votes', db: db.url, workers: 2 });
    expect(report).toMatchObject({ rows: 10, columns: ['voteid', ...COLUMNS], defaulted: [] });
    const { rows } = await db.client.query('SELECT min(voteid)::int AS lo, max(voteid)::int AS hi FROM votes');
    expect(rows[0]).toEqual({ lo: 1000, hi: 1009 });
  });

  it('another field count fails before loading: the count at line 1, the table\'s columns, a --columns list that fits', async () => {
    write('two.csv', 'alice,1\nbob,2\n');
    const result = await runCli(['two.csv', '-t', 'votes'], { cwd: dir, env: pgEnv() });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'ploader: two.csv:1: line 1 has 2 fields, but "public"."votes" has 4 columns COPY can fill (voteid, username, link, score), 3 of them without a default (username, link, score) — name the file\'s 2 columns in order with --columns, e.g. --columns username,link\n',
    );
    const { rows } = await db.client.query('SELECT count(*)::int AS n FROM votes');
    expect(rows[0].n).toBe(0);
    expect(await ploaderRelations(db.client)).toEqual([]);
  });
});

describe('--header names', () => {
  it('csv file, header in another order: the same table as \\copy with the right column list', async () => {
    const file = write('shuffled.csv', shuffledCsv);
    const report = await load({ file, table: 'votes', db: db.url, header: 'names', workers: 2, chunkBytes: 16 * 1024 });
    expect(report).toMatchObject({ rows: ROWS, columns: ['score', 'username', 'link'], defaulted: ['voteid'] });
    await expectLike('COPY oracle (score, username, link) FROM STDIN (FORMAT csv, HEADER true)', file);
  });

  it('text from standard input, a name in another case: the same table', async () => {
    const file = write('shuffled.txt', shuffledText);
    const result = await runCliWithStdin(['--db', db.url, '-t', 'votes', '--format', 'text', '--header', 'names', '--chunk-size', '8kB', '-'], shuffledText);
    expect(result.stderr).not.toMatch(/ploader:/);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^columns +score, username, link$/m);
    await expectLike('COPY oracle (score, username, link) FROM STDIN (FORMAT text, HEADER true)', file);
  });

  it('a .gz csv stream: the same table', async () => {
    const file = write('shuffled.csv.gz', gzipSync(shuffledCsv));
    const report = await load({ file, table: 'votes', db: db.url, header: 'names', workers: 2, chunkBytes: 8 * 1024 });
    expect(report.rows).toBe(ROWS);
    await expectLike('COPY oracle (score, username, link) FROM STDIN (FORMAT csv, HEADER true)', write('plain.csv', shuffledCsv));
  });

  it('a name that is no column fails before loading, naming it; --columns with it is refused by name', async () => {
    const file = write('unknown.csv', 'score,user,link\n1,a,b\n');
    const error = await refusal(load({ file, table: 'votes', db: db.url, header: 'names' }));
    expect(error.message).toBe('header field 2, "user", is not a column of "public"."votes" — its columns are "voteid", "username", "link", "score"');
    expect(error.position).toEqual({ file, line: 1 });
    const both = await runCli(['--header', 'names', '--columns', 'score,username,link', '-t', 'votes', 'unknown.csv'], { cwd: dir, env: pgEnv() });
    expect(both.code).toBe(2);
    expect(both.stderr).toBe('ploader: --columns and --header "names" contradict each other: with "names" the header gives the column list — drop one of them\n');
    expect(await ploaderRelations(db.client)).toEqual([]);
  });
});

describe('--header match, as COPY ... (HEADER MATCH)', () => {
  /** What the server's own COPY with HEADER MATCH says of the file: accepted, or the field it names. */
  async function serverVerdict(file: string, format: 'csv' | 'text'): Promise<{ accepted: boolean; field?: number }> {
    await db.client.query('TRUNCATE oracle');
    try {
      await plainCopy(db.client, `COPY oracle (username, link, score) FROM STDIN (FORMAT ${format}, HEADER MATCH)`, file);
      return { accepted: true };
    } catch (error) {
      // "column name mismatch in header line field 1: got "score", expected "username"" (SQLSTATE 22P04)
      expect((error as { code?: string }).code).toBe('22P04');
      return { accepted: false, field: Number(/field (\d+)/.exec((error as Error).message)![1]) };
    }
  }

  it.each([
    ['csv, another order', 'shuffled.csv', shuffledCsv, 'csv'],
    ['text, another order and case', 'shuffled.txt', shuffledText, 'text'],
    ['csv, one name in another case', 'case.csv', 'username,Link,score\nu,l,1\n', 'csv'],
  ] as const)('refuses what the server refuses, naming the same field: %s', async (_, name, content, format) => {
    const file = write(name, content);
    const verdict = await serverVerdict(file, format);
    expect(verdict.accepted).toBe(false);
    const error = await refusal(load({ file, table: 'votes', db: db.url, format, header: 'match', columns: COLUMNS }));
    expect(error.message).toMatch(new RegExp(`^--header match: header field ${verdict.field} is `));
    expect(error.position).toEqual({ file, line: 1 });
    const { rows } = await db.client.query('SELECT count(*)::int AS n FROM votes');
    expect(rows[0].n).toBe(0);
    expect(await ploaderRelations(db.client)).toEqual([]);
  });

  it('accepts the right header, as the server does, and loads what it loads (csv file, columns by count)', async () => {
    const file = write('right.csv', 'username,link,score\n' + votesCsv);
    expect(await serverVerdict(file, 'csv')).toEqual({ accepted: true });
    await db.client.query('TRUNCATE oracle');
    const report = await load({ file, table: 'votes', db: db.url, header: 'match', workers: 2, chunkBytes: 16 * 1024 });
    expect(report).toMatchObject({ rows: ROWS, columns: COLUMNS });
    await expectLike('COPY oracle (username, link, score) FROM STDIN (FORMAT csv, HEADER MATCH)', file);
  });

  it('--header=match is read as match, not as "no header" (CLI)', async () => {
    write('shuffled.csv', shuffledCsv);
    const refused = await runCli(['--header=match', '-t', 'votes', 'shuffled.csv'], { cwd: dir, env: pgEnv() });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^ploader: shuffled\.csv:1: --header match: header field 1 is "score", expected "username"/);
    write('right.csv', 'username,link,score\n' + votesCsv);
    const accepted = await runCli(['--header', 'match', '-t', 'votes', 'right.csv'], { cwd: dir, env: pgEnv() });
    expect(accepted.code).toBe(0);
    expect(accepted.stdout).toMatch(/^COPY 3000$/m);
  });

  it('a bare --header skips the header without reading its names, as HEADER true', async () => {
    write('shuffled-as-is.csv', 'a,b,c\n' + votesCsv);
    const result = await runCli(['--header', 'shuffled-as-is.csv', '-t', 'votes'], { cwd: dir, env: pgEnv() });
    expect(result.code).toBe(0);
    await expectLike('COPY oracle (username, link, score) FROM STDIN (FORMAT csv, HEADER true)', path.join(dir, 'shuffled-as-is.csv'));
  });
});
