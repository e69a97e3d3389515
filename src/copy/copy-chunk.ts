/**
 * One piscina task: stream the byte range [start, end) of the input file into
 * `COPY stage (cols) FROM STDIN` over a connection of its own, and report what the server counted.
 * With --max-errors, a chunk whose COPY stops at a bad row is loaded again record by record, its bad
 * rows set aside (rows/isolate-bad-rows.ts). Results and failures go back as plain data: classes do
 * not survive the thread boundary.
 */
import type pg from 'pg';
import { connect } from '../db/connection.ts';
import { isRowError } from '../db/sqlstate.ts';
import { PloaderError, serverFields, toWire, type WireError } from '../errors.ts';
import { BINARY_TRAILER } from '../input/scan/binary-tuples.ts';
import type { RecordSyntax } from '../input/scan/record-syntax.ts';
import type { Chunk } from '../plan/chunks.ts';
import { fileRange, type ChunkBytes } from '../rows/chunk-records.ts';
import { isolateBadRows, reasonOf, type RejectReason } from '../rows/isolate-bad-rows.ts';
import { locateCopyError, parseCopyContext } from '../rows/line-mapping.ts';
import { positionCountersSql, type CounterInjection, type RecordCounter } from '../rows/record-counters.ts';
import { RejectSpool, type RejectEntry } from '../rows/reject-spool.ts';
import { inTargetTerms, type RelationNames, type SoftErrorSkipping } from '../rows/numbering.ts';
import { copyFromSource } from './copy-stream.ts';

export interface CopyChunkTask {
  db: string | undefined;
  /** application_name of the sessions, so the main thread can find and cancel them server-side. */
  role: string;
  copySql: string;
  file: string;
  /** A stream's batch: the bytes [start, end) themselves (the file cannot be re-read). */
  data?: Uint8Array;
  chunk: Chunk;
  syntax: RecordSyntax;
  /** Bad rows this load may still set aside before giving up; 0 = fail on the first (the default, all or nothing). */
  maxRejects: number;
  /** Bad rows set aside so far by every chunk of the load (shared by the workers): past maxRejects, each stops at once. */
  rejectTally: Int32Array;
  /** Records the chunk as done in the run ledger ($1 chunk, $2 rows, $3 rejects), in the chunk's transaction. */
  markDoneSql: string;
  /** Run once per session before the chunk's transaction (the temporary sequences of `counters`). */
  sessionSql: string[];
  /** Stage columns numbered by record (ids in file order, the --on-conflict locator). */
  counters: RecordCounter[];
  /** With --max-errors: the probe session's temporary twin of the stage and its COPY. */
  probe?: { setupSql: string[]; copySql: string };
  /** With --max-errors and counters: isolation's COPY with the counter values in the records. */
  injection?: CounterInjection;
  /** With --max-errors on PostgreSQL 17+: ON_ERROR ignore in isolation's windows. */
  skipping?: SoftErrorSkipping;
  /** With --max-errors: this chunk's reject spool files. */
  spool?: { bytes: string; log: string };
  /** The stage's name and the target's: the server's messages about a row name the target, as one COPY's would. */
  relationNames: RelationNames;
  /** Binary format: bytes [0, binaryHeaderBytes) are the file header, sent before the chunk, and the trailer after it. */
  binaryHeaderBytes?: number;
}

/** The first rejects of a chunk, for the message when there are too many. */
export const REJECT_EXAMPLES = 3;

export type CopyChunkResult =
  | { ok: true; chunk: number; rows: number; bytes: number; ms: number; rejected: number; examples: RejectEntry[] }
  | { ok: false; chunk: number; error: WireError; rejected: number; examples: RejectEntry[] };

export default async function copyChunk(task: CopyChunkTask): Promise<CopyChunkResult> {
  const started = performance.now();
  const { chunk } = task;
  const spool = task.spool ? new RejectSpool(task.spool) : undefined;
  const examples: RejectEntry[] = [];
  let client: pg.Client | undefined;
  try {
    client = await connect(task.db, task.role);
    for (const sql of task.sessionSql) await client.query(sql);
    // The chunk's rows and its ledger row commit together: --resume never loads a chunk twice.
    await client.query('BEGIN');
    let rows: number;
    try {
      rows = await copyWholeChunk(client, task);
    } catch (error) {
      const first = firstBadRow(error);
      if (!first || !spool || task.maxRejects === 0) throw await located(error, task);
      await client.query('ROLLBACK');
      await client.query('BEGIN');
      rows = await isolateBadRows(client, {
        source: sourceOf(task),
        syntax: task.syntax,
        copySql: task.copySql,
        counters: task.counters,
        injection: task.injection,
        skipping: task.skipping,
        openProbe: () => openProbe(task),
        reject: (record, reason) => {
          const entry = { file: task.file, line: chunk.line + record.line - 1, record: chunk.firstRecord + record.index + 1, column: reason.column ?? null, sqlstate: reason.sqlstate ?? null, message: inTargetTerms(reason.message, task.relationNames) };
          if (examples.length < REJECT_EXAMPLES) examples.push(entry);
          spool.add(entry, record.bytes);
          if (Atomics.add(task.rejectTally, 0, 1) + 1 > task.maxRejects) throw new PloaderError('TOO_MANY_BAD_ROWS', `more than ${task.maxRejects} bad rows`);
        },
      }, first);
    }
    // The spool is on disk before the chunk commits: a resumed run finds the rejects of every committed chunk.
    spool?.close(true);
    await client.query(task.markDoneSql, [chunk.index, rows, JSON.stringify(spool?.count ?? 0)]);
    await client.query('COMMIT');
    return { ok: true, chunk: chunk.index, rows, bytes: chunk.end - chunk.start, ms: performance.now() - started, rejected: spool?.count ?? 0, examples };
  } catch (error) {
    spool?.close(false);
    const wire = toWire(error);
    return { ok: false, chunk: chunk.index, error: { ...wire, message: inTargetTerms(wire.message, task.relationNames) }, rejected: spool?.count ?? 0, examples };
  } finally {
    await client?.end().catch(() => {});
  }
}

function sourceOf(task: CopyChunkTask): ChunkBytes {
  return { file: task.file, start: task.chunk.start, end: task.chunk.end, data: task.data };
}

/** The chunk in one COPY, streamed from the file (or the batch in memory): the path of a clean chunk. */
async function copyWholeChunk(client: pg.Client, task: CopyChunkTask): Promise<number> {
  const position = positionCountersSql(task.counters, 0);
  if (position) await client.query(position);
  const { chunk } = task;
  const source = task.data
    ? [Buffer.from(task.data.buffer, task.data.byteOffset, task.data.byteLength)]
    : task.binaryHeaderBytes === undefined
      ? fileRange(task.file, chunk.start, chunk.end)
      : binaryFramed(task.file, task.binaryHeaderBytes, chunk.start, chunk.end);
  return copyFromSource(client, task.copySql, source);
}

/** A binary COPY stream of its own: the file's header, the tuples in [start, end), the trailer. */
async function* binaryFramed(file: string, headerBytes: number, start: number, end: number): AsyncGenerator<Buffer> {
  yield* fileRange(file, 0, headerBytes);
  yield* fileRange(file, start, end);
  yield BINARY_TRAILER;
}

/** A row's fault, with the server's line: what isolation can set aside. Anything else fails the load. */
function firstBadRow(error: unknown): { serverLine: number; reason: RejectReason } | undefined {
  const server = serverFields(error);
  const at = parseCopyContext(server?.where);
  if (!server || !at || !isRowError(server.sqlstate)) return undefined;
  return { serverLine: at.line, reason: reasonOf(error, server, at.column) };
}

/** The error, with the input position of the record the server named (rows/line-mapping.ts). */
function located(error: unknown, task: CopyChunkTask): Promise<unknown> {
  return locateCopyError(error, task.chunk, { ...sourceOf(task), syntax: task.syntax, binary: task.binaryHeaderBytes !== undefined });
}

/** The probe session: same role (so a cancel finds it), same counters, its own temporary twin of the stage. */
async function openProbe(task: CopyChunkTask): Promise<{ client: pg.Client; copySql: string }> {
  const client = await connect(task.db, task.role);
  try {
    for (const sql of [...task.sessionSql, ...task.probe!.setupSql]) await client.query(sql);
    // The twin's defaults draw from the same counters: near the chunk's own values, so a value that
    // fits the stage fits the twin (a fresh temporary sequence would start at its minimum).
    const position = positionCountersSql(task.counters, 0);
    if (position) await client.query(position);
    return { client, copySql: task.probe!.copySql };
  } catch (error) {
    await client.end().catch(() => {});
    throw error;
  }
}
