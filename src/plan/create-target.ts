/**
 * --create: the target does not exist yet, and is made from the file. Its name is claimed before
 * anything is loaded (below), its columns sampled from records spread over the file, and its stage,
 * created with the inferred columns, takes its name at publish (finalize/publish-create.ts): the
 * table appears with its rows in one commit, owned by the loading role.
 *
 * Two ploaders creating the same table: the first to claim the name holds a session-level advisory
 * lock on it (the same kind as a run's lock) until its main session ends, after its publish
 * committed; the second finds the lock held and fails at once, loading nothing. Failing, not waiting
 * to append: the first load may take hours, and appending to a table whose columns another file
 * chose is for the user to decide (then --create if-missing loads into it). A table created by
 * other means meanwhile makes the rename at publish fail, and nothing is published.
 */
import type pg from 'pg';
import type { TargetFacts } from './catalog.ts';
import type { Chunk } from './chunks.ts';
import { RecordTypeInference } from './infer-types.ts';
import { columnDefinitionsSql, defineTable, newColumnNames, type TableDefinition } from './table-definition.ts';
import { qualified, quoteIdent, type QualifiedName } from '../db/sql.ts';
import { PloaderError, serverFields } from '../errors.ts';
import { fieldSyntaxOf, splitRecord, type FieldSyntax } from '../input/first-record.ts';
import type { InputHead } from '../input/input-head.ts';
import type { ResolvedLoadOptions } from '../options.ts';
import { readRange } from '../rows/line-mapping.ts';
import { findLeftoverRuns } from '../stage/run-ledger.ts';
import type { RunSessions } from '../stage/run-sessions.ts';
import { stageCommentSql } from '../stage/stage.ts';

/**
 * ploader's advisory-lock key space for names being created ('pldc'); the second key is hashtext() of
 * the qualified name. Two names that hash alike make one creator fail as if the other were its twin:
 * rare, and safe (nothing is loaded, and the message says to load again).
 */
export const CREATE_LOCK_SPACE = 0x706c6463;

/** Sampled from the head of the file (or a stream), and from each later chunk's start. */
export const HEAD_SAMPLE_BYTES = 1 << 20;
const CHUNK_SAMPLE_BYTES = 64 * 1024;

/** A table name claimed for --create, in the schema CREATE TABLE would put it in. */
export interface NewTable {
  table: QualifiedName;
  owner: string;
}

/**
 * Claims the name for the table to create and opens the main session's transaction, in which it is
 * published; undefined when the table exists and --create if-missing loads into it.
 */
export async function claimNewTable(sessions: RunSessions, options: ResolvedLoadOptions): Promise<NewTable | undefined> {
  const { admin, main } = sessions;
  const name = await newTableName(admin, options.table);
  if (name.exists) return existing(options, options.table);
  const key = [CREATE_LOCK_SPACE, qualified(name.table)];
  const { rows: [claim] } = await main.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked', key);
  // Another creator may have published since the look above: its claim then goes a moment after its commit.
  const published = await tableExists(main, name.table);
  if (!claim.locked) {
    if (published) return existing(options, qualified(name.table));
    throw await beingCreated(admin, name.table);
  }
  if (published) {
    await main.query('SELECT pg_advisory_unlock($1, hashtext($2))', key);
    return existing(options, qualified(name.table));
  }
  await sessions.fence(undefined, () => {});
  return { table: name.table, owner: name.owner };
}

async function tableExists(client: pg.Client, table: QualifiedName): Promise<boolean> {
  const { rows: [found] } = await client.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [qualified(table)]);
  return found.exists;
}

function existing(options: ResolvedLoadOptions, name: string): undefined {
  if (options.create === 'if-missing') return undefined;
  throw new PloaderError('TARGET_INVALID', `table ${name} already exists, and --create makes a new one — load into it without --create, or pass --create if-missing`);
}

/** The schema and name CREATE TABLE would give `name` (search_path, quoting), checked creatable. */
async function newTableName(client: pg.Client, name: string): Promise<{ exists: boolean; table: QualifiedName; owner: string }> {
  let found: { exists: boolean; parts: string[]; schema: string | null; database: string; owner: string };
  try {
    ({ rows: [found] } = await client.query(
      'SELECT to_regclass($1) IS NOT NULL AS exists, parse_ident($1) AS parts, current_schema() AS schema, current_database() AS database, current_user AS owner',
      [name],
    ));
  } catch (error) {
    throw new PloaderError('INVALID_OPTION', `${JSON.stringify(name)} is not a valid table name: ${(error as Error).message} — write it as in SQL, e.g. public.votes or "My Table"`, { server: serverFields(error), cause: error });
  }
  const { parts } = found;
  if (parts.length > 3 || (parts.length === 3 && parts[0] !== found.database)) {
    throw new PloaderError('INVALID_OPTION', `${name} names a table in another database; ploader creates tables in the database it connects to (${found.database})`);
  }
  const schema = parts.length > 1 ? parts[parts.length - 2] : found.schema;
  if (schema === null) {
    throw new PloaderError('TARGET_INVALID', `no schema of the search_path exists to create ${name} in — name one: --table schema.${parts[0]}`);
  }
  const table = { schema, name: parts[parts.length - 1] };
  if (found.exists) return { exists: true, table, owner: found.owner };
  const { rows: [space] } = await client.query<{ can_create: boolean }>("SELECT has_schema_privilege(oid, 'CREATE') AS can_create FROM pg_namespace WHERE nspname = $1", [schema]);
  if (!space) throw new PloaderError('TARGET_INVALID', `schema ${quoteIdent(schema)} does not exist, so ${qualified(table)} cannot be created there — create the schema first, or name another in --table`);
  if (!space.can_create) {
    throw new PloaderError('TARGET_INVALID', `permission denied: the current user may not create tables in schema ${quoteIdent(schema)} — ask its owner to GRANT CREATE ON SCHEMA, or name another schema in --table`);
  }
  return { exists: false, table, owner: found.owner };
}

async function beingCreated(client: pg.Client, table: QualifiedName): Promise<PloaderError> {
  const active = (await findLeftoverRuns(client, table)).filter((run) => run.active);
  const who = active.length > 0 ? `another ploader (run ${active.map((r) => r.runId).join(', ')})` : 'another ploader';
  return new PloaderError(
    'TARGET_INVALID',
    `${who} is creating ${qualified(table)} right now with --create, so nothing was loaded — wait for it to finish, then load again: with --create if-missing the rows go into the table it made`,
  );
}

/**
 * The table to create: names from line 1 (or --columns), types from records sampled at the head of
 * the input and at the start of every chunk: a file is sampled over its whole length, a stream over
 * its first HEAD_SAMPLE_BYTES (kept from before the load, see input-head.ts).
 */
export async function defineNewTable(
  options: ResolvedLoadOptions,
  input: { head: InputHead | undefined; streaming: boolean },
  chunks: readonly Chunk[],
  table: QualifiedName,
): Promise<TableDefinition> {
  const { head } = input;
  const syntax = fieldSyntaxOf(options);
  const first = head && splitRecord(head.bytes, 0, syntax, head.whole);
  if (!first) throw new PloaderError('INPUT_UNREADABLE', `${options.file} is empty: there is nothing to infer ${qualified(table)}'s columns from — --create needs at least one line`, { position: { file: options.file } });
  const names = newColumnNames(options, first.fields);
  const sample = new RecordTypeInference(names.length);
  // A stream: its head, past the header. A file: a window at the start of each chunk (the first is past the header).
  if (input.streaming) sampleRecords(head.bytes, options.header ? first.end : 0, { syntax, atEnd: head.whole }, sample);
  for (const [index, chunk] of input.streaming ? [] : chunks.entries()) {
    const end = Math.min(chunk.end, chunk.start + (index === 0 ? HEAD_SAMPLE_BYTES : CHUNK_SAMPLE_BYTES));
    sampleRecords(await readRange(chunk.file, chunk.start, end), 0, { syntax, atEnd: end === chunk.end }, sample);
  }
  return defineTable(table, names, sample);
}

/** Every whole record of `data` from `start` (a record cut off at the end of a window is left out). */
function sampleRecords(data: Buffer, start: number, how: { syntax: FieldSyntax; atEnd: boolean }, into: RecordTypeInference): void {
  for (let record = splitRecord(data, start, how.syntax, how.atEnd); record; record = splitRecord(data, record.end, how.syntax, how.atEnd)) {
    into.add(record.fields);
  }
}

/** The stage of a table to create: the table itself under the stage's name, LOGGED (it is renamed, never copied). */
export function createNewTableStageSql(definition: TableDefinition, stage: QualifiedName, runId: string): string[] {
  return [`CREATE TABLE ${qualified(stage)} ${columnDefinitionsSql(definition.columns)}`, stageCommentSql(stage, runId, `the new table ${qualified(definition.table)}`)];
}

/** The table to be created as the plan's other steps see a target: its facts, and the file feeding all its columns. */
export function newTableColumns(definition: TableDefinition, owner: string): { target: TargetFacts; columns: string[]; defaulted: string[] } {
  return { target: newTargetFacts(definition, owner), columns: definition.columns.map((c) => c.name), defaulted: [] };
}

function newTargetFacts(definition: TableDefinition, owner: string): TargetFacts {
  return {
    oid: 0,
    table: definition.table,
    owner,
    isOwner: true,
    relkind: 'r',
    persistence: 'p',
    tablespace: null,
    columns: definition.columns.map((c) => ({ name: c.name, type: c.type, identity: '', generated: '', identitySequence: null, hasDefault: false, notNull: false, defaultExpr: null, sequence: null })),
    indexes: [],
    hasRows: false,
    triggers: { onInsert: [], onTruncate: [] },
    stageBlocker: undefined,
    swapBlockers: [],
  };
}
