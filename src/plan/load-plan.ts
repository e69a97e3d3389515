/**
 * The LoadPlan: everything one load will do, decided once before anything is written, from the
 * options, the input file and what the catalog says about the server and the target. Every phase
 * after this (stage, copy, rows, finalize, publish, report) takes the plan and decides nothing new.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type pg from 'pg';
import { readServerFacts, readTargetFacts, type ServerFacts, type TargetFacts } from './catalog.ts';
import type { Chunk } from './chunks.ts';
import { checkCopyOptions, probeFirstRecords, resolveColumns } from './preflight.ts';
import { chooseStrategy, type Strategy } from './strategy.ts';
import { copyFromStdin, qualified, type QualifiedName } from '../db/sql.ts';
import { PloaderError } from '../errors.ts';
import { finalizeSteps, readOutgoingForeignKeys, type FinalizeSteps } from '../finalize/finalize.ts';
import { checkInputFile } from '../input/input-file.ts';
import { countChunkRecords, planChunks } from '../input/split.ts';
import { isStreamInput } from '../input/stream-batches.ts';
import type { ResolvedLoadOptions } from '../options.ts';
import type { PhaseClock } from '../report/phase-clock.ts';
import { fileFedUniqueKeys, planUpsert, type UniqueKey, type Upsert } from '../rows/conflicts.ts';
import { chooseRunToResume, dropRun, findLeftoverRuns, ledgerName, readResumeState, type LeftoverRun, type ResumeState } from '../stage/run-ledger.ts';
import { stagingTableName } from '../stage/stage.ts';
import { planIdColumns, type IdColumn, type IdReservation } from '../rows/serial-ids.ts';

/** The input as found before the load: a file's identity (to resume it, and to see it change), or a stream. */
export interface InputFacts {
  file: string;
  /** Standard input or a .gz file: cut into batches as it is read, no byte offsets to return to. */
  streaming: boolean;
  /** Absolute path, size and mtime of a file, as the run ledger records them. */
  identity: { file: string; size: number; mtimeMs: number };
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
}

export async function inspectInput(options: ResolvedLoadOptions): Promise<InputFacts> {
  const streaming = isStreamInput(options.file);
  const file = options.file === '-' ? { size: 0, mtimeMs: 0 } : await checkInputFile(options.file);
  return { file: options.file, streaming, identity: { file: path.resolve(options.file), size: file.size, mtimeMs: file.mtimeMs } };
}

export async function planLoad(client: pg.Client, options: ResolvedLoadOptions, input: InputFacts, clock: PhaseClock): Promise<LoadPlan> {
  const server = await readServerFacts(client);
  const target = await readTargetFacts(client, options.table);
  const columns = resolveColumns(target, options);
  await checkCopyOptions(client, target, columns, options);
  const ids = planIdColumns(target, columns);
  const { resumed, warnings } = await findRunToResume(client, options, target, input);
  if (!resumed) await probeFirstRecords(client, target, columns, options, ids.map((id) => id.column));

  // A stream is cut into batches as it is read (stream-batches.ts); a file is planned up front.
  const chunks = await clock.time('split', async () => (resumed ? countChunkRecords(options, resumed.state.chunks) : input.streaming ? [] : planChunks(options, input.identity.size)));
  const strategy = chooseStrategy({ server, durability: options.durability, targetHasRows: target.hasRows, truncate: options.truncate, swapBlockers: target.swapBlockers });
  const runId = resumed?.run.runId ?? randomBytes(4).toString('hex');
  const stage: QualifiedName = resumed?.run.stage ?? { schema: target.table.schema, name: stagingTableName(target.table.name, runId) };
  const copySql = copyFromStdin(stage, columns, options);
  if (resumed && resumed.run.meta?.copySql !== copySql) {
    throw new PloaderError('INVALID_OPTION', `--resume needs the options of the interrupted load ${runId}; it ran ${resumed.run.meta?.copySql} — pass the same columns and format options, or run ploader --cleanup`);
  }
  const conflicts = planConflicts(options, target, columns, input.streaming);
  const outgoing = strategy.publish === 'swap' ? await readOutgoingForeignKeys(client, target.oid) : [];
  // A resumed run may have added some foreign keys to its stage already.
  const present = resumed ? await constraintNames(client, stage) : new Set<string>();
  return {
    options,
    input,
    server,
    target,
    columns,
    runId,
    stage,
    ledger: ledgerName(stage),
    copySql,
    chunks,
    pending: resumed ? chunks.filter((c) => !resumed.state.done.has(c.index)) : chunks,
    resumed,
    strategy,
    steps: finalizeSteps(strategy, target, stage, runId, outgoing.filter((fk) => !present.has(fk.name))),
    conflicts,
    ids,
    idReservation: resumed?.run.meta?.ids ?? {},
    warnings,
  };
}

/** An interrupted run of this target: the one to continue (--resume), or a warning that it is there. */
async function findRunToResume(
  client: pg.Client,
  options: ResolvedLoadOptions,
  target: TargetFacts,
  input: InputFacts,
): Promise<{ resumed: ResumedRun | undefined; warnings: string[] }> {
  const leftovers = await findLeftoverRuns(client, target.oid);
  if (!options.resume) return { resumed: undefined, warnings: describeLeftovers(leftovers) };
  const resumable = chooseRunToResume(leftovers, input.identity);
  if (!resumable) {
    return { resumed: undefined, warnings: [`no interrupted load of ${qualified(target.table)} was found: loading from the start`] };
  }
  const state = await readResumeState(client, resumable);
  if (state.stageIntact) return { resumed: { run: resumable, state }, warnings: [] };
  await dropRun(client, resumable);
  const lost = `the interrupted load ${resumable.runId} lost its staged rows (its stage holds fewer than its ledger counts, as an UNLOGGED stage does after a server crash): loading from the start`;
  return { resumed: undefined, warnings: [lost] };
}

function describeLeftovers(leftovers: readonly LeftoverRun[]): string[] {
  return leftovers.map((run) =>
    run.active
      ? `another ploader (run ${run.runId}) is loading into this table right now, into ${qualified(run.stage)}`
      : `an interrupted load (run ${run.runId}${run.meta ? ` of ${run.meta.file}, started ${run.meta.startedAt}` : ''}) left ${qualified(run.stage)} behind: ploader --resume continues it, ploader --cleanup removes it`,
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
