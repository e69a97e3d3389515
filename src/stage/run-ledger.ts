/**
 * The run ledger: a small LOGGED table beside the stage, one row per chunk, that says which chunks
 * are committed in the stage. A worker commits its chunk's rows and its ledger row in one transaction,
 * so the ledger never claims a chunk the stage does not hold, and `--resume` never loads a chunk twice.
 *
 * Leftovers of an interrupted run (kill -9, a lost connection, a server restart) are found by what
 * their ledger records in its comment (RunMeta): the target by oid and by name (so they are found
 * after the target was swapped or re-created), the exact stage, the file. A run is active exactly
 * while its advisory lock is held (copy/run-identity.ts); nothing here judges by names or sessions.
 * An UNLOGGED stage comes back empty after a server crash while the logged ledger survives:
 * `readResumeState` compares the two and says so.
 */
import type pg from 'pg';
import { activeRuns, tryLockRun, unlockRun } from '../copy/run-identity.ts';
import { PloaderError } from '../errors.ts';
import type { Chunk } from '../plan/chunks.ts';
import type { IdReservation } from '../rows/serial-ids.ts';
import { qualified, quoteLiteral, type QualifiedName } from '../db/sql.ts';

export const LEDGER_SUFFIX = '_chunks';

/** Marks a ledger's comment as ploader's run record (and its layout's version: v3 records several files). */
export const RUN_META_KIND = 'ploader run v3';
/** A run of the layout before: one file in the meta, no file column in the ledger (read as file 0). */
const RUN_META_KIND_V2 = 'ploader run v2';
/** The opening every run record's comment shares, whatever its version. */
const RUN_META_OPENING = '{"kind":"ploader run v';

/** An input file as the run recorded it: absolute path, size and mtime. */
export interface RunFile {
  file: string;
  size: number;
  mtimeMs: number;
}

/** What the ledger records about its run: what a resumed run must match, and what --cleanup drops. */
export interface RunMeta {
  kind: typeof RUN_META_KIND | typeof RUN_META_KIND_V2;
  runId: string;
  target: { oid: number; schema: string; name: string };
  stage: QualifiedName;
  /** The input files, in load order; a ledger row's `file` is an index into them. */
  files: RunFile[];
  copySql: string;
  startedAt: string;
  /** Ids reserved in file order (rows/serial-ids.ts): a resumed run numbers its chunks from the same ranges. */
  ids?: IdReservation;
}

export interface LeftoverRun {
  runId: string;
  stage: QualifiedName;
  ledger: QualifiedName;
  meta: RunMeta;
  /** The stage table is still there (someone may have dropped it by hand). */
  stageExists: boolean;
  /** Its advisory lock is held: another ploader is loading right now. */
  active: boolean;
}

export function ledgerName(stage: QualifiedName): QualifiedName {
  return { schema: stage.schema, name: `${stage.name}${LEDGER_SUFFIX}` };
}

export function createLedgerSql(ledger: QualifiedName, meta: RunMeta, chunks: readonly Chunk[], files: readonly string[]): string[] {
  const statements = [
    `CREATE TABLE ${qualified(ledger)} (chunk int PRIMARY KEY, file int NOT NULL, start_byte bigint NOT NULL, end_byte bigint NOT NULL, line bigint NOT NULL, first_record bigint NOT NULL, records bigint NOT NULL, rows bigint, rejects jsonb)`,
    `COMMENT ON TABLE ${qualified(ledger)} IS ${quoteLiteral(JSON.stringify(meta))}`,
  ];
  if (chunks.length > 0) {
    const values = chunks.map((c) => `(${c.index}, ${files.indexOf(c.file)}, ${c.start}, ${c.end}, ${c.line}, ${c.firstRecord}, ${c.records})`).join(', ');
    statements.push(`INSERT INTO ${qualified(ledger)} (chunk, file, start_byte, end_byte, line, first_record, records) VALUES ${values}`);
  }
  return statements;
}

/** Run by the worker inside its chunk's transaction, after the COPY; `rejects` is the count of bad rows it set aside. */
export function markChunkDoneSql(ledger: QualifiedName): string {
  return `UPDATE ${qualified(ledger)} SET rows = $2, rejects = $3 WHERE chunk = $1`;
}

/**
 * The runs recorded for a target: by its oid, or by its schema and name (a run whose target was since
 * swapped or dropped and re-created). `target.oid` may be undefined when the table no longer exists.
 */
export async function findLeftoverRuns(client: pg.Client, target: { oid?: number; schema: string; name: string }): Promise<LeftoverRun[]> {
  const { rows } = await client.query<{ schema: string; name: string; comment: string }>(
    `SELECT n.nspname AS schema, c.relname AS name, d.description AS comment
       FROM pg_description d JOIN pg_class c ON c.oid = d.objoid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE d.classoid = 'pg_class'::regclass AND d.objsubid = 0 AND c.relkind = 'r' AND starts_with(d.description, $1)`,
    [RUN_META_OPENING],
  );
  const runs: LeftoverRun[] = [];
  for (const row of rows) {
    const meta = parseMeta(row.comment);
    if (!meta) continue;
    const sameTable = meta.target.oid === target.oid || (meta.target.schema === target.schema && meta.target.name === target.name);
    if (!sameTable) continue;
    const { rows: [found] } = await client.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [qualified(meta.stage)]);
    runs.push({ runId: meta.runId, stage: meta.stage, ledger: { schema: row.schema, name: row.name }, meta, stageExists: found.exists, active: false });
  }
  const active = await activeRuns(client, runs.map((r) => r.runId));
  for (const run of runs) run.active = active.has(run.runId);
  return runs;
}

function parseMeta(comment: string): RunMeta | undefined {
  try {
    const meta = JSON.parse(comment) as RunMeta & Partial<RunFile>;
    if (!/^[0-9a-f]{8}$/.test(meta.runId)) return undefined;
    if (meta.kind === RUN_META_KIND) return meta;
    if (meta.kind !== RUN_META_KIND_V2) return undefined;
    const { file, size, mtimeMs, ...rest } = meta;
    return { ...rest, files: [{ file: file!, size: size!, mtimeMs: mtimeMs! }] };
  } catch {
    return undefined;
  }
}

export interface ResumeState {
  chunks: Chunk[];
  done: Set<number>;
  rowsDone: number;
  /** Bad rows the committed chunks set aside (their bytes and reasons are in the run's reject spools). */
  rejected: number;
  /** False when the stage lost committed rows (an UNLOGGED table is emptied by a server crash). */
  stageIntact: boolean;
  /** The stage is a LOGGED table. */
  stageLogged: boolean;
}

/** `files`: the load's input files as given, in the order the run recorded them (chooseRunToResume checked it). */
export async function readResumeState(client: pg.Client, run: LeftoverRun, files: readonly string[]): Promise<ResumeState> {
  const file = run.meta.kind === RUN_META_KIND_V2 ? '0' : 'file';
  const { rows } = await client.query<{ chunk: number; file: number; start_byte: string; end_byte: string; line: string; first_record: string; records: string; rows: string | null; rejects: number | null }>(
    `SELECT chunk, ${file} AS file, start_byte, end_byte, line, first_record, records, rows, rejects FROM ${qualified(run.ledger)} ORDER BY chunk`,
  );
  const state: ResumeState = { chunks: [], done: new Set(), rowsDone: 0, rejected: 0, stageIntact: true, stageLogged: true };
  for (const row of rows) {
    state.chunks.push({
      index: row.chunk, file: files[row.file], start: Number(row.start_byte), end: Number(row.end_byte), line: Number(row.line),
      firstRecord: Number(row.first_record), records: Number(row.records),
    });
    if (row.rows === null) continue;
    state.done.add(row.chunk);
    state.rowsDone += Number(row.rows);
    state.rejected += Number(row.rejects ?? 0);
  }
  const { rows: [{ count }] } = await client.query<{ count: string }>(`SELECT count(*) AS count FROM ${qualified(run.stage)}`);
  state.stageIntact = Number(count) === state.rowsDone;
  const { rows: [{ persistence }] } = await client.query<{ persistence: string }>('SELECT relpersistence::text AS persistence FROM pg_class WHERE oid = $1::regclass', [qualified(run.stage)]);
  state.stageLogged = persistence === 'p';
  return state;
}

/**
 * Takes a leftover run's lock, for this session to drop or continue it: 'active' while another
 * ploader holds it, 'gone' when the ledger was dropped before the lock was ours (the run published,
 * or another --cleanup removed it, between reading the ledgers and taking the lock). Only 'claimed'
 * leaves the lock held.
 */
export async function claimRun(client: pg.Client, run: Pick<LeftoverRun, 'runId' | 'ledger'>): Promise<'claimed' | 'active' | 'gone'> {
  if (!(await tryLockRun(client, run.runId))) return 'active';
  const { rows: [found] } = await client.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [qualified(run.ledger)]);
  if (found.exists) return 'claimed';
  await unlockRun(client, run.runId);
  return 'gone';
}

/** Drops a run's stage and ledger in one statement, so neither is ever left without the other. */
export async function dropRun(client: pg.Client, run: Pick<LeftoverRun, 'stage' | 'ledger'>): Promise<void> {
  await client.query(`DROP TABLE IF EXISTS ${qualified(run.stage)}, ${qualified(run.ledger)}`);
}

/** The run to resume, or why none can be; undefined when there is nothing to resume. */
export function chooseRunToResume(runs: readonly LeftoverRun[], files: ReadonlyArray<{ file: string; identity: RunFile }>): LeftoverRun | undefined {
  const idle = runs.filter((r) => !r.active);
  if (runs.some((r) => r.active)) {
    throw new PloaderError('TARGET_INVALID', `another ploader is loading into this table right now (run ${runs.find((r) => r.active)!.runId}) — wait for it to finish`);
  }
  if (idle.length === 0) return undefined;
  if (idle.length > 1) {
    throw new PloaderError('TARGET_INVALID', `${idle.length} interrupted loads into this table were found (runs ${idle.map((r) => r.runId).join(', ')}) — run ploader --cleanup, then load again`);
  }
  const [run] = idle;
  if (!run.stageExists) {
    throw new PloaderError('TARGET_INVALID', `the interrupted load ${run.runId} lost its stage ${qualified(run.stage)} (dropped by hand?) — run ploader --cleanup, then load again`);
  }
  const changed = fileListChange(run.meta.files, files.map((f) => f.identity));
  if (changed) {
    throw new PloaderError('INPUT_CHANGED', `the interrupted load ${run.runId} was of ${describeFiles(run.meta.files.map((f) => f.file))}; ${changed} — resume it with the same files, unchanged, in the same order, or run ploader --cleanup, then load again`, {
      position: { file: files[0].file },
    });
  }
  return run;
}

/** Pure: why this load's files are not the ones a run recorded (another list, or a file changed since), or undefined. */
export function fileListChange(recorded: readonly RunFile[], now: readonly RunFile[]): string | undefined {
  const names = (files: readonly RunFile[]) => files.map((f) => f.file).join(', ');
  if (recorded.length !== now.length || recorded.some((r, i) => r.file !== now[i].file)) {
    return `this load names ${now.length === 1 ? now[0].file : `${now.length} files (${names(now)})`}, not ${recorded.length === 1 ? 'that file' : `those ${recorded.length} files in that order`}`;
  }
  const index = recorded.findIndex((r, i) => r.size !== now[i].size || r.mtimeMs !== now[i].mtimeMs);
  if (index < 0) return undefined;
  const [was, is] = [recorded[index], now[index]];
  const how = was.size === is.size ? `been modified since (mtime ${new Date(was.mtimeMs).toISOString()} → ${new Date(is.mtimeMs).toISOString()})` : `changed since (${was.size} → ${is.size} bytes)`;
  return `${is.file} has ${how}`;
}

/** `a.csv`, or `3 files (a.csv, b.csv, c.csv)`, for messages and warnings. */
export function describeFiles(files: readonly string[]): string {
  if (files.length <= 1) return files[0] ?? '';
  return `${files.length} files (${files.join(', ')})`;
}
