/**
 * The load phase: a piscina pool of worker threads, each COPYing one chunk at a time over its own
 * connection. The first failure cancels the other COPYs server-side and aborts the queued tasks.
 */
import { setMaxListeners } from 'node:events';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type pg from 'pg';
import { Piscina } from 'piscina';
import type { CopyChunkResult, CopyChunkTask } from '../workers/copy-chunk.ts';
import { PloaderError, cancelledError, fromWire, type WireError } from './errors.ts';
import { locateChunkError } from './line-mapping.ts';
import type { ResolvedLoadOptions } from './options.ts';
import type { Chunk } from './plan.ts';
import type { RejectedRecord } from './rejects.ts';
import { syntaxOf } from './split.ts';
import { SQLSTATE } from './sqlstate.ts';

export interface CopyRun {
  runId: string;
  copySql: string;
  /** Marks a chunk done in the run ledger, in the chunk's own transaction. */
  markDoneSql: string;
  /** Rows already set aside by the interrupted run being resumed: they count against --max-errors. */
  priorRejects: number;
  /** The stage has the record locator column (see conflicts.ts). */
  locator: boolean;
}

export interface CopyOutcome {
  rows: number;
  rejects: RejectedRecord[];
  /** Records per completed chunk (rows loaded + rejects), to number records across chunks. */
  recordsPerChunk: Map<number, number>;
}

/** `allChunks` is the whole plan (error positions count records from the start of the file); `chunks` the ones to load now. */
export async function copyChunks(
  options: ResolvedLoadOptions,
  allChunks: readonly Chunk[],
  chunks: readonly Chunk[],
  run: CopyRun,
  client: pg.Client,
): Promise<CopyOutcome> {
  const { runId, copySql } = run;
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
  const totalBytes = chunks.reduce((sum, c) => sum + (c.end - c.start), 0);
  // Byte-level progress between chunk completions, from the server's own COPY progress view (PG 14+).
  const progressTimer = setInterval(() => {
    void inFlight(client, runId).then((now) => {
      if (now && !firstFailure) options.onProgress({ kind: 'bytes', doneBytes: Math.min(totalBytes, doneBytes + now.bytes), totalBytes, rows: rows + now.rows });
    });
  }, PROGRESS_INTERVAL_MS);
  try {
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
            maxRejects: options.maxErrors - run.priorRejects,
            markDoneSql: run.markDoneSql,
            locator: run.locator,
            binaryHeaderBytes: options.format === 'binary' ? allChunks[0].start : undefined,
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
      if (rejected.length + run.priorRejects > options.maxErrors) return fail(chunk, { code: 'TOO_MANY_BAD_ROWS', message: `more than ${options.maxErrors} bad rows` });
      recordsPerChunk.set(chunk.index, result.rows + result.rejects.length);
      rows += result.rows;
      doneBytes += result.bytes;
      options.onProgress({ kind: 'chunk', chunk: chunk.index, rows: result.rows, bytes: result.bytes, doneBytes, totalBytes });
    });
    await Promise.allSettled(tasks);
  } finally {
    clearInterval(progressTimer);
    options.signal?.removeEventListener('abort', onAbort);
    await pool.destroy();
  }
  if (firstFailure?.error.code === 'TOO_MANY_BAD_ROWS') throw tooManyBadRows(options, rejected);
  if (firstFailure) {
    const error = fromWire(firstFailure.error);
    if (error.server?.sqlstate === SQLSTATE.QUERY_CANCELED && options.signal?.aborted) throw cancelledError();
    throw await locateChunkError(error, firstFailure.chunk, { file: options.file, syntax, chunks: allChunks, binary: options.format === 'binary' });
  }
  if (options.signal?.aborted) throw cancelledError();
  return { rows, rejects: rejected, recordsPerChunk };
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

/** Bytes and rows of this run's COPYs still in progress. */
async function inFlight(client: pg.Client, runId: string): Promise<{ bytes: number; rows: number } | undefined> {
  try {
    const { rows } = await client.query<{ bytes: string | null; tuples: string | null }>(
      `SELECT sum(p.bytes_processed) AS bytes, sum(p.tuples_processed) AS tuples
         FROM pg_stat_progress_copy p JOIN pg_stat_activity a ON a.pid = p.pid WHERE a.application_name LIKE $1`,
      [`% ${runId}`],
    );
    return { bytes: Number(rows[0].bytes ?? 0), rows: Number(rows[0].tuples ?? 0) };
  } catch {
    return undefined; // progress is a nicety: never fail a load over it
  }
}

export function sessionRole(runId: string, what: string): string {
  return `${what} ${runId}`;
}

/** Cancels the server-side statements of this run's other sessions (COPYs, index builds). */
export async function cancelSessions(client: pg.Client, runId: string): Promise<void> {
  await client
    .query(`SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name LIKE $1 AND pid <> pg_backend_pid()`, [`% ${runId}`])
    .catch(() => {});
}

function tsxLoader(): string {
  return pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
}
