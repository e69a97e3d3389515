/**
 * One piscina task: stream the byte range [start, end) of the input file into
 * `COPY stage (cols) FROM STDIN` over a connection of its own, and report what the server counted.
 * Results and failures go back as plain data: classes do not survive the thread boundary.
 */
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import { connect } from '../src/connection.ts';
import { toWire, type WireError } from '../src/errors.ts';

export interface CopyChunkTask {
  db: string | undefined;
  /** application_name of the session, so the main thread can find and cancel it server-side. */
  role: string;
  copySql: string;
  file: string;
  chunk: number;
  start: number;
  end: number;
}

export type CopyChunkResult =
  | { ok: true; chunk: number; rows: number; bytes: number; ms: number }
  | { ok: false; chunk: number; error: WireError };

/** Read-ahead per chunk stream: large enough to keep the socket busy, small enough that N workers stay far below the RSS budget. */
const READ_BLOCK_BYTES = 1 << 20;

export default async function copyChunk(task: CopyChunkTask): Promise<CopyChunkResult> {
  const started = performance.now();
  let client;
  try {
    client = await connect(task.db, task.role);
    const copy = client.query(copyFrom(task.copySql));
    if (task.end > task.start) {
      // createReadStream's `end` is inclusive.
      await pipeline(createReadStream(task.file, { start: task.start, end: task.end - 1, highWaterMark: READ_BLOCK_BYTES }), copy);
    } else {
      await pipeline(async function* () {}, copy);
    }
    return { ok: true, chunk: task.chunk, rows: copy.rowCount ?? 0, bytes: task.end - task.start, ms: performance.now() - started };
  } catch (error) {
    return { ok: false, chunk: task.chunk, error: toWire(error) };
  } finally {
    await client?.end().catch(() => {});
  }
}
