/**
 * The orchestrator: options → preflight → plan → stage → worker pool → finalize → publish → report.
 * The first failure cancels the rest and drops the stage: the target is left as it was.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type pg from 'pg';
import { readServerFacts, readTargetFacts, type TargetFacts } from './plan/catalog.ts';
import {
  DuplicateKeyError,
  addLocatorSql,
  decodeLocator,
  dropLocatorSql,
  fileFedUniqueKeys,
  resolveConflicts,
  type ConflictingRecord,
  type OnConflict,
  type UniqueKey,
} from './rows/conflicts.ts';
import { connect } from './db/connection.ts';
import { copyChunks } from './copy/copy-pool.ts';
import { cancelSessions } from './copy/run-identity.ts';
import { PloaderError, cancelledError } from './errors.ts';
import { finalizeStage, finalizeSteps, planIndexBuilds, readOutgoingForeignKeys } from './finalize/finalize.ts';
import { checkInputFile, checkInputUnchanged } from './input/input-file.ts';
import { resolveLoadOptions, type LoadOptions, type ResolvedLoadOptions } from './options.ts';
import { chooseStrategy, stagingTableName, type Chunk } from './plan/plan.ts';
import { checkCopyOptions, resolveColumns } from './plan/preflight.ts';
import { locateRecords } from './rows/line-mapping.ts';
import { publishByInsert, publishBySwap, type Upsert } from './finalize/publish.ts';
import { numberRejects, writeRejects, type RejectedRecord } from './rows/rejects.ts';
import type { LoadReport, PhaseTimings } from './report/report.ts';
import {
  chooseRunToResume,
  createLedgerSql,
  dropRun,
  findLeftoverRuns,
  ledgerName,
  markChunkDoneSql,
  readResumeState,
  type LeftoverRun,
  type ResumeState,
} from './stage/run-ledger.ts';
import { planChunks, syntaxOf } from './input/split.ts';
import { DEFAULT_STREAM_BATCH_BYTES, isStreamInput, openInputStream, recordBatches } from './input/stream-batches.ts';
import { SQLSTATE } from './db/sqlstate.ts';
import { copyFromStdin, qualified, type QualifiedName } from './db/sql.ts';
import { createStageSql } from './stage/stage.ts';
import { inTransaction } from './db/transaction.ts';

export async function load(input: LoadOptions): Promise<LoadReport> {
  const options = resolveLoadOptions(input);
  const started = performance.now();
  const phases: PhaseTimings = { split: 0, load: 0, durable: 0, indexes: 0, publish: 0 };
  const streaming = isStreamInput(options.file);
  const file = options.file === '-' ? { size: 0, mtimeMs: 0 } : await checkInputFile(options.file);
  const identity = { file: path.resolve(options.file), size: file.size, mtimeMs: file.mtimeMs };
  throwIfAborted(options.signal);

  const client = await connect(options.db, 'plan');
  try {
    const server = await readServerFacts(client);
    const target = await readTargetFacts(client, options.table);
    const columns = resolveColumns(target, options);
    await checkCopyOptions(client, target, columns, options);
    const warnings: string[] = [];

    // An interrupted run of this target: continue it (--resume), or say it is there.
    const leftovers = await findLeftoverRuns(client, target.oid);
    let resumed: { run: LeftoverRun; state: ResumeState } | undefined;
    const resumable = options.resume ? chooseRunToResume(leftovers, identity) : undefined;
    if (resumable) {
      const state = await readResumeState(client, resumable);
      if (state.stageIntact) {
        resumed = { run: resumable, state };
      } else {
        await dropRun(client, resumable);
        warnings.push(`the interrupted load ${resumable.runId} lost its staged rows (its stage holds fewer than its ledger counts, as an UNLOGGED stage does after a server crash): loading from the start`);
      }
    } else if (options.resume) {
      warnings.push(`no interrupted load of ${qualified(target.table)} was found: loading from the start`);
    } else {
      warnings.push(...describeLeftovers(leftovers));
    }

    let phaseStart = performance.now();
    // A stream is cut into batches as it is read (stream-batches.ts); a file is planned up front.
    const chunks = resumed ? resumed.state.chunks : streaming ? [] : await planChunks(options, file.size);
    phases.split = performance.now() - phaseStart;

    const strategy = chooseStrategy({ server, durability: options.durability, targetHasRows: target.hasRows, truncate: options.truncate, swapBlockers: target.swapBlockers });
    const runId = resumed?.run.runId ?? randomBytes(4).toString('hex');
    const stage: QualifiedName = resumed?.run.stage ?? { schema: target.table.schema, name: stagingTableName(target.table.name, runId) };
    const ledger = ledgerName(stage);
    const copySql = copyFromStdin(stage, columns, options);
    if (resumed && resumed.run.meta?.copySql !== copySql) {
      throw new PloaderError('INVALID_OPTION', `--resume needs the options of the interrupted load ${runId}; it ran ${resumed.run.meta?.copySql} — pass the same columns and format options, or run ploader --cleanup`);
    }
    // Duplicate keys: only keys the file feeds can repeat; those loads get a record locator column.
    const appending = target.hasRows && !options.truncate;
    // Binary files: duplicates surface at the unique index build, by key (records are found by CSV/text rules).
    const uniqueKeys = options.format === 'binary' || streaming ? [] : fileFedUniqueKeys(target, columns, options.onConflict);
    const locator = uniqueKeys.length > 0;
    const upsert = upsertFor(options.onConflict, appending, uniqueKeys, columns);
    const outgoing = strategy.publish === 'swap' ? await readOutgoingForeignKeys(client, target.oid) : [];
    // A resumed run may have added some foreign keys to its stage already.
    const present = resumed ? await constraintNames(client, stage) : new Set<string>();
    const steps = finalizeSteps(strategy, target, stage, runId, outgoing.filter((fk) => !present.has(fk.name)));
    const base = { file: options.file, table: qualified(target.table), rejected: 0, bytes: file.size, chunks: chunks.length, workers: options.workers, strategy };

    if (options.dryRun) {
      return { ...base, dryRun: true, rows: 0, wallMs: performance.now() - started, phases, warnings, plan: { stage: qualified(stage), copySql, chunks, steps, indexBuilds: await planIndexBuilds(client, options, steps, file.size) } };
    }
    if (chunks.length === 0 && !streaming) {
      warnings.push(`${options.file} holds no rows${options.header ? ' after its header' : ''}: nothing was loaded and ${qualified(target.table)} is unchanged`);
      return { ...base, dryRun: false, rows: 0, wallMs: performance.now() - started, phases, warnings };
    }

    if (!resumed) {
      const meta = { runId, targetOid: target.oid, ...identity, copySql, startedAt: new Date().toISOString() };
      const statements = [
        ...createStageSql(target, stage, runId, strategy.loggedStage),
        ...(locator ? [addLocatorSql(stage)] : []),
        ...createLedgerSql(ledger, meta, chunks),
      ];
      await inTransaction(client, async () => {
        for (const statement of statements) await client.query(statement);
      });
    }
    try {
      phaseStart = performance.now();
      const pending = resumed ? chunks.filter((c) => !resumed.state.done.has(c.index)) : chunks;
      options.onProgress({
        kind: 'phase',
        phase: 'load',
        detail: streaming ? `streamed in batches, ${options.workers} workers` : `${pending.length} chunks${resumed ? ` (${chunks.length - pending.length} done before)` : ''}, ${options.workers} workers`,
      });
      const prior: RejectedRecord[] = resumed?.state.rejects ?? [];
      const source = streaming
        ? { chunks: recordBatches(openInputStream(options.file), syntaxOf(options), options.chunkBytes ?? DEFAULT_STREAM_BATCH_BYTES, options.header) }
        : { chunks: inOrder(pending), totalBytes: pending.reduce((sum, c) => sum + c.end - c.start, 0), plan: chunks };
      const copied = await copyChunks(options, source, { runId, copySql, markDoneSql: markChunkDoneSql(ledger), priorRejects: prior.length, locator }, client);
      if (streaming) Object.assign(base, { chunks: copied.recordsPerChunk.size, bytes: copied.bytes });
      if (streaming && copied.rows === 0 && copied.rejects.length === 0) {
        await dropRun(client, { stage, ledger });
        warnings.push(`${options.file} holds no rows${options.header ? ' after its header' : ''}: nothing was loaded and ${qualified(target.table)} is unchanged`);
        return { ...base, dryRun: false, rows: 0, wallMs: performance.now() - started, phases, warnings };
      }
      const rows = copied.rows + (resumed?.state.rowsDone ?? 0);
      const recordsPerChunk = new Map([...(resumed?.state.recordsPerChunk ?? []), ...copied.recordsPerChunk]);
      const duplicates = locator ? await applyConflictPolicy(client, options, stage, target, uniqueKeys, appending, chunks) : [];
      const rejects = numberRejects([...prior, ...copied.rejects, ...duplicates], recordsPerChunk);
      phases.load = performance.now() - phaseStart;
      if (options.file !== '-') await checkInputUnchanged(options.file, file);
      throwIfAborted(options.signal);

      const finalized = await finalizeStage(options, steps, runId);
      phases.durable = finalized.durable;
      phases.indexes = finalized.indexes;
      throwIfAborted(options.signal);

      phaseStart = performance.now();
      options.onProgress({ kind: 'phase', phase: 'publish', detail: strategy.publish });
      const published =
        strategy.publish === 'swap'
          ? await publishBySwap(client, target, stage, ledger, runId, strategy.truncate, rows - duplicates.length)
          : await publishByInsert(client, target, stage, ledger, strategy.truncate, upsert);
      phases.publish = performance.now() - phaseStart;
      if (published.note) warnings.push(published.note);
      if (published.rows !== rows - duplicates.length) warnings.push(`workers copied ${rows - duplicates.length} rows but ${published.rows} were published`);
      if (rejects.length > 0) {
        await writeRejects(options.file, options.rejectFile, rejects);
        warnings.push(`${rejects.length} bad rows were set aside in ${options.rejectFile} (why: ${options.rejectFile}.log)`);
      }
      return {
        ...base,
        dryRun: false,
        rows: published.rows,
        rejected: rejects.length,
        rejectFile: rejects.length > 0 ? options.rejectFile : undefined,
        wallMs: performance.now() - started,
        phases,
        warnings,
        indexBuilds: finalized.indexBuilds,
      };
    } catch (error) {
      // All or nothing: stop this run's sessions and remove what it staged. If the server is gone
      // this fails too, and the leftovers are found (and resumable) next time.
      await cancelSessions(client, runId);
      await dropRun(client, { stage, ledger }).catch(() => {});
      throw error;
    }
  } finally {
    await client.end().catch(() => {});
  }
}

async function* inOrder(chunks: readonly Chunk[]): AsyncGenerator<{ chunk: Chunk }> {
  for (const chunk of chunks) yield { chunk };
}

function describeLeftovers(leftovers: readonly LeftoverRun[]): string[] {
  return leftovers.map((run) =>
    run.active
      ? `another ploader (run ${run.runId}) is loading into this table right now, into ${qualified(run.stage)}`
      : `an interrupted load (run ${run.runId}${run.meta ? ` of ${run.meta.file}, started ${run.meta.startedAt}` : ''}) left ${qualified(run.stage)} behind: ploader --resume continues it, ploader --cleanup removes it`,
  );
}

function upsertFor(mode: OnConflict, appending: boolean, keys: readonly UniqueKey[], columns: readonly string[]): Upsert | undefined {
  if (mode !== 'update' || !appending || keys.length === 0) return undefined;
  if (keys.length > 1) {
    throw new PloaderError('INVALID_OPTION', `--on-conflict update needs one unique key to match existing rows on; ${keys.map((k) => k.index).join(' and ')} are all fed by the file — use skip or error`);
  }
  return { key: keys[0].columns, update: columns.filter((c) => !keys[0].columns.includes(c)) };
}

/**
 * Applies --on-conflict on the stage, then drops the locator column. Returns the records set aside
 * (skip) or superseded (update) as rejects; for `error`, throws naming the input lines.
 */
async function applyConflictPolicy(
  client: pg.Client,
  options: ResolvedLoadOptions,
  stage: QualifiedName,
  target: TargetFacts,
  keys: readonly UniqueKey[],
  appending: boolean,
  chunks: readonly Chunk[],
): Promise<RejectedRecord[]> {
  const locate = async (records: readonly ConflictingRecord[]) => {
    const decoded = records.map((r) => decodeLocator(r.locator));
    const positions = await locateRecords(options.file, syntaxOf(options), chunks, decoded);
    return records.map((r, i) => ({ ...positions[i], ...decoded[i], sqlstate: SQLSTATE.UNIQUE_VIOLATION, message: r.reason }));
  };
  let conflicting: ConflictingRecord[];
  try {
    conflicting = await resolveConflicts(client, stage, target, keys, options.onConflict, appending);
  } catch (error) {
    if (!(error instanceof DuplicateKeyError)) throw error;
    const located = await locate(error.records);
    const lines = located.map((r) => `${options.file}:${r.line}: ${r.message}`).join('; ');
    throw new PloaderError('DUPLICATE_KEY', `${error.message}, nothing was loaded: ${lines} — remove the duplicates, or pass --on-conflict skip (keep the first) or update (keep the last)`, {
      position: { file: options.file, line: located[0].line },
      server: { sqlstate: SQLSTATE.UNIQUE_VIOLATION },
    });
  }
  await client.query(dropLocatorSql(stage));
  return locate(conflicting);
}

async function constraintNames(client: pg.Client, table: QualifiedName): Promise<Set<string>> {
  const { rows } = await client.query<{ conname: string }>('SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass', [qualified(table)]);
  return new Set(rows.map((r) => r.conname));
}



function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw cancelledError();
}

