/**
 * One sequential read of a chunk, record by record, each record with its own bytes: what bad-row
 * isolation and the reject file work from. Memory holds one read block plus the records the caller
 * still keeps, never the chunk.
 */
import { createReadStream } from 'node:fs';
import type { RecordSyntax } from '../input/scan/record-syntax.ts';
import { CopyRecordScanner, type CopyRecord } from './copy-records.ts';

export interface RecordWithBytes extends CopyRecord {
  bytes: Buffer;
}

/** Where a chunk's bytes come from: the file's range [start, end), or a stream's batch in memory. */
export interface ChunkBytes {
  file: string;
  start: number;
  end: number;
  data?: Uint8Array;
}

/** Read-ahead per chunk stream: large enough to keep the socket busy, small enough that N workers stay far below the RSS budget. */
export const READ_BLOCK_BYTES = 1 << 20;

/** The bytes [start, end) of the file, streamed (createReadStream's `end` is inclusive). */
export async function* fileRange(file: string, start: number, end: number): AsyncGenerator<Buffer> {
  if (end > start) yield* createReadStream(file, { start, end: end - 1, highWaterMark: READ_BLOCK_BYTES });
}

/** The chunk's bytes in blocks, from memory or from the file. */
export function chunkBlocks(source: ChunkBytes): AsyncIterable<Buffer> | Buffer[] {
  if (!source.data) return fileRange(source.file, source.start, source.end);
  return [Buffer.from(source.data.buffer, source.data.byteOffset, source.data.byteLength)];
}

/**
 * The chunk's records in order, in batches (those that end in one read block: yielded one by one,
 * a million records cost a million promise turns); offsets, lines and server lines are relative to
 * the chunk.
 */
export async function* chunkRecordBatches(source: ChunkBytes, syntax: RecordSyntax): AsyncGenerator<RecordWithBytes[]> {
  const scanner = new CopyRecordScanner(syntax);
  // The blocks still needed for the record under way: a record may span blocks.
  let held: Buffer[] = [];
  let heldFrom = 0;
  let ready: RecordWithBytes[] = [];
  const take = (record: CopyRecord) => {
    // The scanner's record is a fresh object: it becomes the RecordWithBytes (no copy per record).
    const withBytes = record as RecordWithBytes;
    withBytes.bytes = slice(held, heldFrom, record.start, record.end);
    ready.push(withBytes);
  };
  for await (const block of chunkBlocks(source)) {
    held.push(block);
    scanner.push(block, take);
    // Drop the blocks that end before the record under way begins.
    const keepFrom = ready.length > 0 ? ready[ready.length - 1].end : heldFrom;
    while (held.length > 1 && heldFrom + held[0].length <= keepFrom) heldFrom += held.shift()!.length;
    if (held.length === 1 && heldFrom + held[0].length <= keepFrom) {
      heldFrom += held[0].length;
      held = [];
    }
    const out = ready;
    ready = [];
    if (out.length > 0) yield out;
  }
  scanner.finish(take);
  if (ready.length > 0) yield ready;
}

/** Bytes [from, to) of the stream, out of the held blocks that start at offset `base`. */
function slice(blocks: readonly Buffer[], base: number, from: number, to: number): Buffer {
  let offset = base;
  const parts: Buffer[] = [];
  for (const block of blocks) {
    const end = offset + block.length;
    if (end > from && offset < to) parts.push(block.subarray(Math.max(0, from - offset), Math.min(block.length, to - offset)));
    offset = end;
    if (offset >= to) break;
  }
  // A view of its block when it lies in one: the records alive at a time (a window, at most 1 MB) pin a few blocks at most.
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

/**
 * Only the records of the chunk whose indexes `wanted` yields (ascending), with their bytes: one scan
 * of the chunk as far as the last one wanted, and no copy of the others.
 */
export async function* selectRecords(source: ChunkBytes, syntax: RecordSyntax, wanted: AsyncIterator<number>): AsyncGenerator<RecordWithBytes> {
  const scanner = new CopyRecordScanner(syntax);
  let next = await wanted.next();
  let held: Buffer[] = [];
  let heldFrom = 0;
  let ended: CopyRecord[] = [];
  const collect = (record: CopyRecord) => {
    ended.push(record);
  };
  /** Yields the wanted ones among the records that ended in the held blocks. */
  async function* pick(): AsyncGenerator<RecordWithBytes> {
    for (const record of ended) {
      if (next.done) return;
      if (record.index !== next.value) continue;
      const withBytes = record as RecordWithBytes;
      withBytes.bytes = slice(held, heldFrom, record.start, record.end);
      yield withBytes;
      next = await wanted.next();
    }
  }
  for await (const block of chunkBlocks(source)) {
    if (next.done) return;
    held.push(block);
    scanner.push(block, collect);
    yield* pick();
    const keepFrom = ended.length > 0 ? ended[ended.length - 1].end : heldFrom;
    ended = [];
    while (held.length > 0 && heldFrom + held[0].length <= keepFrom) heldFrom += held.shift()!.length;
    if (held.length === 0) held = [];
  }
  scanner.finish(collect);
  yield* pick();
}

/**
 * The records' bytes as one buffer: a view of their block when they lie side by side in it (records
 * read by chunkRecordBatches mostly do), a copy only where they do not.
 */
export function joinRecords(records: readonly RecordWithBytes[]): Buffer {
  if (records.length === 0) return Buffer.alloc(0);
  const first = records[0].bytes;
  let end = first.byteOffset + first.length;
  for (let i = 1; i < records.length; i++) {
    const bytes = records[i].bytes;
    if (bytes.buffer !== first.buffer || bytes.byteOffset !== end) return Buffer.concat(records.map((r) => r.bytes));
    end += bytes.length;
  }
  return Buffer.from(first.buffer, first.byteOffset, end - first.byteOffset);
}
