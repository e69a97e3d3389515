/**
 * Duplicate keys (--on-conflict). Unique indexes are built after the load, so duplicates surface
 * late; to name them by input line, the stage gets a locator column `ploader_record` whose default is
 * (chunk << 32) + 1 + the record's index in its chunk, a record counter (record-counters.ts) that each
 * worker sets before every COPY (so the rows around bad rows keep their own numbers). Only loads whose unique keys
 * come from the file get the locator; the column is dropped before the stage is made durable.
 *
 * - error: abort, naming the input lines of the first duplicated keys;
 * - skip: keep the first occurrence (rows already in the target win), set the others aside as rejects;
 * - update: keep the last occurrence; rows already in the target are updated (append).
 */
import type pg from 'pg';
import type { IndexFacts, TargetFacts } from '../plan/catalog.ts';
import { PloaderError } from '../errors.ts';
import type { OnConflict } from '../options.ts';
import type { LoadPlan } from '../plan/load-plan.ts';
import { qualified, quoteIdent, quoteLiteral, type QualifiedName } from '../db/sql.ts';
import { counterDefault } from './record-counters.ts';


export const LOCATOR_COLUMN = 'ploader_record';
/** Per-session sequence the locator default draws from; set by the worker before each COPY. */
export const LOCATOR_SEQUENCE = 'ploader_record_seq';
const RECORD_BITS = 32n;

/** --on-conflict update when appending: the key to match, and the file's other columns to overwrite. */
export interface Upsert {
  key: readonly string[];
  update: readonly string[];
}

/** The upsert for `update` into a table that keeps its rows: one unique key to match existing rows on. */
export function planUpsert(mode: OnConflict, appending: boolean, keys: readonly UniqueKey[], columns: readonly string[]): Upsert | undefined {
  if (mode !== 'update' || !appending || keys.length === 0) return undefined;
  if (keys.length > 1) {
    throw new PloaderError('INVALID_OPTION', `--on-conflict update needs one unique key to match existing rows on; ${keys.map((k) => k.index).join(' and ')} are all fed by the file — use skip or error`);
  }
  return { key: keys[0].columns, update: columns.filter((c) => !keys[0].columns.includes(c)) };
}

export interface UniqueKey {
  index: string;
  columns: string[];
}

/**
 * The target's unique keys that the file feeds (a key filled only by defaults, like a serial id,
 * cannot repeat). Expression and partial unique indexes are left to the index build in `error` mode,
 * and are refused for skip/update, whose row choice needs plain column keys.
 */
export function fileFedUniqueKeys(target: TargetFacts, loadedColumns: readonly string[], mode: OnConflict): UniqueKey[] {
  const loaded = new Set(loadedColumns);
  const keys: UniqueKey[] = [];
  for (const index of target.indexes.filter((i: IndexFacts) => i.unique)) {
    if (index.keyColumns === null) {
      if (mode !== 'error') {
        throw new PloaderError('TARGET_INVALID', `unique index ${index.name} is on an expression or is partial: --on-conflict ${mode} supports plain column keys only — use --on-conflict error`);
      }
      continue;
    }
    if (index.keyColumns.some((c) => loaded.has(c))) keys.push({ index: index.name, columns: index.keyColumns });
  }
  return keys;
}

export function addLocatorSql(stage: QualifiedName): string {
  return `ALTER TABLE ${qualified(stage)} ADD COLUMN ${quoteIdent(LOCATOR_COLUMN)} bigint DEFAULT ${counterDefault(LOCATOR_SEQUENCE)}`;
}

export function dropLocatorSql(stage: QualifiedName): string {
  return `ALTER TABLE ${qualified(stage)} DROP COLUMN ${quoteIdent(LOCATOR_COLUMN)}`;
}

/** The locator of a chunk's record 0: (chunk << 32) + 1, decoded below. */
export function locatorFirstValue(chunk: number): string {
  return String((BigInt(Math.trunc(chunk)) << RECORD_BITS) + 1n);
}

export function decodeLocator(locator: string | bigint): { chunk: number; recordInChunk: number } {
  const value = BigInt(locator);
  return { chunk: Number(value >> RECORD_BITS), recordInChunk: Number(value & ((1n << RECORD_BITS) - 1n)) - 1 };
}

export interface ConflictingRecord {
  locator: string;
  key: string;
  reason: string;
}

/** Where the records set aside or superseded by --on-conflict wait, server-side, to be written out in order. */
export const CONFLICTS_TABLE = 'ploader_conflicts';

/**
 * Applies the policy on the stage (and against the target's rows when appending), set-based: the
 * stage records set aside (skip) or superseded (update) move into the session's CONFLICTS_TABLE with
 * the reason, in the same statement that deletes them, and nothing per duplicate comes back to the
 * client. Returns how many; throws with the first locators for `error`.
 */
export async function resolveConflicts(client: pg.Client, plan: LoadPlan): Promise<number> {
  const { stage, target } = plan;
  const { keys, appending } = plan.conflicts;
  const mode = plan.options.onConflict;
  const locator = quoteIdent(LOCATOR_COLUMN);
  const conflicts = `pg_temp.${quoteIdent(CONFLICTS_TABLE)}`;
  // Indexed once filled (for the paging of conflictingRecords): a primary key kept up to date row by
  // row cost 0.4 s of the 2.5 s that setting 300,000 duplicates aside took (PostgreSQL 15).
  await client.query(`DROP TABLE IF EXISTS ${conflicts}; CREATE TEMP TABLE ${quoteIdent(CONFLICTS_TABLE)} (locator bigint NOT NULL, message text NOT NULL)`);
  let removed = 0;
  for (const key of keys) {
    const cols = key.columns.map(quoteIdent);
    // As the server writes keys in its messages: `(email)=(x)`.
    const keyText = `(${key.columns.join(', ')})`;
    const notNull = cols.map((c) => `s.${c} IS NOT NULL`).join(' AND ');
    const keyValue = `row(${cols.map((c) => `s.${c}`).join(', ')})::text`;
    const inTarget = appending
      ? `EXISTS (SELECT 1 FROM ${qualified(target.table)} t WHERE ${cols.map((c) => `t.${c} = s.${c}`).join(' AND ')})`
      : 'false';
    if (mode === 'error') {
      const { rows } = await client.query<{ locator: string; key: string }>(
        `SELECT l AS locator, key FROM (
           SELECT ${locator}::text AS l, ${keyValue} AS key, count(*) OVER (PARTITION BY ${cols.join(', ')}) AS copies
             FROM ${qualified(stage)} s WHERE ${notNull}) counted
          WHERE copies > 1 ORDER BY l::bigint LIMIT ${ERROR_EXAMPLES}`,
      );
      let found = rows.map((r) => ({ locator: r.locator, key: r.key, reason: `duplicate key ${keyText}=${r.key}` }));
      if (appending) {
        const { rows: existing } = await client.query<{ locator: string; key: string }>(
          `SELECT s.${locator}::text AS locator, ${keyValue} AS key FROM ${qualified(stage)} s WHERE ${inTarget} ORDER BY s.${locator} LIMIT ${ERROR_EXAMPLES}`,
        );
        found = found.concat(existing.map((r) => ({ locator: r.locator, key: r.key, reason: `key ${keyText}=${r.key} is already in the target` })));
      }
      if (found.length > 0) throw new DuplicateKeyError(key, found);
      continue;
    }
    const setAside = (reason: string) => `INSERT INTO ${conflicts} SELECT l, ${quoteLiteral(`duplicate key ${keyText}=`)} || key || ${quoteLiteral(reason)} FROM gone`;
    // Keep one record per key: the first (skip) or the last (update) in input order.
    const order = mode === 'skip' ? 'ASC' : 'DESC';
    const duplicates = await client.query(
      `WITH gone AS (
         DELETE FROM ${qualified(stage)} s USING (
           SELECT ${locator} AS l FROM (
             SELECT ${locator}, row_number() OVER (PARTITION BY ${cols.join(', ')} ORDER BY ${locator} ${order}) AS n
               FROM ${qualified(stage)} s WHERE ${notNull}) ranked WHERE n > 1) dup
          WHERE s.${locator} = dup.l RETURNING s.${locator} AS l, ${keyValue} AS key)
       ${setAside(`: ${mode === 'skip' ? 'an earlier record' : 'a later record'} with this key was kept`)}`,
    );
    removed += duplicates.rowCount ?? 0;
    if (appending && mode === 'skip') {
      const existing = await client.query(
        `WITH gone AS (DELETE FROM ${qualified(stage)} s WHERE ${inTarget} RETURNING s.${locator} AS l, ${keyValue} AS key)
         ${setAside(' is already in the target, which keeps its row')}`,
      );
      removed += existing.rowCount ?? 0;
    }
  }
  if (removed > 0) await client.query(`CREATE UNIQUE INDEX ON ${conflicts} (locator)`);
  return removed;
}

/** The records in CONFLICTS_TABLE in input order, a page at a time (keyset paging on the locator). */
export async function* conflictingRecords(client: pg.Client): AsyncGenerator<ConflictingRecord> {
  let after = '-1';
  for (;;) {
    const { rows } = await client.query<{ locator: string; message: string }>(
      `SELECT c.locator::text AS locator, c.message FROM pg_temp.${quoteIdent(CONFLICTS_TABLE)} c WHERE c.locator > $1 ORDER BY c.locator LIMIT ${PAGE_ROWS}`,
      [after],
    );
    for (const row of rows) yield { locator: row.locator, key: '', reason: row.message };
    if (rows.length < PAGE_ROWS) return;
    after = rows[rows.length - 1].locator;
  }
}

const ERROR_EXAMPLES = 10;
const PAGE_ROWS = 50_000;

export class DuplicateKeyError extends PloaderError {
  readonly records: ConflictingRecord[];
  constructor(key: UniqueKey, records: ConflictingRecord[]) {
    super('DUPLICATE_KEY', `duplicate values for unique index ${key.index}`);
    this.records = records;
  }
}
