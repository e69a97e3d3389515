/**
 * Duplicate keys (--on-conflict). Unique indexes are built after the load, so duplicates surface
 * late; to name them by input line, the stage gets a locator column `ploader_record` whose default is
 * (chunk << 32) + the record's index in its chunk, counted by a per-session sequence that each worker
 * sets before every COPY (so retries around bad rows do not shift it). Only loads whose unique keys
 * come from the file get the locator; the column is dropped before the stage is made durable.
 *
 * - error: abort, naming the input lines of the first duplicated keys;
 * - skip: keep the first occurrence (rows already in the target win), set the others aside as rejects;
 * - update: keep the last occurrence; rows already in the target are updated (append).
 */
import type pg from 'pg';
import type { IndexFacts, TargetFacts } from '../plan/catalog.ts';
import { PloaderError } from '../errors.ts';
import { qualified, quoteIdent, type QualifiedName } from '../db/sql.ts';

import type { OnConflict } from './conflict-modes.ts';

export { ON_CONFLICT_MODES, type OnConflict } from './conflict-modes.ts';

export const LOCATOR_COLUMN = 'ploader_record';
/** Per-session sequence the locator default draws from; set by the worker before each COPY. */
export const LOCATOR_SEQUENCE = 'ploader_record_seq';
/** Session setting that holds the chunk number for the locator default. */
export const LOCATOR_CHUNK_SETTING = 'ploader.chunk';
const RECORD_BITS = 32n;

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
  return `ALTER TABLE ${qualified(stage)} ADD COLUMN ${quoteIdent(LOCATOR_COLUMN)} bigint DEFAULT ((current_setting('${LOCATOR_CHUNK_SETTING}')::bigint << ${RECORD_BITS}) + nextval(('pg_temp.${LOCATOR_SEQUENCE}'::text)::regclass))`;
}

export function dropLocatorSql(stage: QualifiedName): string {
  return `ALTER TABLE ${qualified(stage)} DROP COLUMN ${quoteIdent(LOCATOR_COLUMN)}`;
}

/** Run by a worker in its session before its COPYs; then `setLocatorSql` before each one. */
export function prepareLocatorSql(chunk: number): string[] {
  return [`CREATE TEMP SEQUENCE IF NOT EXISTS ${LOCATOR_SEQUENCE}`, `SET ${LOCATOR_CHUNK_SETTING} = ${Math.trunc(chunk)}`];
}

/** The next record COPYed gets index `recordInChunk` (0-based); the sequence yields it + 1, decoded below. */
export function setLocatorSql(recordInChunk: number): string {
  return `SELECT setval('pg_temp.${LOCATOR_SEQUENCE}', ${Math.trunc(recordInChunk) + 1}, false)`;
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

/**
 * Applies the policy on the stage (and against the target's rows when appending). Returns the stage
 * records set aside (skip) or superseded (update); throws with their locators for `error`.
 */
export async function resolveConflicts(
  client: pg.Client,
  stage: QualifiedName,
  target: TargetFacts,
  keys: readonly UniqueKey[],
  mode: OnConflict,
  appending: boolean,
): Promise<ConflictingRecord[]> {
  const removed: ConflictingRecord[] = [];
  const locator = quoteIdent(LOCATOR_COLUMN);
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
          WHERE copies > 1 ORDER BY l::bigint LIMIT 10`,
      );
      const found = rows.map((r) => ({ locator: r.locator, key: r.key, reason: `duplicate key ${keyText}=${r.key}` }));
      if (appending) {
        const { rows: existing } = await client.query<{ locator: string; key: string }>(
          `SELECT s.${locator}::text AS locator, ${keyValue} AS key FROM ${qualified(stage)} s WHERE ${inTarget} ORDER BY s.${locator} LIMIT 10`,
        );
        found.push(...existing.map((r) => ({ locator: r.locator, key: r.key, reason: `key ${keyText}=${r.key} is already in the target` })));
      }
      if (found.length > 0) throw new DuplicateKeyError(key, found);
      continue;
    }
    // Keep one record per key: the first (skip) or the last (update) in input order.
    const order = mode === 'skip' ? 'ASC' : 'DESC';
    const { rows } = await client.query<{ locator: string; key: string }>(
      `DELETE FROM ${qualified(stage)} s USING (
         SELECT ${locator} AS l FROM (
           SELECT ${locator}, row_number() OVER (PARTITION BY ${cols.join(', ')} ORDER BY ${locator} ${order}) AS n
             FROM ${qualified(stage)} s WHERE ${notNull}) ranked WHERE n > 1) dup
        WHERE s.${locator} = dup.l RETURNING s.${locator}::text AS locator, ${keyValue} AS key`,
    );
    removed.push(...rows.map((r) => ({ locator: r.locator, key: r.key, reason: `duplicate key ${keyText}=${r.key}: ${mode === 'skip' ? 'an earlier record' : 'a later record'} with this key was kept` })));
    if (appending && mode === 'skip') {
      const { rows: existing } = await client.query<{ locator: string; key: string }>(
        `DELETE FROM ${qualified(stage)} s WHERE ${inTarget} RETURNING s.${locator}::text AS locator, ${keyValue} AS key`,
      );
      removed.push(...existing.map((r) => ({ locator: r.locator, key: r.key, reason: `key ${keyText}=${r.key} is already in the target, which keeps its row` })));
    }
  }
  return removed;
}

export class DuplicateKeyError extends PloaderError {
  readonly records: ConflictingRecord[];
  constructor(key: UniqueKey, records: ConflictingRecord[]) {
    super('DUPLICATE_KEY', `duplicate values for unique index ${key.index}`);
    this.records = records;
  }
}
