/**
 * What the index-build schedule is estimated from, read from the catalog and the stage: each index's
 * key types and the collation each key sorts by, the stage's rows and key widths (from a page sample,
 * so it costs the same at any size), and the server's limits for maintenance operations.
 */
import { open } from 'node:fs/promises';
import type pg from 'pg';
import { qualified, quoteIdent, type QualifiedName } from '../db/sql.ts';
import type { BuildKey, KeyKind, ServerLimits } from './index-schedule.ts';

/** Pages sampled from the stage for its row count and key widths (TABLESAMPLE SYSTEM): ~8 MB read. */
const SAMPLE_PAGES = 1000;
/** Bytes read from the start of the input to estimate rows for --dry-run, where there is no stage yet. */
const DRY_RUN_SAMPLE_BYTES = 1 << 20;
/** The default collation's oid (pg_collation "default"): the database's own locale applies. */
const DEFAULT_COLLATION_OID = 100;
/** A key of unknown width (an expression, or no sample): a short text. */
const UNKNOWN_WIDTH_BYTES = 16;
/** Not collatable, not by value, but sorted on abbreviated keys (PostgreSQL's sortsupport for these types). */
const ABBREVIATED_TYPES = new Set(['uuid', 'bytea', 'numeric', 'inet', 'cidr', 'macaddr', 'macaddr8']);

export interface IndexKeyFacts {
  /** The target's index name. */
  index: string;
  keys: Array<{ column: string | null; kind: KeyKind; typeWidth: number }>;
}

export async function readServerLimits(client: pg.Client): Promise<ServerLimits> {
  const { rows: [row] } = await client.query<{ mwm: string; pmw: string; pw: string }>(
    `SELECT (SELECT setting::bigint * 1024 FROM pg_settings WHERE name = 'maintenance_work_mem') AS mwm,
            current_setting('max_parallel_maintenance_workers') AS pmw, current_setting('max_parallel_workers') AS pw`,
  );
  return { maintenanceWorkMemBytes: Number(row.mwm), maxParallelWorkers: Math.min(Number(row.pmw), Number(row.pw)) };
}

/** Each index of the target: its keys' kinds, by type and collation (a partial index counts as all rows: its selectivity is unknown before the load). */
export async function readIndexKeys(client: pg.Client, targetOid: number): Promise<IndexKeyFacts[]> {
  const { rows } = await client.query<{
    index: string; column: string | null; typname: string | null; byval: boolean | null; typlen: number | null; collation: number;
  }>(
    `SELECT ic.relname AS index, a.attname AS column, t.typname, t.typbyval AS byval, t.typlen::int AS typlen,
            i.indcollation[k.n - 1]::oid::int AS collation
       FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
       CROSS JOIN LATERAL unnest(i.indkey[0:i.indnkeyatts - 1]) WITH ORDINALITY k(attnum, n)
       LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum AND k.attnum > 0
       LEFT JOIN pg_type t ON t.oid = a.atttypid
      WHERE i.indrelid = $1 ORDER BY ic.relname, k.n`,
    [targetOid],
  );
  const collations = await readCollationKinds(client, [...new Set(rows.map((r) => r.collation).filter((oid) => oid !== 0))]);
  const byIndex = new Map<string, IndexKeyFacts>();
  for (const row of rows) {
    const facts = byIndex.get(row.index) ?? { index: row.index, keys: [] };
    byIndex.set(row.index, facts);
    const kind: KeyKind =
      row.typname === null ? 'other' // an expression
        : row.collation !== 0 ? (collations.get(row.collation) ?? 'other')
          : row.byval ? 'fixed'
            : ABBREVIATED_TYPES.has(row.typname) ? 'abbreviated' : 'other';
    facts.keys.push({ column: row.column, kind, typeWidth: row.typlen !== null && row.typlen > 0 ? row.typlen : UNKNOWN_WIDTH_BYTES });
  }
  return [...byIndex.values()];
}

/**
 * How text under each collation compares: strcoll for a libc locale other than C/POSIX (PostgreSQL
 * uses no abbreviated keys there, as glibc's strxfrm is not trusted), abbreviated keys for C/POSIX,
 * ICU and the builtin provider. Read as JSON rows: the locale columns differ between versions
 * (datlocprovider 15+, datlocale 17+; collprovider 'b' 17+).
 */
async function readCollationKinds(client: pg.Client, oids: number[]): Promise<Map<number, KeyKind>> {
  const kinds = new Map<number, KeyKind>();
  if (oids.length === 0) return kinds;
  const { rows: [{ db }] } = await client.query<{ db: Record<string, string | null> }>('SELECT to_jsonb(d) AS db FROM pg_database d WHERE datname = current_database()');
  const { rows } = await client.query<{ oid: number; coll: Record<string, string | null> }>(
    'SELECT c.oid::int AS oid, to_jsonb(c) AS coll FROM pg_collation c WHERE c.oid = ANY($1::oid[])',
    [oids],
  );
  for (const { oid, coll } of rows) {
    const fromDatabase = oid === DEFAULT_COLLATION_OID || coll.collprovider === 'd';
    const provider = fromDatabase ? (db.datlocprovider ?? 'c') : coll.collprovider;
    const collate = fromDatabase ? db.datcollate : coll.collcollate;
    kinds.set(oid, provider === 'c' && collate !== 'C' && collate !== 'POSIX' ? 'libc-collated' : 'abbreviated');
  }
  return kinds;
}

/** The stage's rows and its key columns' average widths, from a sample of its pages. */
export async function sampleStage(client: pg.Client, stage: QualifiedName, columns: readonly string[]): Promise<{ rows: number; widths: Map<string, number> }> {
  const { rows: [{ pages }] } = await client.query<{ pages: string }>(
    "SELECT pg_relation_size($1::regclass) / current_setting('block_size')::int AS pages",
    [qualified(stage)],
  );
  const percent = Math.min(100, (100 * SAMPLE_PAGES) / Math.max(1, Number(pages)));
  const widthList = columns.map((c, i) => `avg(pg_column_size(${quoteIdent(c)}))::float8 AS w${i}`);
  const { rows: [sample] } = await client.query<Record<string, number | string | null>>(
    `SELECT count(*) AS n${widthList.map((w) => `, ${w}`).join('')} FROM ${qualified(stage)} TABLESAMPLE SYSTEM (${percent.toFixed(6)}) REPEATABLE (0)`,
  );
  const widths = new Map(columns.map((c, i) => [c, Number(sample[`w${i}`] ?? UNKNOWN_WIDTH_BYTES)]));
  return { rows: Math.round((Number(sample.n) * 100) / percent), widths };
}

/** --dry-run has no stage: rows from the input's size and the records in its first megabyte. */
export async function estimateRowsFromFile(file: string, size: number): Promise<number> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(Math.min(size, DRY_RUN_SAMPLE_BYTES));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    let lines = 0;
    for (let at = buffer.indexOf(0x0a); at >= 0 && at < bytesRead; at = buffer.indexOf(0x0a, at + 1)) lines++;
    return bytesRead === 0 ? 0 : Math.round((size * Math.max(1, lines)) / bytesRead);
  } finally {
    await handle.close();
  }
}

/** The schedule's keys: widths from the sample where the key is a column, the type's width otherwise. */
export function buildKeys(facts: IndexKeyFacts, widths: ReadonlyMap<string, number>): BuildKey[] {
  return facts.keys.map((key) => ({ kind: key.kind, widthBytes: (key.column !== null ? widths.get(key.column) : undefined) ?? key.typeWidth }));
}
