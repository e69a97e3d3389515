/**
 * One piscina task: stream the byte range [start, end) of the input file into
 * `COPY stage (cols) FROM STDIN` over a connection of its own, and report what the server counted.
 * With --max-errors, bad rows are set aside instead (see src/rejects.ts).
 * Results and failures go back as plain data: classes do not survive the thread boundary.
 */
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { connect } from '../db/connection.ts';
import { PloaderError, serverFields, toWire, type WireError } from '../errors.ts';
import { readRange, simulateServerLines } from '../rows/line-mapping.ts';
import { prepareLocatorSql, setLocatorSql } from '../rows/conflicts.ts';
import { BINARY_TRAILER } from '../input/scan/binary-tuples.ts';
import { findBadRecord, type RejectedRecord } from '../rows/rejects.ts';
import type { RecordSyntax } from '../input/scan/record-syntax.ts';

export interface CopyChunkTask {
  db: string | undefined;
  /** application_name of the session, so the main thread can find and cancel it server-side. */
  role: string;
  copySql: string;
  file: string;
  /** A stream's batch: the bytes [start, end) themselves (the file cannot be re-read). */
  data?: Uint8Array;
  chunk: number;
  start: number;
  end: number;
  /** 1-based physical line of `start`. */
  line: number;
  syntax: RecordSyntax;
  /** Bad rows this chunk may set aside before giving up; 0 = fail on the first (the default, all or nothing). */
  maxRejects: number;
  /** Records the chunk as done in the run ledger ($1 chunk, $2 rows, $3 rejects), in the chunk's transaction. */
  markDoneSql: string;
  /** The stage has a record locator column (--on-conflict needs input lines of duplicate keys). */
  locator: boolean;
  /** Binary format: bytes [0, binaryHeaderBytes) are the file header, sent before the chunk, and the trailer after it. */
  binaryHeaderBytes?: number;
}

export type CopyChunkResult =
  | { ok: true; chunk: number; rows: number; bytes: number; ms: number; rejects: RejectedRecord[] }
  | { ok: false; chunk: number; error: WireError; rejects: RejectedRecord[] };

/** Read-ahead per chunk stream: large enough to keep the socket busy, small enough that N workers stay far below the RSS budget. */
const READ_BLOCK_BYTES = 1 << 20;

export default async function copyChunk(task: CopyChunkTask): Promise<CopyChunkResult> {
  const started = performance.now();
  const rejects: RejectedRecord[] = [];
  let client: pg.Client | undefined;
  try {
    client = await connect(task.db, task.role);
    // The chunk's rows and its ledger row commit together: --resume never loads a chunk twice.
    await client.query('BEGIN');
    if (task.locator) for (const sql of prepareLocatorSql(task.chunk)) await client.query(sql);
    const rows = task.maxRejects > 0 ? await copySettingAsideBadRows(client, task, rejects) : await copyRange(client, task, task.start, task.end, 0);
    await client.query(task.markDoneSql, [task.chunk, rows, JSON.stringify(rejects)]);
    await client.query('COMMIT');
    return { ok: true, chunk: task.chunk, rows, bytes: task.end - task.start, ms: performance.now() - started, rejects };
  } catch (error) {
    return { ok: false, chunk: task.chunk, error: toWire(error), rejects };
  } finally {
    await client?.end().catch(() => {});
  }
}

/** COPYs [start, end), whose first record is record `firstRecord` (0-based) of the chunk. */
async function copyRange(client: pg.Client, task: CopyChunkTask, start: number, end: number, firstRecord: number): Promise<number> {
  if (task.locator) await client.query(setLocatorSql(firstRecord));
  const copy = client.query(copyFrom(task.copySql));
  const source = task.data
    ? [Buffer.from(task.data.buffer, task.data.byteOffset + start - task.start, end - start)]
    : task.binaryHeaderBytes === undefined
      ? fileRange(task.file, start, end)
      : binaryFramed(task.file, task.binaryHeaderBytes, start, end);
  await pipeline(source, copy);
  return copy.rowCount ?? 0;
}

/** Bytes [start, end) of the chunk's input, from memory or from the file. */
async function readBytes(task: CopyChunkTask, start: number, end: number): Promise<Buffer> {
  return task.data ? Buffer.from(task.data.buffer, task.data.byteOffset + start - task.start, end - start) : readRange(task.file, start, end);
}

/** The bytes [start, end) of the file, streamed (createReadStream's `end` is inclusive). */
async function* fileRange(file: string, start: number, end: number): AsyncGenerator<Buffer> {
  if (end > start) yield* createReadStream(file, { start, end: end - 1, highWaterMark: READ_BLOCK_BYTES });
}

/** A binary COPY stream of its own: the file's header, the tuples in [start, end), the trailer. */
async function* binaryFramed(file: string, headerBytes: number, start: number, end: number): AsyncGenerator<Buffer> {
  yield* fileRange(file, 0, headerBytes);
  yield* fileRange(file, start, end);
  yield BINARY_TRAILER;
}

/** Runs inside the chunk's transaction; a savepoint per segment undoes a failed COPY's rows. */
async function copySettingAsideBadRows(client: pg.Client, task: CopyChunkTask, rejects: RejectedRecord[]): Promise<number> {
  let rows = 0;
  let segment = task.start;
  let segmentLine = task.line;
  let recordsBefore = 0;
  while (segment < task.end) {
    await client.query('SAVEPOINT segment');
    try {
      rows += await copyRange(client, task, segment, task.end, recordsBefore);
      break;
    } catch (error) {
      const server = serverFields(error);
      if (!server) throw error;
      await client.query('ROLLBACK TO SAVEPOINT segment');
      const data = await readBytes(task, segment, task.end);
      const bad = findBadRecord(server, simulateServerLines(data, task.syntax), data.length);
      if (!bad) throw error;
      // The records before the bad one were accepted a moment ago; send them again, then skip the bad one.
      if (bad.start > 0) rows += await copyRange(client, task, segment, segment + bad.start, recordsBefore);
      rejects.push({
        start: segment + bad.start,
        end: segment + bad.end,
        line: segmentLine + bad.line - 1,
        chunk: task.chunk,
        recordInChunk: recordsBefore + bad.index,
        column: bad.column,
        sqlstate: server.sqlstate,
        message: (error as Error).message,
        // A stream cannot be read again for the reject file: the record's bytes travel with it.
        bytes: task.data ? data.subarray(bad.start, bad.end).toString('base64') : undefined,
      });
      if (rejects.length > task.maxRejects) throw new PloaderError('TOO_MANY_BAD_ROWS', `more than ${task.maxRejects} bad rows`);
      recordsBefore += bad.index + 1;
      segmentLine += bad.lineAfter - 1;
      segment += bad.end;
    }
  }
  return rows;
}
