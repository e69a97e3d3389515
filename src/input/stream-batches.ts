/**
 * Streams (stdin, .gz files) cannot be split by offset: they are cut as they are read into batches
 * that end at record boundaries, and handed to the workers as they come. Each batch starts at a
 * record start, so its scan starts outside any quoted field and needs no state from the one before.
 */
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { PendingChunk } from '../plan/chunks.ts';
import { countCopyRecords } from '../rows/copy-records.ts';
import { findRecordStarts } from './scan/record-boundaries.ts';
import type { RecordSyntax } from './scan/record-syntax.ts';

/** Batch size for streams when --chunk-size is not given: a few of these per worker stay in memory. */
export const DEFAULT_STREAM_BATCH_BYTES = 8 << 20;

export function isStreamInput(file: string): boolean {
  return file === '-' || file.toLowerCase().endsWith('.gz');
}

export function openInputStream(file: string): AsyncIterable<Buffer> {
  if (file === '-') return process.stdin;
  return createReadStream(file).pipe(createGunzip());
}

/**
 * Record-aligned batches of about `batchBytes` (a record longer than that makes its batch longer).
 * `skipHeader` drops the first record. Positions are stream offsets; `line` is the batch's first line.
 */
export async function* recordBatches(
  input: AsyncIterable<Buffer>,
  syntax: RecordSyntax,
  batchBytes: number,
  skipHeader: boolean,
): AsyncGenerator<PendingChunk> {
  let parts: Buffer[] = [];
  let buffered = 0;
  let offset = 0;
  let line = 1;
  let index = 0;
  let headerPending = skipHeader;
  let firstRecord = 0;
  /** A batch as a chunk, its records counted as it is cut: the batcher holds its bytes anyway. */
  const batch = (data: Buffer): PendingChunk => {
    const records = countCopyRecords([data], syntax);
    const chunk = { index: index++, start: offset, end: offset + data.length, line, firstRecord, records };
    firstRecord += records;
    return { chunk, data };
  };
  const take = (): Buffer => {
    const all = parts.length === 1 ? parts[0] : Buffer.concat(parts, buffered);
    parts = [all];
    return all;
  };
  /** Drops data[0, cut) from the buffer, advancing position and line. */
  const advance = (data: Buffer, cut: { offset: number; line: number }) => {
    const rest = Buffer.from(data.subarray(cut.offset));
    parts = rest.length > 0 ? [rest] : [];
    buffered = rest.length;
    offset += cut.offset;
    line += cut.line - 1;
  };
  for await (const block of input) {
    parts.push(block);
    buffered += block.length;
    if (headerPending) {
      const data = take();
      const [end] = findRecordStarts(data, syntax, [1]);
      if (end.offset >= data.length) continue; // the header's end has not arrived yet
      advance(data, end);
      headerPending = false;
    }
    while (buffered >= batchBytes) {
      const data = take();
      const [cut] = findRecordStarts(data, syntax, [batchBytes]);
      if (cut.offset >= data.length) break; // the record under way is longer: read on
      yield batch(Buffer.from(data.subarray(0, cut.offset)));
      advance(data, cut);
    }
  }
  if (headerPending && buffered > 0) {
    const data = take();
    advance(data, findRecordStarts(data, syntax, [1])[0]);
  }
  if (buffered > 0) {
    const data = take();
    yield batch(data);
  }
}
