/**
 * Identifiers that break string-built SQL: quotes, semicolons, comments, spaces, keywords and
 * non-ASCII letters in the schema, table and column names. Every path (swap on an empty target,
 * swap with --truncate, insert when appending) must load the rows, run nothing but its own SQL and
 * keep the table's name exactly.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../support/cli.ts';
import { tableFingerprint, useTestDatabase } from '../support/database.ts';
import { useTempDir } from '../support/fixtures.ts';

const db = useTestDatabase();
const write = useTempDir();

const SCHEMA = 'we"ird sch;ema';
const TABLE = 'x"; drop table y; --';
const COLUMNS = ['select', 'a b', '"quoted"', 'ünï'];
const INDEX = 'idx "a b"; drop table y';
/** The table as SQL names it, which is also what --table takes. */
const TABLE_SQL = '"we""ird sch;ema"."x""; drop table y; --"';

const quote = (name: string) => db.client.escapeIdentifier(name);

function csv(from: number, count: number): string {
  return Array.from({ length: count }, (_, i) => {
    const key = from + i;
    return `${key},"a, b ${key}","say ""hi""; drop table y; --",ünï ${key}\n`;
  }).join('');
}

function cli(file: string, ...extra: string[]): Promise<CliResult> {
  return runCli(['--db', db.url, '--table', TABLE_SQL, '--columns', COLUMNS.join(','), '--workers', '2', '--chunk-size', '2kB', ...extra, file]);
}

/** What the catalog holds in the weird schema: tables and indexes by exact name. */
async function relationsInSchema(): Promise<Array<{ relname: string; relkind: string }>> {
  const { rows } = await db.client.query<{ relname: string; relkind: string }>(
    `SELECT c.relname, c.relkind::text AS relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'i') ORDER BY c.relkind, c.relname`,
    [SCHEMA],
  );
  return rows;
}

async function expectIntact(rows: number): Promise<void> {
  const { rows: [y] } = await db.client.query(`SELECT to_regclass('public.y') IS NOT NULL AS exists, (SELECT count(*)::int FROM y) AS n`);
  expect(y).toEqual({ exists: true, n: 1 });
  expect(await relationsInSchema()).toEqual([
    { relname: INDEX, relkind: 'i' },
    { relname: `${TABLE}_pkey`, relkind: 'i' },
    { relname: TABLE, relkind: 'r' },
  ]);
  const { rows: [target] } = await db.client.query(
    `SELECT relpersistence, pg_get_serial_sequence($1, 'id') IS NOT NULL AS serial, (SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped) AS columns
       FROM pg_class c WHERE c.oid = $1::regclass`,
    [TABLE_SQL],
  );
  // The serial column still draws from a sequence the table owns (carried over by the swap).
  expect(target).toEqual({ relpersistence: 'p', serial: true, columns: ['id', ...COLUMNS] });
  expect((await tableFingerprint(db.client, TABLE_SQL, COLUMNS)).rows).toBe(rows);
  const { rows: leftovers } = await db.client.query(`SELECT relname FROM pg_class WHERE relname LIKE 'ploader%'`);
  expect(leftovers).toEqual([]);
}

beforeAll(async () => {
  const table = `${quote(SCHEMA)}.${quote(TABLE)}`;
  await db.client.query(`
    CREATE TABLE y (id int);
    INSERT INTO y VALUES (1);
    CREATE SCHEMA ${quote(SCHEMA)};
    CREATE TABLE ${table} (
      id serial,
      ${quote('select')} int PRIMARY KEY,
      ${quote('a b')} text NOT NULL,
      ${quote('"quoted"')} text NOT NULL,
      ${quote('ünï')} text NOT NULL CHECK (${quote('ünï')} LIKE 'ünï %')
    );
    CREATE INDEX ${quote(INDEX)} ON ${table} (${quote('a b')});
  `);
});

describe('hostile schema, table and column names', () => {
  it('loads into the empty table (swap): rows land, y survives, names unchanged', async () => {
    const result = await cli(write('first.csv', csv(1, 300)));
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^COPY 300$/m);
    expect(result.stdout).toMatch(/strategy\s+swap/);
    await expectIntact(300);
    const { rows } = await db.client.query(
      `SELECT ${COLUMNS.map(quote).join(', ')} FROM ${TABLE_SQL} WHERE ${quote('select')} = 7`,
    );
    expect(rows).toEqual([{ select: 7, 'a b': 'a, b 7', '"quoted"': 'say "hi"; drop table y; --', ünï: 'ünï 7' }]);
  });

  it('--truncate replaces the rows (swap) and keeps the name exactly', async () => {
    const file = write('second.csv', csv(1001, 250));
    const result = await cli(file, '--truncate');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^COPY 250$/m);
    expect(result.stdout).toMatch(/strategy\s+swap/);
    await expectIntact(250);
    const { rows } = await db.client.query(`SELECT min(${quote('select')})::int AS lo, max(${quote('select')})::int AS hi FROM ${TABLE_SQL}`);
    expect(rows[0]).toEqual({ lo: 1001, hi: 1250 });
  });

  it('appending to the table with rows (insert) works too', async () => {
    const result = await cli(write('third.csv', csv(2001, 100)));
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^COPY 100$/m);
    expect(result.stdout).toMatch(/strategy\s+insert/);
    await expectIntact(350);
  });

  it('--dry-run --json names the table as SQL writes it', async () => {
    const result = await cli(write('fourth.csv', csv(3001, 10)), '--dry-run', '--json');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { table: string; plan: { copySql: string } };
    expect(report.table).toBe(TABLE_SQL);
    expect(report.plan.copySql).toContain(`(${COLUMNS.map(quote).join(', ')})`);
    await expectIntact(350);
  });
});
