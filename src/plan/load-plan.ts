/**
 * The LoadPlan: everything one load will do, decided once before anything is written, from the
 * options, the input file and what the catalog says about the server and the target. Every phase
 * after this (stage, copy, rows, finalize, publish, report) takes the plan and decides nothing new.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type pg from 'pg';
import { readServerFacts, readTargetFacts, resolveTargetName, type ResolvedTable, type ServerFacts, type TargetFacts } from './catalog.ts';
import type { Chunk } from './chunks.ts';
import { claimNewTable, defineNewTable, HEAD_SAMPLE_BYTES, newTableColumns } from './create-target.ts';
import { resolveFileColumns } from './file-columns.ts';
import { checkCopyOptions, probeFirstRecords } from './preflight.ts';
import { columnDefinitionsSql, type TableDefinition } from './table-definition.ts';
import { chooseStrategy, type Strategy } from './strategy.ts';
import { tryLockRun, unlockRun } from '../copy/run-identity.ts';
import { describeBlockers, type LockWait } from '../db/lock-wait.ts';
import { copyFromStdin, qualified, type QualifiedName } from '../db/sql.ts';
import { PloaderError } from '../errors.ts';
import { finalizeSteps, readOutgoingForeignKeys, type FinalizeSteps, type IndexBuildReport } from '../finalize/finalize.ts';
import { fieldSyntaxOf } from '../input/first-record.ts';
import { firstRecordOf, readInputHead, type InputHead, type PeekedStream } from '../input/input-head.ts';
import { checkHeadersAgree, inspectFiles, type InputFile } from '../input/input-files.ts';
import { planChunks } from '../input/split.ts';
import { isStreamInput } from '../input/stream-batches.ts';
import type { ResolvedLoadOptions } from '../options.ts';
import type { PhaseClock } from '../report/phase-clock.ts';
import { fileFedUniqueKeys, planUpsert, type UniqueKey, type Upsert } from '../rows/conflicts.ts';
import { chooseRunToResume, claimRun, describeFiles, dropRun, findLeftoverRuns, ledgerName, readResumeState, type LeftoverRun, type ResumeState } from '../stage/run-ledger.ts';
import type { RunSessions } from '../stage/run-sessions.ts';
import { stagingTableName } from '../stage/stage.ts';
import { planIdColumns, type IdColumn, type IdReservation } from '../rows/serial-ids.ts';

/** The input as found before the load: a file's identity (to resume it, and to see it change), or a stream. */
export interface InputFacts {
  file: string;
  /** Standard input or a .gz file: cut into batches as it is read, no byte offsets to return to. */
  streaming: boolean;
  /** Every input file, in load order, with its absolute path, size and mtime as the run ledger records them (a stream: itself). */
  files: InputFile[];
  /** The size of all of them (standard input: 0, not known before it is read). */
  bytes: number;
  /** The first bytes of a csv or text input: its first record (and, for --create, more to sample), read once. */
  head: InputHead | undefined;
  /** The file `head` is of: the first that is not empty (an empty file has no header, nor a first record). */
  headFile: string;
  /** A stream, its head put back: what the load reads (undefined for a file). */
  stream: PeekedStream | undefined;
}

/** How duplicate keys are handled: the unique keys the file feeds, and the stage's record locator. */
export interface ConflictPlan {
  keys: UniqueKey[];
  /** The target already holds rows and keeps them: keys are checked against them too. */
  appending: boolean;
  /** The stage has a locator column naming each row's record (only when `keys` is not empty). */
  locator: boolean;
  /** --on-conflict update into a table with rows: INSERT ... ON CONFLICT DO UPDATE. */
  upsert: Upsert | undefined;
}

/** An interrupted run this load continues (--resume): its committed chunks are not copied again. */
export interface ResumedRun {
  run: LeftoverRun;
  state: ResumeState;
}

export interface LoadPlan {
  options: ResolvedLoadOptions;
  input: InputFacts;
  server: ServerFacts;
  target: TargetFacts;
  /** The columns the file feeds, in file order. */
  columns: string[];
  /** Columns COPY can fill that the file does not feed: their defaults fill them. */
  defaulted: string[];
  /** The table --create makes (it does not exist yet), or undefined. */
  create: TableDefinition | undefined;
  runId: string;
  stage: QualifiedName;
  ledger: QualifiedName;
  /** The COPY every chunk runs, into the stage. */
  copySql: string;
  /** Every chunk of a file (a stream's are cut as it is read: none here). */
  chunks: Chunk[];
  /** The chunks still to copy: all of them, or those the resumed run had not committed. */
  pending: Chunk[];
  resumed: ResumedRun | undefined;
  strategy: Strategy;
  steps: FinalizeSteps;
  conflicts: ConflictPlan;
  /** Stage columns filled from a sequence, numbered in file order (rows/serial-ids.ts). */
  ids: IdColumn[];
  /** The ids reserved for them; filled by reserveIdsInOrder (a resumed run's come from its ledger). */
  idReservation: IdReservation;
  /** Things the user should know, gathered while planning and loading; printed with the report. */
  warnings: string[];
  /** The index builds as the finalizer scheduled and ran them (set by the finalize phase). */
  indexBuilds?: IndexBuildReport[];
}

export async function inspectInput(options: ResolvedLoadOptions): Promise<InputFacts> {
  const streaming = isStreamInput(options.file);
  const files = options.file === '-' ? [{ file: '-', identity: { file: path.resolve('-'), size: 0, mtimeMs: 0 } }] : await inspectFiles(options.files);
  const headFile = (files.find((f) => f.identity.size > 0) ?? files[0]).file;
  // A stream's head is also the sample --create infers its columns from.
  const { head, stream } = await readInputHead({ ...options, file: headFile }, streaming, options.create && streaming ? HEAD_SAMPLE_BYTES : 0);
  await checkHeadersAgree(options, { file: headFile, head });
  return { file: options.file, streaming, files, bytes: files.reduce((sum, f) => sum + f.identity.size, 0), head, headFile, stream };
}

/**
 * Plans the load under the DDL fence: the target is resolved, the fence taken on the main session, and
 * only then are its facts read, so they stay true until publish. The run's advisory lock is taken
 * here too, before anything of the run exists (a resumed run's lock is taken over, or the load fails).
 */
export async function planLoad(sessions: RunSessions, options: ResolvedLoadOptions, input: InputFacts, clock: PhaseClock): Promise<LoadPlan> {
  const { admin, main } = sessions;
  // --create: a table that does not exist yet is claimed (create-target.ts), and has no facts to read until its columns are inferred.
  const newTable = options.create ? await claimNewTable(sessions, options) : undefined;
  const existing = newTable ? undefined : await fenceTarget(sessions, options);
  const server = await readServerFacts(admin);
  const found = existing && (await readTargetFacts(admin, existing));
  const fileColumns = found && resolveFileColumns(found, { ...options, file: input.headFile }, firstRecordOf(input.head, fieldSyntaxOf(options)));
  const table = found?.table ?? newTable!.table;
  const { resumed, warnings } = await findRunToResume(sessions, options, { oid: found?.oid, table }, input);
  // The sequence-filled columns the file does not feed (a table --create makes has none).
  const ids = found && fileColumns ? planIdColumns(found, fileColumns.columns) : [];
  // The first error in file order, before anything is written and before a large file is scanned.
  // Without TEMP there is no twin to probe: the first chunk's COPY judges the records instead.
  if (found && fileColumns && !resumed && found.stageBlocker === undefined && server.tempAllowed) {
    await probeFirstRecords(admin, { target: found, columns: fileColumns.columns, numbered: ids.map((id) => id.column) }, options);
  }

  // A stream is cut into batches as it is read (stream-batches.ts); a file is planned up front.
  const noSplit = { chunks: resumed?.state.chunks ?? [], warnings: [] };
  const split = await clock.time('split', async () => (resumed || input.streaming ? noSplit : planChunks(options, input.files.map((f) => ({ file: f.file, size: f.identity.size })), server.versionNum)));
  const { chunks } = split;
  warnings.push(...split.warnings);
  const create = newTable && (await defineNewTable({ ...options, file: input.headFile }, input, chunks, newTable.table));
  const { target, columns, defaulted } = create ? newTableColumns(create, newTable.owner) : { target: found!, ...fileColumns! };
  const strategy = chooseStrategy({
    server,
    durability: options.durability,
    publish: options.publish,
    targetHasRows: target.hasRows,
    truncate: options.truncate,
    swapBlockers: target.swapBlockers,
    persistence: target.persistence,
    firingTriggers: options.truncate ? [...new Set([...target.triggers.onInsert, ...target.triggers.onTruncate])] : target.triggers.onInsert,
    stageBlocker: target.stageBlocker ?? (server.tempAllowed ? undefined : tempBlocker(options, ids)),
    stageNeededFor: stageNeededFor(options),
    resumedStageLogged: resumed?.state.stageLogged,
    creating: create !== undefined,
  });
  // The direct COPY is judged by the server at once, with nothing loaded; the others are checked first.
  // One COPY needs no TEMP: without it there is no twin, and the first chunk's COPY judges the options
  // (before any row is in, so nothing is loaded either way).
  if (strategy.publish !== 'direct' && server.tempAllowed) await checkCopyOptions(admin, create ? { definition: columnDefinitionsSql(create.columns) } : { like: target.table }, columns, options);
  // A resumed run's lock is held on main already (findRunToResume).
  const runId = resumed?.run.runId ?? (await newRunId(main));
  const stage: QualifiedName = resumed?.run.stage ?? { schema: target.table.schema, name: stagingTableName(target.table.name, runId) };
  const copySql = copyFromStdin(strategy.publish === 'direct' ? target.table : stage, columns, options);
  if (resumed && resumed.run.meta.copySql !== copySql) {
    throw new PloaderError('INVALID_OPTION', `--resume needs the options of the interrupted load ${runId}; it ran ${resumed.run.meta.copySql} — pass the same columns and format options, or run ploader --cleanup`);
  }
  const conflicts = planConflicts(options, target, columns, input.streaming);
  const outgoing = strategy.publish === 'swap' ? await readOutgoingForeignKeys(admin, target.oid) : [];
  // A resumed run may have added some foreign keys to its stage already.
  const present = resumed ? await constraintNames(admin, stage) : new Set<string>();
  return {
    options,
    input,
    server,
    target,
    columns,
    defaulted,
    create,
    runId,
    stage,
    ledger: ledgerName(stage),
    copySql,
    chunks,
    pending: resumed ? chunks.filter((c) => !resumed.state.done.has(c.index)) : chunks,
    resumed,
    strategy,
    steps: finalizeSteps({ strategy, target, stage, runId }, outgoing.filter((fk) => !present.has(fk.name))),
    conflicts,
    // One COPY into the target draws its ids in file order itself.
    ids: strategy.publish === 'direct' ? [] : ids,
    idReservation: resumed?.run.meta?.ids ?? {},
    warnings,
  };
}

/** Resolves the target, opens the fence on it, and checks it is still the table the name resolved to. */
async function fenceTarget(sessions: RunSessions, options: ResolvedLoadOptions): Promise<ResolvedTable> {
  const resolved = await resolveTargetName(sessions.admin, options.table);
  await sessions.fence(resolved.table, (wait) => options.onProgress({ kind: 'phase', phase: 'waiting', detail: describeWait(wait) }));
  const { rows: [still] } = await sessions.main.query<{ oid: number | null }>('SELECT to_regclass($1)::oid AS oid', [qualified(resolved.table)]);
  if (Number(still.oid) !== resolved.oid) {
    throw new PloaderError('TARGET_INVALID', `${qualified(resolved.table)} was dropped or replaced while ploader waited for it — load again`);
  }
  return resolved;
}

/** A fresh run id whose advisory lock this session now holds. */
async function newRunId(main: pg.Client): Promise<string> {
  for (;;) {
    // The top bit clear keeps the id a positive int4 lock key.
    const bytes = randomBytes(4);
    bytes[0] &= 0x7f;
    const runId = bytes.toString('hex');
    if (await tryLockRun(main, runId)) return runId;
  }
}

/**
 * Why this load cannot work through a stage when the role may not create temporary tables, if so:
 * ids in file order are numbered by per-session temporary sequences (rows/record-counters.ts),
 * bad-row isolation probes into a temporary twin, and duplicate keys are resolved through a
 * temporary table.
 */
function tempBlocker(options: ResolvedLoadOptions, ids: readonly IdColumn[]): string | undefined {
  const needs = [
    ...(ids.length > 0 ? [`numbering ${ids.map((id) => id.column).join(', ')} in file order`] : []),
    ...(options.maxErrors > 0 ? ['setting bad rows aside'] : []),
    ...(options.onConflict !== 'error' ? ['resolving duplicate keys'] : []),
  ];
  if (needs.length === 0) return undefined;
  return `the current user may not create temporary tables in this database, which ${needs.join(' and ')} across parallel sessions needs`;
}

/** What in this load needs a stage (and so cannot go straight into the target), if anything. */
function stageNeededFor(options: ResolvedLoadOptions): string | undefined {
  if (options.maxErrors > 0) return '--max-errors';
  if (options.onConflict !== 'error') return `--on-conflict ${options.onConflict}`;
  if (options.resume) return '--resume';
  return undefined;
}

function describeWait(wait: LockWait): string {
  return `waiting ${Math.round(wait.waitedMs / 1000)} s for a ${wait.mode} lock on ${wait.tables.join(', ')}, held by ${describeBlockers(wait.blockers)}`;
}

/** An interrupted run of this target: the one to continue (--resume), or a warning that it is there. */
async function findRunToResume(
  sessions: RunSessions,
  options: ResolvedLoadOptions,
  target: { oid: number | undefined; table: QualifiedName },
  input: InputFacts,
): Promise<{ resumed: ResumedRun | undefined; warnings: string[] }> {
  const leftovers = await findLeftoverRuns(sessions.admin, { oid: target.oid, ...target.table });
  if (!options.resume) return { resumed: undefined, warnings: describeLeftovers(leftovers) };
  const resumable = chooseRunToResume(leftovers, input.files);
  if (!resumable) {
    throw new PloaderError(
      'NOTHING_TO_RESUME',
      `--resume: no interrupted load of ${qualified(target.table)} was found (looked for run ledgers recording this table by name or oid), so nothing was loaded — load without --resume to start afresh`,
    );
  }
  // The run's lock first, on the session that keeps it until publish, and only then its ledger read:
  // between reading the ledgers and taking the lock, another ploader may have resumed it (its ledger
  // counts more chunks now) or published it (its ledger is gone).
  const claim = await claimRun(sessions.main, resumable);
  if (claim === 'active') {
    throw new PloaderError('TARGET_INVALID', `another ploader took over the interrupted load ${resumable.runId} a moment ago — wait for it to finish`);
  }
  if (claim === 'gone') {
    throw new PloaderError('NOTHING_TO_RESUME', `--resume: the interrupted load ${resumable.runId} was finished or removed by another ploader a moment ago, so nothing was loaded — check the table, and load without --resume to start afresh`);
  }
  const state = await readResumeState(sessions.admin, resumable, options.files);
  if (state.stageIntact) return { resumed: { run: resumable, state }, warnings: [] };
  await dropRun(sessions.admin, resumable);
  await unlockRun(sessions.main, resumable.runId);
  const lost = `the interrupted load ${resumable.runId} lost its staged rows (its stage holds fewer than its ledger counts, as an UNLOGGED stage does after a server crash): loading from the start`;
  return { resumed: undefined, warnings: [lost] };
}

function describeLeftovers(leftovers: readonly LeftoverRun[]): string[] {
  return leftovers.map((run) =>
    run.active
      ? `another ploader (run ${run.runId}) is loading into this table right now, into ${qualified(run.stage)}`
      : `an interrupted load (run ${run.runId}${run.meta ? ` of ${describeFiles(run.meta.files.map((f) => f.file))}, started ${run.meta.startedAt}` : ''}) left ${qualified(run.stage)} behind: ploader --resume continues it, ploader --cleanup removes it`,
  );
}

/** Only keys the file feeds can repeat; loads that feed one get a record locator column. */
function planConflicts(options: ResolvedLoadOptions, target: TargetFacts, columns: readonly string[], streaming: boolean): ConflictPlan {
  const appending = target.hasRows && !options.truncate;
  // Binary files and streams: duplicates surface at the unique index build, by key (records are found by CSV/text rules in a file).
  const keys = options.format === 'binary' || streaming ? [] : fileFedUniqueKeys(target, columns, options.onConflict);
  return { keys, appending, locator: keys.length > 0, upsert: planUpsert(options.onConflict, appending, keys, columns) };
}

async function constraintNames(client: pg.Client, table: QualifiedName): Promise<Set<string>> {
  const { rows } = await client.query<{ conname: string }>('SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass', [qualified(table)]);
  return new Set(rows.map((r) => r.conname));
}
