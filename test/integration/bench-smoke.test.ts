/**
 * Keeps `npm run bench` working: small runs of every method on the embedded server, on the test
 * run's server given as --db, and on a stock cluster from --pg-bin where PostgreSQL 15 binaries are
 * installed. They assert what the benchmark checks and states (each method leaves the full table,
 * runBench itself checks rows, checksum, indexes and persistence), never timings.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { runBench } from '../../scripts/bench/run.ts';
import { BENCH_DATABASE_PREFIX } from '../../scripts/bench/server.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'ploader-bench-smoke-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const PG15_BIN = '/usr/lib/postgresql/15/bin';

describe('npm run bench (smoke)', () => {
  it('runs B, ploader and the hand recipe on 100k rows and every one loads them all', async () => {
    const out = path.join(dir, 'runs.jsonl');
    const result = await runBench({ rows: 100_000, rounds: 1, workers: [2], out, fileDir: dir, keepFiles: true, log: () => {} });
    expect(result.runs.map((r) => r.method).sort()).toEqual(['B', 'H', 'P2']);
    for (const run of result.runs) {
      expect(run.rows).toBe(100_000);
      // Each run starts after a CHECKPOINT, which must not be counted as the run's.
      expect(run.checkpoints.count).toBe(0);
      expect(run.serverCpuS).toBeGreaterThan(0);
    }
    expect(readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(3);
    expect(result.table).toMatch(/×B/);
    expect(result.table).toMatch(/^text columns: username: database default = collate C, ctype C \(libc\); link: database default = collate C, ctype C \(libc\)$/m);
    expect(result.header.settings.server_version).toMatch(/^\d+/);
    const ploader = result.runs.find((r) => r.method === 'P2')!;
    expect(ploader.indexBuilds?.map((b) => b.order)).toEqual([1, 2, 3]);
    expect(ploader.indexBuilds?.map((b) => b.label).sort()).toEqual(['index votes_link_idx', 'index votes_pkey', 'index votes_username_idx']);
    expect(ploader.rssBeforeMb).toBeGreaterThan(0);
    expect(ploader.peakRssMb).toBeGreaterThan(ploader.rssBeforeMb!);
    expect(result.table).toMatch(/per worker thread MB/);
  });

  it('runs on a given server (--db) in a database of its own, dropped afterwards', async () => {
    const url = inject('databaseUrl');
    const result = await runBench({ server: { kind: 'db', url }, rows: 20_000, rounds: 1, workers: [1], out: path.join(dir, 'db.jsonl'), fileDir: dir, log: () => {} });
    expect(result.runs.map((r) => r.rows)).toEqual([20_000, 20_000, 20_000]);
    expect(result.header.server).toMatch(/^the server at postgres:\/\//);
    const password = decodeURIComponent(new URL(url).password);
    if (password) expect(result.header.server).not.toContain(password);
    const client = new pg.Client(url);
    await client.connect();
    try {
      const { rows } = await client.query('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${BENCH_DATABASE_PREFIX}%`]);
      expect(rows).toEqual([]);
    } finally {
      await client.end();
    }
  });

  it.skipIf(!existsSync(path.join(PG15_BIN, 'initdb')))('starts a stock C.UTF-8 cluster from --pg-bin and removes it afterwards', async () => {
    const leftovers = () => readdirSync('/var/tmp').filter((name) => name.startsWith(`ploader-bench-pg-${process.pid}-`));
    const result = await runBench({ server: { kind: 'pg-bin', binDir: PG15_BIN }, rows: 20_000, rounds: 1, workers: [2], out: path.join(dir, 'pg15.jsonl'), fileDir: dir, log: () => {} });
    expect(result.header.settings.server_version).toMatch(/^15\./);
    expect(result.header.collations).toBe('username: database default = collate C.UTF-8, ctype C.UTF-8 (libc); link: database default = collate C.UTF-8, ctype C.UTF-8 (libc)');
    expect(result.runs.map((r) => r.rows)).toEqual([20_000, 20_000, 20_000]);
    expect(leftovers()).toEqual([]);
  });
});
