/** The server the benchmark runs on, its database, and what it says about itself. */
import pg from 'pg';
import { startEmbeddedServer, type EmbeddedServer } from '../../src/embedded/embedded-server.ts';
import type { WalLevel } from './options.ts';

/**
 * Stated once, printed at the top. Large shared_buffers and max_wal_size with a long
 * checkpoint_timeout keep checkpoints out of the measured runs (each run starts after an explicit
 * CHECKPOINT); fsync and synchronous_commit stay on: durability is part of what is measured.
 * maintenance_work_mem is left at the server default.
 */
export const BENCH_SERVER_SETTINGS = {
  shared_buffers: '1GB',
  max_wal_size: '8GB',
  checkpoint_timeout: '30min',
  synchronous_commit: 'on',
  fsync: 'on',
};
export const SHOWN_SETTINGS = [
  'server_version', 'wal_level', 'shared_buffers', 'maintenance_work_mem', 'max_parallel_maintenance_workers', 'max_wal_size',
  'checkpoint_timeout', 'synchronous_commit', 'fsync', 'max_wal_senders',
];
const BENCH_DATABASE = 'bench';

export function startBenchServer(walLevel: WalLevel): Promise<EmbeddedServer> {
  return startEmbeddedServer({ settings: { ...BENCH_SERVER_SETTINGS, wal_level: walLevel } });
}

/** A database of its own on the server; returns its URL. */
export async function createBenchDatabase(server: EmbeddedServer): Promise<string> {
  const admin = await connectClient(server.url);
  try {
    await admin.query(`CREATE DATABASE ${BENCH_DATABASE}`);
  } finally {
    await admin.end();
  }
  const url = new URL(server.url);
  url.pathname = `/${BENCH_DATABASE}`;
  return url.toString();
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

export async function walPosition(client: pg.Client): Promise<string> {
  return (await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0].lsn;
}

export async function walBytesSince(client: pg.Client, since: string): Promise<number> {
  const { rows } = await client.query<{ bytes: string }>('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1)::bigint AS bytes', [since]);
  return Number(rows[0].bytes);
}
