/**
 * The first error in file order (issue 11 item 4): a mapping mistake fails before any worker starts,
 * naming line 1 with a hint, the same on every run; after the fan-out, of several failing chunks the
 * earliest in the file is reported, whichever fails first.
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PloaderError } from '../../src/errors.ts';
import { load } from '../../src/load.ts';
import type { LoadOptions } from '../../src/options.ts';
import { CLI } from '../support/cli.ts';
import { useTestDatabase } from '../support/database.ts';
import { useTempDir } from '../support/fixtures.ts';

const db = useTestDatabase();
const write = useTempDir();
const COLUMNS = ['username', 'link', 'score'];
const rows = (n: number, row: (i: number) => string) => Array.from({ length: n }, (_, i) => row(i)).join('');

async function freshTarget(check = ''): Promise<void> {
  await db.client.query(`
    DROP TABLE IF EXISTS votes;
    CREATE TABLE votes (voteid serial PRIMARY KEY, username text NOT NULL, link text NOT NULL, score int NOT NULL ${check});
  `);
}

async function failure(options: Partial<LoadOptions> & { file: string }): Promise<{ error: PloaderError; phases: string[] }> {
  const phases: string[] = [];
  const error = await load({ table: 'votes', db: db.url, workers: 3, chunkBytes: 4096, ...options, onProgress: (e) => e.kind === 'phase' && phases.push(e.phase) }).catch((e: unknown) => e);
  if (!(error instanceof PloaderError)) throw error;
  return { error: error as PloaderError, phases };
}

describe('a mapping mistake fails before the fan-out, at line 1, with a hint', () => {
  const body = rows(5000, (i) => `u${i},link ${i},1\n`);
  it.each([
    { name: 'a header without --header', file: () => write('header.csv', `username,link,score\n${body}`), options: { columns: COLUMNS }, hint: /the first record looks like a header \(username, link, score are column names\): pass --header/ },
    { name: 'tab-separated data loaded as csv', file: () => write('tabs.csv', body.replaceAll(',', '\t')), options: { columns: COLUMNS }, hint: /the data looks tab-separated \(3 tab-separated fields\): pass --format text, or --delimiter/ },
    { name: 'csv loaded as text', file: () => write('commas.txt', body), options: { columns: COLUMNS }, hint: /the data looks comma-separated \(3 comma-separated fields\): pass --format csv/ },
    { name: 'a column list that does not match the fields', file: () => write('four.csv', rows(5000, (i) => `${i},u${i},link,1\n`)), options: { columns: COLUMNS }, hint: /the record has 4 fields and the column list 3 \(username, link, score\): pass --columns/ },
  ])('$name: the same line 1 on every run, nothing staged', async ({ file, options, hint }) => {
    await freshTarget();
    const path = file();
    for (let run = 0; run < 3; run++) {
      const { error, phases } = await failure({ file: path, ...options });
      expect(error.code).toBe('BAD_ROW');
      expect(error.position).toMatchObject({ file: path, line: 1, record: 1 });
      expect(error.message).toMatch(hint);
      // Refused before the load phase: no stage, no workers.
      expect(phases).not.toContain('load');
    }
    const { rows: left } = await db.client.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE 'ploader%'`);
    expect(left[0].n).toBe(0);
  });

  it('standard input defaults to text: the CLI says to pass --format csv, without a stack trace', async () => {
    await freshTarget();
    const path = write('stdin.csv', body);
    const child = spawn(process.execPath, [CLI, '--db', db.url, '--table', 'votes', '--columns', COLUMNS.join(','), '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    createReadStream(path).pipe(child.stdin);
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(code).toBe(1);
    expect(stderr).toMatch(/^ploader: -:1: record 1.*standard input is read as text \(COPY's default format: tab-separated\), and the data looks comma-separated: pass --format csv/m);
    expect(stderr).not.toMatch(/ at .*\.(ts|js):\d+/);
  });
});

describe('after the fan-out, the earliest failing chunk is reported', () => {
  it('a bad row late in chunk 3 wins over one at the start of chunk 6 that fails first, on every run', async () => {
    // Every row sleeps a little in its CHECK: chunk 3 reaches its bad row long after chunk 6 met its own.
    await db.client.query(`CREATE OR REPLACE FUNCTION slow_ok(int) RETURNS boolean LANGUAGE sql AS 'SELECT pg_sleep(0.0002) IS NOT NULL'`);
    await freshTarget('CHECK (slow_ok(score))');
    const chunk = 8192;
    const row = (i: number) => `user_${String(i).padStart(6, '0')},link ${String(i).padStart(6, '0')},1\n`;
    const perChunk = Math.floor(chunk / row(0).length);
    const lateIn3 = 4 * perChunk - 2; // 0-based record: near the end of chunk 3
    const earlyIn6 = 6 * perChunk + 1;
    const file = write('two-bad.csv', rows(9 * perChunk, (i) => (i === lateIn3 || i === earlyIn6 ? `bad_${i},x,oops\n` : row(i))));
    for (let run = 0; run < 3; run++) {
      const { error } = await failure({ file, columns: COLUMNS, workers: 3, chunkBytes: chunk });
      expect(error.code).toBe('BAD_ROW');
      expect(error.position).toMatchObject({ line: lateIn3 + 1, record: lateIn3 + 1, column: 'score' });
    }
  });
});

describe('a row refused by a constraint is named as one COPY into the target names it', () => {
  it('the message names the target, not the stage the workers load', async () => {
    await freshTarget('CHECK (score IN (-1, 1))');
    const path = write('check.csv', rows(3000, (i) => (i === 2500 ? `u${i},link ${i},7\n` : `u${i},link ${i},1\n`)));
    const { error } = await failure({ file: path, columns: COLUMNS });
    expect(error.code).toBe('BAD_ROW');
    expect(error.position).toMatchObject({ line: 2501, record: 2501 });
    expect(error.message).toMatch(/new row for relation "votes" violates check constraint "votes_score_check"/);
    expect(error.message).not.toMatch(/ploader_/);
  });
});
