/**
 * Bad rows and duplicate keys at scale (issue 12): tens of thousands of bad rows in one chunk, a file
 * where every row is bad, 300,000 duplicate keys. Each load must keep exactly the good rows (checked
 * against one plain COPY of just those rows), write every refused record byte for byte, in input
 * order, with its physical line, and exit 3.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { tableFingerprint, useTestDatabase } from '../support/database.ts';
import { plainCopy, useTempDir } from '../support/fixtures.ts';

const db = useTestDatabase();
const write = useTempDir();
const COLUMNS = ['username', 'link', 'score'];

interface Dirty {
  file: string;
  good: string;
  bad: string;
  /** Physical lines of the bad records, in order. */
  badLines: number[];
}

/** `rows` records, every `every`-th one bad in one of five ways; every third has a quoted newline. */
function dirtyFile(name: string, rows: number, every: number): Dirty {
  const kinds = [
    (i: number) => `u${i},"l\n${i}",x\n`, // not an integer (22P02)
    (i: number) => `u${i},l${i},7\n`, // CHECK (23514)
    (i: number) => `u${i},,1\n`, // NOT NULL (23502)
    (i: number) => `u${i},l,1,1\n`, // extra data (22P04)
    (i: number) => `u${i},"a\rb",99999999999\n`, // out of range, a quoted CR (22003)
  ];
  const all: string[] = [];
  const good: string[] = [];
  const bad: string[] = [];
  const badLines: number[] = [];
  let line = 1;
  for (let i = 0; i < rows; i++) {
    const row = i % every === 0 ? kinds[(i / every) % kinds.length](i) : i % 3 === 0 ? `u${i},"multi\nline ${i}",1\n` : `u${i},link ${i},-1\n`;
    if (i % every === 0) {
      bad.push(row);
      badLines.push(line);
    } else good.push(row);
    all.push(row);
    line += row.split('\n').length - 1;
  }
  return { file: write(name, all.join('')), good: write(`${name}.good`, good.join('')), bad: bad.join(''), badLines };
}

async function freshTables(): Promise<void> {
  await db.client.query(`
    DROP TABLE IF EXISTS votes, expected;
    CREATE TABLE votes (voteid serial PRIMARY KEY, username text NOT NULL, link text NOT NULL, score int NOT NULL CHECK (score IN (-1, 1)));
    CREATE TABLE expected (username text NOT NULL, link text NOT NULL, score int NOT NULL);
  `);
}

async function expectExactly(dirty: Dirty, rejectFile: string, result: { code: number | null; stdout: string; stderr: string }): Promise<void> {
  expect(result.stderr).not.toMatch(/ at .*\.ts:\d+/);
  expect(result.code).toBe(3);
  await plainCopy(db.client, `COPY expected FROM STDIN (FORMAT csv)`, dirty.good);
  expect(await tableFingerprint(db.client, 'votes', COLUMNS)).toEqual(await tableFingerprint(db.client, 'expected', COLUMNS));
  expect(readFileSync(rejectFile, 'utf8')).toBe(dirty.bad);
  const log = readFileSync(`${rejectFile}.log`, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { line: number; sqlstate: string });
  expect(log.map((entry) => entry.line)).toEqual(dirty.badLines);
  expect(new Set(log.map((entry) => entry.sqlstate))).toEqual(new Set(['22P02', '23514', '23502', '22P04', '22003']));
}

describe('--max-errors all at scale', () => {
  it('20,000 bad rows in one chunk (one in ten): the good rows exactly, every reject, exit 3', async () => {
    await freshTables();
    const dirty = dirtyFile('tenth.csv', 200_000, 10);
    const rejectFile = `${dirty.file}.rejects`;
    const result = await runCli(['--db', db.url, '--table', 'votes', '--columns', COLUMNS.join(','), '--workers', '1', '--chunk-size', '1GB', '--max-errors', 'all', dirty.file]);
    expect(result.stdout).toMatch(/^COPY 180000$/m);
    await expectExactly(dirty, rejectFile, result);
  });

  it('every row bad, over 2 workers and several chunks: nothing loaded, every record rejected, exit 3', async () => {
    await freshTables();
    const dirty = dirtyFile('all-bad.csv', 20_000, 1);
    const rejectFile = `${dirty.file}.rejects`;
    const result = await runCli(['--db', db.url, '--table', 'votes', '--columns', COLUMNS.join(','), '--workers', '2', '--chunk-size', '64kB', '--max-errors', 'all', dirty.file]);
    expect(result.stdout).toMatch(/^COPY 0$/m);
    await expectExactly(dirty, rejectFile, result);
  });
});

describe('--on-conflict at scale: 300,000 duplicate keys', () => {
  const KEYS = 100_000;
  const RECORDS = 400_000;
  // Record i has key e(i mod KEYS): each key appears four times, the first time in the first quarter.
  const lines: string[] = [];
  for (let i = 0; i < RECORDS; i++) lines.push(`e${i % KEYS},${i % 7 === 0 ? `"name ${i}\nsecond"` : `name ${i}`}\n`);
  const file = write('users.csv', lines.join(''));
  const lineOf: number[] = [];
  for (let i = 0, line = 1; i < RECORDS; i++) {
    lineOf.push(line);
    line += lines[i].split('\n').length - 1;
  }

  async function freshUsers(existing: number): Promise<void> {
    await db.client.query(`
      DROP TABLE IF EXISTS users;
      CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL UNIQUE, name text);
      INSERT INTO users (email, name) SELECT 'e' || g, 'existing' FROM generate_series(0, ${existing - 1}) g;
    `);
  }

  /** Fingerprint of (email, name) for the records `keep` says win, plus the target's own rows that stay. */
  async function expectedFingerprint(keep: number[], existing: Map<string, string>): Promise<{ rows: number; checksum: string }> {
    await db.client.query('DROP TABLE IF EXISTS expected_users; CREATE TABLE expected_users (email text, name text)');
    const kept = keep.map((i) => lines[i]).join('');
    await plainCopy(db.client, 'COPY expected_users FROM STDIN (FORMAT csv)', write('kept.csv', kept + [...existing].map(([e, n]) => `${e},${n}\n`).join('')));
    return tableFingerprint(db.client, 'expected_users', ['email', 'name']);
  }

  it.each([
    { mode: 'skip', existing: 0 },
    { mode: 'update', existing: 0 },
    { mode: 'skip', existing: 1000 },
    { mode: 'update', existing: 1000 },
  ])('$mode into a target with $existing rows: one row per key as the mode says, every other record rejected in order, exit 3', async ({ mode, existing }) => {
    await freshUsers(existing);
    const rejectFile = `${file}.${mode}.${existing}.rejects`;
    const result = await runCli(['--db', db.url, '--table', 'users', '--columns', 'email,name', '--workers', '2', '--chunk-size', '2MB', '--on-conflict', mode, '--reject-file', rejectFile, file]);
    expect(result.stderr).not.toMatch(/ at .*\.ts:\d+/);
    expect(result.code).toBe(3);
    const inTarget = (i: number) => i % KEYS < existing;
    // skip keeps the first record of a key (none if the target has it); update keeps the last.
    const winner = (i: number) => (mode === 'skip' ? i < KEYS && !inTarget(i) : i >= RECORDS - KEYS);
    const keep = [...Array(RECORDS).keys()].filter(winner);
    const stays = new Map(mode === 'skip' ? [...Array(existing).keys()].map((k) => [`e${k}`, 'existing']) : []);
    expect(await tableFingerprint(db.client, 'users', ['email', 'name'])).toEqual(await expectedFingerprint(keep, stays));
    const rejected = [...Array(RECORDS).keys()].filter((i) => !winner(i));
    expect(readFileSync(rejectFile, 'utf8')).toBe(rejected.map((i) => lines[i]).join(''));
    const log = readFileSync(`${rejectFile}.log`, 'utf8').trim().split('\n');
    expect(log).toHaveLength(rejected.length);
    expect([0, 1, rejected.length - 1].map((n) => JSON.parse(log[n]))).toEqual(
      [0, 1, rejected.length - 1].map((n) => expect.objectContaining({ line: lineOf[rejected[n]], record: rejected[n] + 1, sqlstate: '23505' })),
    );
  });
});
