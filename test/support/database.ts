/**
 * Each test file works in a database of its own on the run's server, dropped when the file ends.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';

export interface TestDatabase {
  /** Connection URL of this file's own database. */
  url: string;
  /** A connected client on that database, for arranging and checking. */
  client: pg.Client;
}

export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

/** Registers hooks that create a fresh database before the file's tests and drop it after. */
export function useTestDatabase(): TestDatabase {
  const serverUrl = inject('databaseUrl');
  const name = `ploader_test_${randomBytes(5).toString('hex')}`;
  const db = { url: databaseUrl(serverUrl, name) } as TestDatabase;
  beforeAll(async () => {
    await withClient(serverUrl, (admin) => admin.query(`CREATE DATABASE ${admin.escapeIdentifier(name)}`));
    db.client = new pg.Client(db.url);
    await db.client.connect();
  });
  afterAll(async () => {
    await db.client?.end();
    await withClient(serverUrl, (admin) =>
      admin.query(`DROP DATABASE IF EXISTS ${admin.escapeIdentifier(name)} WITH (FORCE)`),
    );
  });
  return db;
}

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/**
 * An order-independent fingerprint of a table's rows: count plus the sum of per-row md5 prefixes,
 * so two tables with the same multiset of rows match whatever order they were stored in.
 */
export async function tableFingerprint(
  client: pg.Client,
  table: string,
  columns: string[],
): Promise<{ rows: number; checksum: string }> {
  const row = `md5(row(${columns.map((c) => client.escapeIdentifier(c)).join(', ')})::text)`;
  const result = await client.query<{ rows: string; checksum: string | null }>(
    `SELECT count(*) AS rows, sum(('x' || substr(${row}, 1, 15))::bit(60)::bigint)::text AS checksum FROM ${table}`,
  );
  return { rows: Number(result.rows[0].rows), checksum: result.rows[0].checksum ?? '0' };
}

/** Every relation ploader may leave behind (stages, ledgers, their indexes), by name. */
export async function ploaderRelations(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ relname: string }>(`SELECT relname FROM pg_class WHERE relname LIKE 'ploader%' ORDER BY relname`);
  return rows.map((r) => r.relname);
}

/** Drops the ploader stages and ledgers left in this database (tests that leave them on purpose). */
export async function dropPloaderTables(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND c.relname LIKE 'ploader%'`,
  );
  for (const { name } of rows) await client.query(`DROP TABLE IF EXISTS ${name} CASCADE`);
}
