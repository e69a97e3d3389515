/**
 * The server the benchmark runs on: the embedded one (default), a throwaway stock cluster from
 * `--pg-bin DIR`, or the user's own (`--db URL`); the benchmark's database on it, and what the server
 * says about itself (version, settings, the collation of the target's text columns, checkpoints).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { redact } from '../../src/db/connection.ts';
import { SQLSTATE } from '../../src/db/sqlstate.ts';
import { startEmbeddedServer, type ServerSettings } from '../../src/embedded/embedded-server.ts';
import type { WalLevel } from './options.ts';
import { startStockCluster } from './stock-cluster.ts';

/**
 * Servers the benchmark starts get these (a given server keeps its own, and they are printed). Large
 * shared_buffers and max_wal_size with a long checkpoint_timeout keep checkpoints out of the measured
 * runs at 7.5M rows (each run starts after an explicit CHECKPOINT; the checkpoints a run still causes
 * are counted); fsync and synchronous_commit stay on: durability is part of what is measured.
 * maintenance_work_mem and max_parallel_maintenance_workers are left at the server's defaults.
 */
export const BENCH_SERVER_SETTINGS = {
  shared_buffers: '1GB',
  max_wal_size: '8GB',
  checkpoint_timeout: '30min',
  synchronous_commit: 'on',
  fsync: 'on',
};
export const SHOWN_SETTINGS = [
  'server_version', 'wal_level', 'shared_buffers', 'maintenance_work_mem', 'max_parallel_maintenance_workers', 'max_parallel_workers',
  'max_worker_processes', 'max_wal_size', 'checkpoint_timeout', 'checkpoint_completion_target', 'synchronous_commit', 'fsync', 'max_wal_senders',
];
/** The benchmark's own database is named this and a random suffix (benchmarks may share a server), and dropped at the end. */
export const BENCH_DATABASE_PREFIX = 'ploader_bench_';

export interface BenchServer {
  /** Where the benchmark connects to create its database. */
  url: string;
  /** For the printed header, without secrets. */
  label: string;
  /** Whether the benchmark started the server (and so chose its settings). */
  started: boolean;
  stop(): Promise<void>;
}

export type ServerChoice = { kind: 'embedded' } | { kind: 'pg-bin'; binDir: string } | { kind: 'db'; url: string };

/** Starts (or, for `--db`, just names) the server; `settings` apply to servers the benchmark starts. */
export async function openBenchServer(choice: ServerChoice, walLevel: WalLevel, extra: ServerSettings = {}): Promise<BenchServer> {
  const settings: ServerSettings = { ...BENCH_SERVER_SETTINGS, wal_level: walLevel, ...(walLevel === 'minimal' ? { max_wal_senders: 0 } : {}), ...extra };
  if (choice.kind === 'db') return { url: choice.url, label: `the server at ${redact(choice.url)}`, started: false, stop: async () => {} };
  if (choice.kind === 'pg-bin') {
    const cluster = await startStockCluster(choice.binDir, settings);
    return { url: cluster.url, label: `a throwaway cluster from ${choice.binDir} in ${cluster.dataDir}`, started: true, stop: () => cluster.stop() };
  }
  const server = await startEmbeddedServer({ settings });
  return { url: server.url, label: `the embedded server in ${server.dataDir}`, started: true, stop: () => server.stop() };
}

export interface BenchDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A database of its own on the server. */
export async function createBenchDatabase(server: BenchServer): Promise<BenchDatabase> {
  const name = `${BENCH_DATABASE_PREFIX}${randomBytes(4).toString('hex')}`;
  const admin = await connectClient(server.url);
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } catch (error) {
    if ((error as { code?: string }).code !== SQLSTATE.INSUFFICIENT_PRIVILEGE) throw error;
    throw new Error(`the benchmark creates a database of its own (${name}), and the role of ${redact(server.url)} may not: connect as a role with CREATEDB`);
  } finally {
    await admin.end();
  }
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = await connectClient(server.url);
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name}`);
      } finally {
        await client.end();
      }
    },
  };
}

export async function connectClient(url: string, applicationName = 'bench'): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName });
  await client.connect();
  return client;
}

export async function showSettings(client: pg.Client): Promise<Record<string, string>> {
  const settings: Record<string, string> = {};
  for (const name of SHOWN_SETTINGS) settings[name] = (await client.query(`SHOW ${name}`)).rows[0][name];
  return settings;
}

/**
 * The postmaster's pid when the server runs on this host (a backend's parent, seen in /proc), so
 * its CPU can be read; undefined for a server elsewhere (its CPU is then not reported).
 */
export async function localPostmasterPid(client: pg.Client): Promise<number | undefined> {
  const { rows: [{ pid }] } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (!/^\d+ \(postgres\)/.test(stat)) return undefined;
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return /^\d+ \(postgres\)/.test(readFileSync(`/proc/${ppid}/stat`, 'utf8')) ? ppid : undefined;
  } catch {
    return undefined;
  }
}

/** How the text columns of `table` compare: the collation, ctype and provider each one sorts by. */
export async function describeTextCollations(client: pg.Client, table: string): Promise<string> {
  // to_jsonb(row): pg_database's locale columns differ by version (datlocprovider 15+, daticulocale 15-16, datlocale 17+).
  const { rows: [{ db }] } = await client.query<{ db: Record<string, string | null> }>('SELECT to_jsonb(d) AS db FROM pg_database d WHERE datname = current_database()');
  const { rows } = await client.query<{ column: string; coll: Record<string, string | null> | null }>(
    `SELECT a.attname AS column, CASE WHEN a.attcollation <> 100 THEN to_jsonb(c) END AS coll
       FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation
      WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [table],
  );
  const describe = (entry: Record<string, string | null>, prefix: 'dat' | 'coll') => {
    const provider = { c: 'libc', i: 'icu', b: 'builtin', d: 'default' }[entry[`${prefix}locprovider`] ?? entry[`${prefix}provider`] ?? 'c'] ?? '?';
    const icu = entry[`${prefix}locale`] ?? entry[`${prefix}iculocale`];
    return provider === 'libc' ? `collate ${entry[`${prefix}collate`]}, ctype ${entry[`${prefix}ctype`]} (libc)` : `${icu} (${provider})`;
  };
  const byColumn = rows.map((r) => `${r.column}: ${r.coll ? `${r.coll.collname} = ${describe(r.coll, 'coll')}` : `database default = ${describe(db, 'dat')}`}`);
  return byColumn.join('; ');
}

export interface CheckpointCounters {
  count: number;
  writeS: number;
  syncS: number;
}

/** Checkpoints so far: pg_stat_checkpointer on 17+, pg_stat_bgwriter before. */
export async function checkpointCounters(client: pg.Client): Promise<CheckpointCounters> {
  const version = Number((await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0].v);
  const sql =
    version >= 170000
      ? 'SELECT num_timed + num_requested AS count, write_time AS write, sync_time AS sync FROM pg_stat_checkpointer'
      : 'SELECT checkpoints_timed + checkpoints_req AS count, checkpoint_write_time AS write, checkpoint_sync_time AS sync FROM pg_stat_bgwriter';
  const { rows: [row] } = await client.query<{ count: string; write: number; sync: number }>(sql);
  return { count: Number(row.count), writeS: Number(row.write) / 1000, syncS: Number(row.sync) / 1000 };
}

export async function walPosition(client: pg.Client): Promise<string> {
  return (await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0].lsn;
}

export async function walBytesSince(client: pg.Client, since: string): Promise<number> {
  const { rows } = await client.query<{ bytes: string }>('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1)::bigint AS bytes', [since]);
  return Number(rows[0].bytes);
}
