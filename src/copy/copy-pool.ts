/**
 * The load phase: a piscina pool of worker threads, each COPYing one chunk at a time over its own
 * connection. The first failure cancels the other COPYs server-side and aborts the queued tasks.
 */
import { setMaxListeners } from 'node:events';
import type pg from 'pg';
import { Piscina } from 'piscina';
import type { CopyChunkResult, CopyChunkTask } from './copy-chunk.ts';
import { PloaderError, abortReason, fromWire, throwIfAborted, type WireError } from '../errors.ts';
import { locateChunkError, readRange, simulateServerLines } from '../rows/line-mapping.ts';
import type { ResolvedLoadOptions } from '../options.ts';
import type { Chunk } from '../plan/chunks.ts';
import type { LoadPlan } from '../plan/load-plan.ts';
import { openInputStream, recordBatches, streamBatching, type PendingChunk } from '../input/stream-batches.ts';
import { markChunkDoneSql } from '../stage/run-ledger.ts';
import type { RejectedRecord } from '../rows/rejects.ts';
import { syntaxOf } from '../input/split.ts';
import { SQLSTATE } from '../db/sqlstate.ts';
import { workerFile } from './worker-entry.ts';
import { cancelSessions, copyProgressOfRun, sessionRole } from './run-identity.ts';

export interface CopyOutcome {
  rows: number;
  /** Input bytes loaded (for a stream, the only count of them there is). */
  bytes: number;
  rejects: RejectedRecord[];
  /** Records per completed chunk (rows loaded + rejects), to number records across chunks. */
  recordsPerChunk: Map<number, number>;
}

interface ChunkSource {
  /** Chunks in input order; a stream's are produced as it is read. */
  chunks: AsyncIterable<PendingChunk>;
  /** All bytes to load, when known (a file; not a stream). */
  totalBytes?: number;
}

/**
 * Chunks in flight (queued or being copied) at most, per worker: enough to keep every worker busy,
 * few enough that a stream's batches held in memory stay bounded (back-pressure on the reader).
 */
const IN_FLIGHT_PER_WORKER = 2;

/**
 * The load phase of a plan: the pending chunks of a file, or a stream cut into batches as it is read,
 * COPYed into the stage by the worker pool.
 */
export async function copyInput(client: pg.Client, plan: LoadPlan): Promise<CopyOutcome> {
  const { options, pending, resumed } = plan;
  options.onProgress({
    kind: 'phase',
    phase: 'load',
    detail: plan.input.streaming
      ? `streamed in batches, ${options.workers} workers`
      : `${pending.length} chunks${resumed ? ` (${plan.chunks.length - pending.length} done before)` : ''}, ${options.workers} workers`,
  });
  const source: ChunkSource = plan.input.streaming
    ? { chunks: recordBatches(plan.input.stream ?? openInputStream(options.file), streamBatching(plan)) }
    : { chunks: inOrder(pending), totalBytes: pending.reduce((sum, c) => sum + c.end - c.start, 0) };
  return copyChunks(client, plan, source);
}

async function* inOrder(chunks: readonly Chunk[]): AsyncGenerator<PendingChunk> {
  for (const chunk of chunks) yield { chunk };
}

async function copyChunks(client: pg.Client, plan: LoadPlan, source: ChunkSource): Promise<CopyOutcome> {
  const { options, runId, copySql } = plan;
  const run = { markDoneSql: markChunkDoneSql(plan.ledger), priorRejects: plan.resumed?.state.rejects.length ?? 0, locator: plan.conflicts.locator };
  const pool = new Piscina<CopyChunkTask, CopyChunkResult>({
    filename: await workerFile(),
    minThreads: options.workers,
    maxThreads: options.workers,
    concurrentTasksPerWorker: 1,
    // Not the caller's own node flags (--input-type, --eval, ...): they may not apply to a worker.
    execArgv: [],
  });
  const abort = new AbortController();
  // Every task in flight listens on this signal.
  setMaxListeners(options.workers * IN_FLIGHT_PER_WORKER + 10, abort.signal);
  const onAbort = () => abort.abort();
  options.signal?.addEventListener('abort', onAbort);
  // Aborted while the pool was starting: a listener added now would never be called.
  if (options.signal?.aborted) abort.abort();
  let firstFailure: { chunk: Chunk; data?: Buffer; error: WireError } | undefined;
  let doneBytes = 0;
  let rows = 0;
  const rejected: RejectedRecord[] = [];
  const recordsPerChunk = new Map<number, number>();
  const syntax = syntaxOf(options);
  const binaryHeaderBytes = options.format === 'binary' ? plan.chunks[0]?.start : undefined;
  const fail = async (pending: PendingChunk, error: WireError) => {
    if (firstFailure) return;
    firstFailure = { ...pending, error };
    // Stop the other COPYs now, server-side, instead of letting them finish their chunks.
    await cancelSessions(client, runId);
    abort.abort();
  };
  const totalBytes = source.totalBytes ?? 0;
  // Byte-level progress between chunk completions, from the server's own COPY progress view (PG 14+).
  const progressTimer = setInterval(() => {
    void copyProgressOfRun(client, runId).then((now) => {
      if (now && !firstFailure) options.onProgress({ kind: 'bytes', doneBytes: doneBytes + now.bytes, totalBytes: Math.max(totalBytes, doneBytes + now.bytes), rows: rows + now.rows });
    });
  }, PROGRESS_INTERVAL_MS);
  const copyOne = async (pending: PendingChunk): Promise<void> => {
    const { chunk, data } = pending;
    let result: CopyChunkResult;
    try {
      result = await pool.run(
        {
          db: options.db,
          role: sessionRole(runId, 'copy'),
          copySql,
          file: options.file,
          data,
          chunk: chunk.index,
          start: chunk.start,
          end: chunk.end,
          line: chunk.line,
          syntax,
          maxRejects: options.maxErrors - run.priorRejects,
          markDoneSql: run.markDoneSql,
          locator: run.locator,
          binaryHeaderBytes,
        },
        { signal: abort.signal },
      );
    } catch (error) {
      // Aborted tasks reject too; only a rejection we did not cause is a failure (a crashed worker thread).
      if (!abort.signal.aborted) await fail(pending, { code: 'WORKER_FAILED', message: `worker thread failed: ${(error as Error).message}` });
      return;
    }
    rejected.push(...result.rejects);
    if (!result.ok) return fail(pending, result.error);
    if (rejected.length + run.priorRejects > options.maxErrors) return fail(pending, { code: 'TOO_MANY_BAD_ROWS', message: `more than ${options.maxErrors} bad rows` });
    recordsPerChunk.set(chunk.index, result.rows + result.rejects.length);
    rows += result.rows;
    doneBytes += result.bytes;
    options.onProgress({ kind: 'chunk', chunk: chunk.index, rows: result.rows, bytes: result.bytes, doneBytes, totalBytes: Math.max(totalBytes, doneBytes) });
  };
  const running = new Set<Promise<void>>();
  /** The scan of a stream refused it as one COPY would (a line end of another style): that error, whole. */
  let inputRefused: PloaderError | undefined;
  try {
    for await (const pending of source.chunks) {
      if (abort.signal.aborted) break;
      const task = copyOne(pending).finally(() => running.delete(task));
      running.add(task);
      while (running.size >= options.workers * IN_FLIGHT_PER_WORKER) await Promise.race(running);
    }
  } catch (error) {
    // The input itself failed (a stream error, a bad gzip member): stop the COPYs, then report it.
    if (error instanceof PloaderError) inputRefused = error;
    await fail({ chunk: { index: -1, start: 0, end: 0, line: 0, firstRecord: 0, records: 0 } }, { code: 'INPUT_UNREADABLE', message: `${options.file}: ${(error as Error).message}` });
  } finally {
    await Promise.allSettled(running);
    clearInterval(progressTimer);
    options.signal?.removeEventListener('abort', onAbort);
    await pool.destroy();
  }
  if (inputRefused) throw inputRefused;
  if (firstFailure?.error.code === 'TOO_MANY_BAD_ROWS') throw tooManyBadRows(options, rejected);
  if (firstFailure) {
    const error = fromWire(firstFailure.error);
    if (options.signal?.aborted && (error.code === 'CANCELLED' || error.server?.sqlstate === SQLSTATE.QUERY_CANCELED)) throw abortReason(options.signal);
    if (firstFailure.chunk.index < 0) throw error;
    const failed = firstFailure;
    throw await locateChunkError(error, failed.chunk, {
      file: options.file,
      syntax,
      binary: options.format === 'binary',
      read: failed.data ? async () => failed.data! : (chunk) => readRange(options.file, chunk.start, chunk.end),
      recordsBefore: () => recordsBeforeChunk(plan, failed.chunk, recordsPerChunk),
    });
  }
  throwIfAborted(options.signal);
  return { rows, bytes: doneBytes, rejects: rejected, recordsPerChunk };
}

/**
 * Records before a chunk: counted in the file when there is one; for a stream, known only when every
 * earlier batch finished (their rows + rejects).
 */
async function recordsBeforeChunk(plan: LoadPlan, chunk: Chunk, recordsPerChunk: ReadonlyMap<number, number>): Promise<number | undefined> {
  let before = 0;
  if (!plan.input.streaming) {
    const syntax = syntaxOf(plan.options);
    for (const earlier of plan.chunks.filter((c) => c.index < chunk.index)) {
      before += simulateServerLines(await readRange(plan.options.file, earlier.start, earlier.end), syntax).length;
    }
    return before;
  }
  for (let index = 0; index < chunk.index; index++) {
    const records = recordsPerChunk.get(index);
    if (records === undefined) return undefined;
    before += records;
  }
  return before;
}

export function tooManyBadRows(options: ResolvedLoadOptions, rejected: RejectedRecord[]): PloaderError {
  const first = [...rejected].sort((a, b) => a.start - b.start).slice(0, 3);
  const examples = first.map((r) => `${options.file}:${r.line}: ${r.message}${r.sqlstate ? ` (SQLSTATE ${r.sqlstate})` : ''}`).join('; ');
  return new PloaderError(
    'TOO_MANY_BAD_ROWS',
    `more than ${options.maxErrors} bad rows (--max-errors ${options.maxErrors}), so nothing was loaded; the first: ${examples} — fix them or raise --max-errors`,
    { position: first[0] ? { file: options.file, line: first[0].line } : undefined },
  );
}

const PROGRESS_INTERVAL_MS = 250;
