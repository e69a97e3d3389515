/**
 * The library as a program uses it: load() resolves to the report, progress arrives through
 * onProgress, an AbortSignal cancels like Ctrl-C (nothing left behind), and bad options are refused
 * with INVALID_OPTION before anything is touched.
 */
import { statSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { findFreePort } from '../../src/embedded/embedded-server.ts';
import { load, PloaderError, type LoadOptions, type ProgressEvent } from '../../src/index.ts';
import { tableFingerprint, useTestDatabase } from '../support/database.ts';
import { useTempDir } from '../support/fixtures.ts';

const db = useTestDatabase();
const write = useTempDir();
const COLUMNS = ['username', 'link', 'score'];
const ALL = ['voteid', ...COLUMNS];
const votes = (rows: number) => Array.from({ length: rows }, (_, i) => `user_${i % 97},"link ${i}",${i % 2 ? 1 : -1}\n`).join('');
const file = write('votes.csv', votes(2000));

beforeAll(async () => {
  await db.client.query(`
    CREATE TABLE votes (voteid serial PRIMARY KEY, username text NOT NULL, link text NOT NULL, score int NOT NULL);
    CREATE INDEX votes_username_idx ON votes (username);
    -- A CHECK that sleeps ~0.5 ms a row makes a load last long enough to be cancelled in the middle.
    CREATE FUNCTION slow_ok(int) RETURNS boolean LANGUAGE sql AS 'SELECT pg_sleep(0.0005) IS NOT NULL';
    CREATE TABLE slow_votes (voteid serial PRIMARY KEY, username text NOT NULL, link text NOT NULL, score int NOT NULL CHECK (slow_ok(score)));
    INSERT INTO slow_votes (username, link, score) SELECT 'old' || g, 'l' || g, 1 FROM generate_series(1, 10) g;
  `);
});

async function leftoverTables(): Promise<string[]> {
  const { rows } = await db.client.query<{ relname: string }>(`SELECT relname FROM pg_class WHERE relname LIKE 'ploader%'`);
  return rows.map((r) => r.relname);
}

async function ploaderSessions(): Promise<string[]> {
  const { rows } = await db.client.query<{ name: string }>(
    `SELECT application_name AS name FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'ploader %'`,
  );
  return rows.map((r) => r.name);
}

/** Polls until `check` returns true or `timeoutMs` passes; returns the last result. */
async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A URL whose server does not exist: a load that reached the connect step would fail with CONNECTION_FAILED. */
async function unreachableUrl(): Promise<string> {
  return `postgres://nobody:secret@127.0.0.1:${await findFreePort()}/nowhere`;
}

async function rejection(promise: Promise<unknown>): Promise<PloaderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PloaderError);
  return error as PloaderError;
}

describe('load()', () => {
  it('resolves to the report and reports progress through onProgress', async () => {
    const events: ProgressEvent[] = [];
    const report = await load({ file, table: 'votes', db: db.url, columns: COLUMNS, workers: 2, chunkBytes: 8 * 1024, onProgress: (e) => events.push(e) });
    expect(report).toMatchObject({ file, table: '"public"."votes"', rows: 2000, rejected: 0, dryRun: false, workers: 2, bytes: statSync(file).size });
    expect(report.chunks).toBeGreaterThan(2);
    expect((await tableFingerprint(db.client, 'votes', ALL)).rows).toBe(2000);

    const phases = events.flatMap((e) => (e.kind === 'phase' ? [e.phase] : []));
    expect(phases).toContain('load');
    expect(phases).toContain('publish');
    expect(phases.indexOf('load')).toBeLessThan(phases.indexOf('publish'));

    const chunks = events.flatMap((e) => (e.kind === 'chunk' ? [e] : []));
    expect(chunks).toHaveLength(report.chunks);
    expect(new Set(chunks.map((c) => c.chunk)).size).toBe(report.chunks);
    for (const c of chunks) expect(c.totalBytes).toBe(statSync(file).size);
    for (let i = 1; i < chunks.length; i++) expect(chunks[i].doneBytes).toBeGreaterThan(chunks[i - 1].doneBytes);
    expect(chunks.at(-1)!.doneBytes).toBe(chunks.at(-1)!.totalBytes);
    expect(chunks.reduce((sum, c) => sum + c.rows, 0)).toBe(2000);
  });

  it('an AbortSignal aborted mid-load rejects with CANCELLED and leaves nothing behind', async () => {
    const before = await tableFingerprint(db.client, 'slow_votes', ALL);
    // ~6000 rows at ~0.5 ms each over two workers: a few seconds, in 4kB chunks of ~170 rows.
    const slowFile = write('slow.csv', votes(6000));
    const options = { file: slowFile, table: 'slow_votes', db: db.url, columns: COLUMNS, workers: 2, chunkBytes: 4 * 1024 };
    const { chunks: planned } = await load({ ...options, dryRun: true });
    const abort = new AbortController();
    const events: ProgressEvent[] = [];
    const error = await rejection(
      load({
        ...options,
        signal: abort.signal,
        onProgress: (event) => {
          events.push(event);
          if (event.kind === 'chunk') abort.abort();
        },
      }),
    );
    expect(error.code).toBe('CANCELLED');
    // Cancelled in the middle: the first chunk finished, most of the others never ran.
    const chunkEvents = events.filter((e) => e.kind === 'chunk').length;
    expect(chunkEvents).toBeGreaterThanOrEqual(1);
    expect(chunkEvents).toBeLessThan(planned / 2);
    expect(events.some((e) => e.kind === 'phase' && e.phase === 'publish')).toBe(false);

    expect(await tableFingerprint(db.client, 'slow_votes', ALL)).toEqual(before);
    expect(await leftoverTables()).toEqual([]);
    expect(await eventually(async () => (await ploaderSessions()).length === 0)).toBe(true);
  });

  it('an already-aborted signal rejects with CANCELLED before connecting', async () => {
    const events: ProgressEvent[] = [];
    // Were it to connect, this would fail with CONNECTION_FAILED instead.
    const offline = await rejection(load({ file, table: 'votes', db: await unreachableUrl(), signal: AbortSignal.abort(), onProgress: (e) => events.push(e) }));
    expect(offline.code).toBe('CANCELLED');

    const before = await tableFingerprint(db.client, 'votes', ALL);
    const online = await rejection(load({ file, table: 'votes', db: db.url, columns: COLUMNS, signal: AbortSignal.abort(), onProgress: (e) => events.push(e) }));
    expect(online.code).toBe('CANCELLED');
    expect(events).toEqual([]);
    expect(await tableFingerprint(db.client, 'votes', ALL)).toEqual(before);
    expect(await leftoverTables()).toEqual([]);
  });

  it.each<{ options: Partial<LoadOptions> & Record<string, unknown>; message: string }>([
    { options: { workers: 0 }, message: 'options.workers must be an integer from 1 to 256, got 0' },
    { options: { workers: 2.5 }, message: 'options.workers must be an integer from 1 to 256, got 2.5' },
    { options: { workers: 257 }, message: 'options.workers must be an integer from 1 to 256, got 257' },
    { options: { chunkBytes: 0 }, message: 'options.chunkBytes must be a positive integer, got 0' },
    { options: { format: 'xml' as LoadOptions['format'] }, message: 'options.format must be one of csv, text, binary, got "xml"' },
    { options: { maxErrors: -1 }, message: 'options.maxErrors must be a non-negative integer or Infinity ("all"), got -1' },
    { options: { indexMemory: 'lots' }, message: 'options.indexMemory must be a size such as "64MB", got "lots"' },
    { options: { columns: ['username', 'username'] }, message: 'options.columns names "username" twice' },
    { options: { threads: 4 }, message: 'unknown option "threads"' },
  ])('refuses $options with INVALID_OPTION: $message', async ({ options, message }) => {
    // An unreachable server: the options must be refused before any connection is tried.
    const error = await rejection(load({ file, table: 'votes', db: await unreachableUrl(), ...options } as LoadOptions));
    expect(error.code).toBe('INVALID_OPTION');
    expect(error.message).toBe(message);
  });
});
