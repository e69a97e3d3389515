/**
 * The load phase: a piscina pool of worker threads, each COPYing one chunk at a time over its own
 * connection. A failure that is not a row's (a lost server, too many bad rows) cancels every COPY
 * server-side at once; a bad row in an all-or-nothing load cancels only the chunks after its own,
 * so that the error reported is the first in file order, as one COPY would report it.
 */
import type pg from 'pg';
import { Piscina } from 'piscina';
import { REJECT_EXAMPLES, type CopyChunkResult, type CopyChunkTask } from './copy-chunk.ts';
import { PloaderError, abortReason, explainLoadFailure, fromWire, throwIfAborted, type WireError } from '../errors.ts';
import type { ResolvedLoadOptions } from '../options.ts';
import type { Chunk } from '../plan/chunks.ts';
import type { LoadPlan } from '../plan/load-plan.ts';
import { openInputStream, recordBatches, streamBatching, type PendingChunk } from '../input/stream-batches.ts';
import { markChunkDoneSql } from '../stage/run-ledger.ts';
import { syntaxOf } from '../input/split.ts';
import { isRowError, SQLSTATE } from '../db/sqlstate.ts';
import { chunkCopySettings } from '../rows/numbering.ts';
import { numberBatches } from '../rows/serial-ids.ts';
import type { RejectEntry } from '../rows/reject-spool.ts';
import { workerFile } from './worker-entry.ts';
import { mappingHints } from '../plan/mapping-hints.ts';
import { withHints } from '../plan/preflight.ts';
import { scanCopyRecords } from '../rows/copy-records.ts';
import type { RecordSyntax } from '../input/scan/record-syntax.ts';
import { cancelChunksAfter, cancelSessions, chunkSessionRole, chunkSessionsOfRun, copyProgressOfRun } from './run-identity.ts';
import { describeStall, stallPollMs, StallWatch } from './stall-watch.ts';

export interface CopyOutcome {
  rows: number;
  /** Input bytes loaded (for a stream, the only count of them there is). */
  bytes: number;
  /** Bad rows set aside (their bytes and reasons are in the run's reject spools). */
  rejected: number;
  /** Chunks copied in this run (a stream's batches: known only now). */
  chunks: number;
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

/** Each worker's young generation (V8's default is 16 MB on 64-bit); see the pool below. */
const WORKER_YOUNG_GENERATION_MB = 32;

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
    ? { chunks: numberBatches(client, plan, recordBatches(plan.input.stream ?? openInputStream(options.file), streamBatching(plan))) }
    : { chunks: inOrder(pending), totalBytes: pending.reduce((sum, c) => sum + c.end - c.start, 0) };
  return copyChunks(client, plan, source);
}

async function* inOrder(chunks: readonly Chunk[]): AsyncGenerator<PendingChunk> {
  for (const chunk of chunks) yield { chunk };
}

/** What went wrong in the load phase: one failure that stops everything, or rows bad in some chunks. */
class LoadFailures {
  fatal: WireError | undefined;
  /** All or nothing: the bad row of each failed chunk; the first in file order is reported. */
  readonly rows = new Map<number, WireError>();
  /** The first rejects, in file order, for the message when there are too many. */
  examples: RejectEntry[] = [];

  get any(): boolean {
    return this.fatal !== undefined || this.rows.size > 0;
  }

  /** The smallest chunk index that failed on a row: chunks after it need not be copied. */
  get firstRowChunk(): number {
    return this.rows.size === 0 ? Infinity : Math.min(...this.rows.keys());
  }

  addExamples(examples: readonly RejectEntry[]): void {
    this.examples = this.examples.concat(examples).sort((a, b) => a.record - b.record).slice(0, REJECT_EXAMPLES);
  }
}

async function copyChunks(client: pg.Client, plan: LoadPlan, source: ChunkSource): Promise<CopyOutcome> {
  const { options, runId } = plan;
  const markDoneSql = markChunkDoneSql(plan.ledger);
  const priorRejects = plan.resumed?.state.rejected ?? 0;
  const pool = new Piscina<CopyChunkTask, CopyChunkResult>({
    filename: await workerFile(),
    minThreads: options.workers,
    maxThreads: options.workers,
    concurrentTasksPerWorker: 1,
    // Not the caller's own node flags (--input-type, --eval, ...): they may not apply to a worker.
    execArgv: [],
    // Bad-row isolation makes an object per record that lives for a probe window: with V8's default
    // young generation most of them survived into the old one. Measured (1M votes, 1 % bad rows, 2
    // workers, PG15): 32 MB took ~1 s of client CPU off (10.7 -> 9.6 s) for ~+10 MB of peak RSS;
    // 64 MB took a little more off for +120 MB. A clean load is unaffected.
    resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
  });
  const failures = new LoadFailures();
  // Shared with every worker: the --max-errors limit stops all of them at the row that passes it.
  const rejectTally = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
  const tasks = new Map<number, AbortController>();
  const onAbort = () => void stopAll({ code: 'CANCELLED', message: 'cancelled' });
  options.signal?.addEventListener('abort', onAbort);
  // Aborted while the pool was starting: a listener added now would never be called.
  if (options.signal?.aborted) onAbort();
  /** Stops every COPY now, server-side, instead of letting them finish their chunks. */
  const stopAll = async (error: WireError) => {
    if (failures.fatal) return;
    failures.fatal = error;
    await cancelSessions(client, runId);
    for (const task of tasks.values()) task.abort();
  };
  /** A bad row in chunk `index`: the chunks after it cannot matter any more; those before it still can. */
  const stopAfter = async (index: number, error: WireError) => {
    const first = failures.firstRowChunk;
    failures.rows.set(index, error);
    if (index >= first) return;
    await cancelChunksAfter(client, runId, index);
    for (const [other, task] of tasks) if (other > index) task.abort();
  };
  let doneBytes = 0;
  let rows = 0;
  let rejected = 0;
  let chunks = 0;
  const syntax = syntaxOf(options);
  const binaryHeaderBytes = options.format === 'binary' ? binaryHeadersOf(plan.chunks) : undefined;
  const totalBytes = source.totalBytes ?? 0;
  // Byte-level progress between chunk completions, from the server's own COPY progress view (PG 14+).
  const progressTimer = setInterval(() => {
    void copyProgressOfRun(client, runId).then((now) => {
      if (now && !failures.any) options.onProgress({ kind: 'bytes', doneBytes: doneBytes + now.bytes, totalBytes: Math.max(totalBytes, doneBytes + now.bytes), rows: rows + now.rows });
    });
  }, PROGRESS_INTERVAL_MS);
  // A chunk session whose server process stopped would wait for ever: the watch stops the load.
  const watch = new StallWatch(options.stallTimeoutMs);
  const stallTimer =
    options.stallTimeoutMs > 0
      ? setInterval(() => {
          void chunkSessionsOfRun(client, runId).then(
            (sessions) => {
              const stall = watch.observe(sessions, performance.now());
              if (stall) void stopAll({ code: 'STALLED', message: describeStall(stall, options.stallTimeoutMs) });
            },
            () => {},
          );
        }, stallPollMs(options.stallTimeoutMs))
      : undefined;
  // A stream cannot be probed before the load (preflight.ts): its first record, for the hints.
  let firstRecord: string | undefined;
  const copyOne = async (pending: PendingChunk): Promise<void> => {
    const { chunk, data } = pending;
    if (chunk.index === 0 && data) firstRecord = firstRecordOf(data, syntax);
    const abort = new AbortController();
    tasks.set(chunk.index, abort);
    let result: CopyChunkResult;
    try {
      result = await pool.run(
        {
          db: options.db,
          role: chunkSessionRole(runId, chunk.index),
          file: chunk.file,
          data,
          chunk,
          syntax,
          maxRejects: options.maxErrors - priorRejects,
          rejectTally,
          markDoneSql,
          binaryHeaderBytes: binaryHeaderBytes?.get(chunk.file),
          ...chunkCopySettings(plan, chunk),
        },
        { signal: abort.signal },
      );
    } catch (error) {
      // Aborted tasks reject too; only a rejection we did not cause is a failure (a crashed worker thread).
      if (!abort.signal.aborted) await stopAll({ code: 'WORKER_FAILED', message: `worker thread failed: ${(error as Error).message}` });
      return;
    } finally {
      tasks.delete(chunk.index);
    }
    rejected += result.rejected;
    failures.addExamples(result.examples);
    if (!result.ok) {
      if (abort.signal.aborted && failures.fatal) return;
      const isRowFailure = result.error.code === 'SERVER_ERROR' && result.error.position !== undefined && isRowFailureOf(result.error);
      return isRowFailure ? stopAfter(chunk.index, result.error) : stopAll(result.error);
    }
    if (rejected + priorRejects > options.maxErrors) return stopAll({ code: 'TOO_MANY_BAD_ROWS', message: `more than ${options.maxErrors} bad rows` });
    chunks++;
    rows += result.rows;
    doneBytes += result.bytes;
    options.onProgress({ kind: 'chunk', chunk: chunk.index, file: chunk.file, line: chunk.line, rows: result.rows, bytes: result.bytes, doneBytes, totalBytes: Math.max(totalBytes, doneBytes) });
  };
  const running = new Set<Promise<void>>();
  /** The scan of a stream refused it as one COPY would (a line end of another style): that error, whole. */
  let inputRefused: PloaderError | undefined;
  try {
    for await (const pending of source.chunks) {
      // Chunks are dispatched in file order: once one has failed on a row, no later one matters.
      if (failures.fatal || pending.chunk.index > failures.firstRowChunk) break;
      const task = copyOne(pending).finally(() => running.delete(task));
      running.add(task);
      while (running.size >= options.workers * IN_FLIGHT_PER_WORKER) await Promise.race(running);
    }
  } catch (error) {
    // The input itself failed (a stream error, a bad gzip member): stop the COPYs, then report it.
    if (error instanceof PloaderError) inputRefused = error;
    await stopAll({ code: 'INPUT_UNREADABLE', message: `${options.file}: ${(error as Error).message}` });
  } finally {
    await Promise.allSettled(running);
    clearInterval(progressTimer);
    clearInterval(stallTimer);
    options.signal?.removeEventListener('abort', onAbort);
    await pool.destroy();
  }
  throwIfAborted(options.signal);
  if (inputRefused) throw inputRefused;
  if (failures.fatal?.code === 'TOO_MANY_BAD_ROWS') throw tooManyBadRows(options, failures.examples);
  const failure = failures.fatal ?? failures.rows.get(failures.firstRowChunk);
  if (failure) {
    const error = fromWire(failure);
    if (error.server?.sqlstate === SQLSTATE.QUERY_CANCELED && options.signal?.aborted) throw abortReason(options.signal);
    const explained = explainLoadFailure(error, options.file);
    if (explained.position?.record !== 1 || firstRecord === undefined) throw explained;
    throw withHints(explained, mappingHints(firstRecord, { options, columns: plan.columns, firstRecord: true, sqlstate: error.server?.sqlstate }));
  }
  return { rows, bytes: doneBytes, rejected, chunks };
}

/** Binary: each file's header is the bytes before its first chunk, sent ahead of each chunk of it. */
function binaryHeadersOf(chunks: readonly Chunk[]): Map<string, number> {
  const headers = new Map<string, number>();
  for (const chunk of chunks) if (!headers.has(chunk.file)) headers.set(chunk.file, chunk.start);
  return headers;
}

function firstRecordOf(data: Buffer, syntax: RecordSyntax): string {
  const head = data.subarray(0, 64 * 1024);
  return head.subarray(0, scanCopyRecords(head, syntax)[0]?.end ?? head.length).toString('utf8');
}

/** A failure naming a record whose SQLSTATE says the row is at fault. */
function isRowFailureOf(error: WireError): boolean {
  return isRowError(error.server?.sqlstate);
}

export function tooManyBadRows(options: ResolvedLoadOptions, examples: readonly RejectEntry[]): PloaderError {
  const described = examples.map((r) => `${r.file}:${r.line}: ${r.message}${r.sqlstate ? ` (SQLSTATE ${r.sqlstate})` : ''}`).join('; ');
  return new PloaderError(
    'TOO_MANY_BAD_ROWS',
    `more than ${options.maxErrors} bad rows (--max-errors ${options.maxErrors}), so nothing was loaded; the first: ${described} — fix them or raise --max-errors`,
    { position: examples[0] ? { file: examples[0].file, line: examples[0].line, record: examples[0].record } : undefined },
  );
}

const PROGRESS_INTERVAL_MS = 250;
