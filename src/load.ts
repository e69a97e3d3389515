/**
 * The orchestrator: options → preflight → plan → stage → worker pool → finalize → publish → report.
 * The first failure cancels the rest and drops the stage: the target is left as it was.
 */
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { createRequire } from 'node:module';
import { stat } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import type pg from 'pg';
import { Piscina } from 'piscina';
import type { CopyChunkResult, CopyChunkTask } from '../workers/copy-chunk.ts';
import { readServerFacts, readTargetFacts, type TargetFacts } from './catalog.ts';
import { connect } from './connection.ts';
import { PloaderError, fromWire, type WireError } from './errors.ts';
import { finalizeSteps, readOutgoingForeignKeys, runInParallelSessions, type FinalizeSteps } from './finalize.ts';
import { locateChunkError } from './line-mapping.ts';
import { resolveLoadOptions, type LoadOptions, type ResolvedLoadOptions } from './options.ts';
import { buildChunks, chooseStrategy, chunkTargets, defaultChunkBytes, stagingTableName, type Chunk, type Strategy } from './plan.ts';
import { checkCopyOptions, resolveColumns } from './preflight.ts';
import { publishByInsert, publishBySwap } from './publish.ts';
import { numberRejects, writeRejects, type RejectReport, type RejectedRecord } from './rejects.ts';
import type { LoadReport, PhaseTimings } from './report.ts';
import { scanFileRecordStarts } from './scan/file-boundaries.ts';
import type { RecordSyntax } from './scan/record-syntax.ts';
import { copyFromStdin, qualified, type QualifiedName } from './sql.ts';
import { SQLSTATE } from './sqlstate.ts';
import { createStage, dropStageSql } from './stage.ts';

export async function load(input: LoadOptions): Promise<LoadReport> {
  const options = resolveLoadOptions(input);
  const started = performance.now();
  const phases: PhaseTimings = { split: 0, load: 0, durable: 0, indexes: 0, publish: 0 };
  const file = await checkInputFile(options.file);
  throwIfAborted(options.signal);

  const client = await connect(options.db, 'plan');
  try {
    const server = await readServerFacts(client);
    const target = await readTargetFacts(client, options.table);
    const columns = resolveColumns(target, options);
    await checkCopyOptions(client, target, columns, options);

    let phaseStart = performance.now();
    const chunks = await planChunks(options, file.size);
    phases.split = performance.now() - phaseStart;

    const strategy = chooseStrategy({ server, targetHasRows: target.hasRows, truncate: options.truncate, swapBlockers: target.swapBlockers });
    const runId = randomBytes(4).toString('hex');
    const stage: QualifiedName = { schema: target.table.schema, name: stagingTableName(target.table.name, runId) };
    const copySql = copyFromStdin(stage, columns, { ...options, format: options.format });
    const steps = finalizeSteps(strategy, target, stage, runId, strategy.publish === 'swap' ? await readOutgoingForeignKeys(client, target.oid) : []);
    const base = { file: options.file, table: qualified(target.table), rejected: 0, bytes: file.size, chunks: chunks.length, workers: options.workers, strategy, warnings: [] as string[] };

    if (options.dryRun) {
      return { ...base, dryRun: true, rows: 0, wallMs: performance.now() - started, phases, plan: { stage: qualified(stage), copySql, chunks, steps } };
    }
    if (chunks.length === 0) {
      return {
        ...base,
        dryRun: false,
        rows: 0,
        wallMs: performance.now() - started,
        phases,
        warnings: [`${options.file} holds no rows${options.header ? ' after its header' : ''}: nothing was loaded and ${qualified(target.table)} is unchanged`],
      };
    }

    await createStage(client, target, stage, runId);
    try {
      phaseStart = performance.now();
      options.onProgress({ kind: 'phase', phase: 'load', detail: `${chunks.length} chunks, ${options.workers} workers` });
      const { rows, rejects } = await copyChunks(options, chunks, copySql, runId, client);
      phases.load = performance.now() - phaseStart;
      await checkInputUnchanged(options.file, file);
      throwIfAborted(options.signal);

      const finalized = await finalize(options, steps, runId);
      phases.durable = finalized.durable;
      phases.indexes = finalized.indexes;
      throwIfAborted(options.signal);

      phaseStart = performance.now();
      options.onProgress({ kind: 'phase', phase: 'publish', detail: strategy.publish });
      const published =
        strategy.publish === 'swap'
          ? await publishBySwap(client, target, stage, runId, strategy.truncate)
          : await publishByInsert(client, target, stage, strategy.truncate);
      phases.publish = performance.now() - phaseStart;
      const warnings = published.note ? [published.note] : [];
      if (published.rows !== rows) warnings.push(`workers copied ${rows} rows but ${published.rows} were published`);
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
      };
    } catch (error) {
      await cancelSessions(client, runId);
      await client.query(dropStageSql(stage)).catch(() => {});
      throw error;
    }
  } finally {
    await client.end().catch(() => {});
  }
}

function syntaxOf(options: ResolvedLoadOptions): RecordSyntax {
  const quote = (options.quote ?? '"').charCodeAt(0);
  return { format: options.format, quote, escape: options.escape === undefined ? quote : options.escape.charCodeAt(0) };
}

/** Header skipped by offset, then chunk boundaries at record starts, all in one sequential scan. */
async function planChunks(options: ResolvedLoadOptions, size: number): Promise<Chunk[]> {
  const syntax = syntaxOf(options);
  // The header ends at the first record start after offset 0; chunk targets are measured from there.
  const headerTargets = options.header ? [1] : [];
  const approxDataStart = 0;
  const chunkBytes = options.chunkBytes ?? defaultChunkBytes(size, options.workers);
  const targets = [...headerTargets, ...chunkTargets(approxDataStart, size, chunkBytes).filter((t) => t > 1 || !options.header)];
  const starts = await scanFileRecordStarts(options.file, syntax, targets);
  const dataStart = options.header ? starts[0] : { offset: 0, line: 1 };
  return buildChunks(dataStart, size, options.header ? starts.slice(1) : starts);
}

interface CopyOutcome {
  rows: number;
  rejects: RejectReport[];
}

async function copyChunks(options: ResolvedLoadOptions, chunks: Chunk[], copySql: string, runId: string, client: pg.Client): Promise<CopyOutcome> {
  const pool = new Piscina<CopyChunkTask, CopyChunkResult>({
    filename: new URL('../workers/copy-chunk.ts', import.meta.url).href,
    minThreads: Math.min(options.workers, chunks.length),
    maxThreads: Math.min(options.workers, chunks.length),
    concurrentTasksPerWorker: 1,
    execArgv: [...process.execArgv, '--import', tsxLoader()],
  });
  const abort = new AbortController();
  // Every queued task listens on this signal.
  setMaxListeners(chunks.length + 10, abort.signal);
  const onAbort = () => abort.abort();
  options.signal?.addEventListener('abort', onAbort);
  let firstFailure: { chunk: Chunk; error: WireError } | undefined;
  let doneBytes = 0;
  let rows = 0;
  const rejected: RejectedRecord[] = [];
  const recordsPerChunk = new Map<number, number>();
  const syntax = syntaxOf(options);
  const fail = async (chunk: Chunk, error: WireError) => {
    if (firstFailure) return;
    firstFailure = { chunk, error };
    // Stop the other COPYs now, server-side, instead of letting them finish their chunks.
    await cancelSessions(client, runId);
    abort.abort();
  };
  try {
    const totalBytes = chunks.reduce((sum, c) => sum + (c.end - c.start), 0);
    const tasks = chunks.map(async (chunk) => {
      let result: CopyChunkResult;
      try {
        result = await pool.run(
          {
            db: options.db,
            role: sessionRole(runId, 'copy'),
            copySql,
            file: options.file,
            chunk: chunk.index,
            start: chunk.start,
            end: chunk.end,
            line: chunk.line,
            syntax,
            maxRejects: options.maxErrors,
          },
          { signal: abort.signal },
        );
      } catch (error) {
        // Aborted tasks reject too; only a rejection we did not cause is a failure (a crashed worker thread).
        if (!abort.signal.aborted) await fail(chunk, { code: 'WORKER_FAILED', message: `worker thread failed: ${(error as Error).message}` });
        return;
      }
      rejected.push(...result.rejects);
      if (!result.ok) return fail(chunk, result.error);
      if (rejected.length > options.maxErrors) return fail(chunk, { code: 'TOO_MANY_BAD_ROWS', message: `more than ${options.maxErrors} bad rows` });
      recordsPerChunk.set(chunk.index, result.rows + result.rejects.length);
      rows += result.rows;
      doneBytes += result.bytes;
      options.onProgress({ kind: 'chunk', chunk: chunk.index, rows: result.rows, bytes: result.bytes, doneBytes, totalBytes });
    });
    await Promise.allSettled(tasks);
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await pool.destroy();
  }
  if (firstFailure?.error.code === 'TOO_MANY_BAD_ROWS') throw tooManyBadRows(options, rejected);
  if (firstFailure) {
    const error = fromWire(firstFailure.error);
    if (error.server?.sqlstate === SQLSTATE.QUERY_CANCELED && options.signal?.aborted) throw cancelled();
    throw await locateChunkError(error, firstFailure.chunk, { file: options.file, syntax, chunks });
  }
  throwIfAborted(options.signal);
  return { rows, rejects: numberRejects(rejected, recordsPerChunk) };
}

function tooManyBadRows(options: ResolvedLoadOptions, rejected: RejectedRecord[]): PloaderError {
  const first = [...rejected].sort((a, b) => a.start - b.start).slice(0, 3);
  const examples = first.map((r) => `${options.file}:${r.line}: ${r.message}${r.sqlstate ? ` (SQLSTATE ${r.sqlstate})` : ''}`).join('; ');
  return new PloaderError(
    'TOO_MANY_BAD_ROWS',
    `more than ${options.maxErrors} bad rows (--max-errors ${options.maxErrors}), so nothing was loaded; the first: ${examples} — fix them or raise --max-errors`,
    { position: first[0] ? { file: options.file, line: first[0].line } : undefined },
  );
}

async function finalize(options: ResolvedLoadOptions, steps: FinalizeSteps, runId: string): Promise<{ durable: number; indexes: number }> {
  const settings = { maintenanceWorkMem: options.indexMemory, maxParallelMaintenanceWorkers: 0 };
  const role = sessionRole(runId, 'finalize');
  let started = performance.now();
  if (steps.durable.length > 0) options.onProgress({ kind: 'phase', phase: 'durable', detail: steps.durable.map((s) => s.label).join(', ') });
  await runInParallelSessions(options.db, role, steps.durable, 1, settings, () => {});
  const durable = performance.now() - started;
  started = performance.now();
  const total = steps.indexes.length + steps.foreignKeys.length;
  const report = (step: { label: string }, done: number) => options.onProgress({ kind: 'phase', phase: 'indexes', detail: `${step.label} (${done + 1}/${total})` });
  // One session per index, at most one more than the load's workers: the builds are CPU-bound sorts.
  await runInParallelSessions(options.db, role, steps.indexes, options.workers + 1, settings, report);
  await runInParallelSessions(options.db, role, steps.foreignKeys, options.workers, settings, report);
  return { durable, indexes: performance.now() - started };
}

function sessionRole(runId: string, what: string): string {
  return `${what} ${runId}`;
}

/** Cancels the server-side statements of this run's other sessions (COPYs, index builds). */
async function cancelSessions(client: pg.Client, runId: string): Promise<void> {
  await client
    .query(`SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name LIKE $1 AND pid <> pg_backend_pid()`, [`% ${runId}`])
    .catch(() => {});
}

function tsxLoader(): string {
  return pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
}

interface FileIdentity {
  size: number;
  mtimeMs: number;
}

async function checkInputFile(file: string): Promise<FileIdentity> {
  let info;
  try {
    info = await stat(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new PloaderError('INPUT_UNREADABLE', `cannot read ${file}: ${reason} — check the path`, { position: { file }, cause: error });
  }
  if (!info.isFile()) {
    throw new PloaderError('INPUT_UNREADABLE', `${file} is not a regular file (it is a ${info.isDirectory() ? 'directory' : 'special file'}) — name the file to load`, { position: { file } });
  }
  return { size: info.size, mtimeMs: info.mtimeMs };
}

async function checkInputUnchanged(file: string, before: FileIdentity): Promise<void> {
  const after = await checkInputFile(file);
  if (after.size !== before.size || after.mtimeMs !== before.mtimeMs) {
    throw new PloaderError(
      'INPUT_CHANGED',
      `${file} changed while it was being loaded (size ${before.size} → ${after.size} bytes): nothing was loaded — load it again once it is complete`,
      { position: { file } },
    );
  }
}

function cancelled(): PloaderError {
  return new PloaderError('CANCELLED', 'the load was cancelled: nothing was loaded and the target is unchanged');
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw cancelled();
}

export type { TargetFacts, Strategy };
