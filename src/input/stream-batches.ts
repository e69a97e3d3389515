/**
 * Streams (stdin, .gz files) cannot be split by offset: they are cut as they are read into batches
 * that end at record boundaries, and handed to the workers as they come. One scan runs over the whole
 * stream (record-boundaries.ts), so its line-end style, record counts and end-of-data marker are the
 * stream's, as for a file; each batch starts at a record start, outside any quoted field.
 */
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { Chunk } from '../plan/chunks.ts';
import type { LoadPlan } from '../plan/load-plan.ts';
import { RecordBoundaryScanner, type RecordStart } from './scan/record-boundaries.ts';
import { LENIENT_SCAN, type RecordSyntax, type ScanRules } from './scan/record-syntax.ts';
import { markerWarnings, scanRulesOf, syntaxOf } from './split.ts';
import { DEFAULT_STREAM_BATCH_BYTES } from '../options.ts';

/** A chunk to load: a byte range of the input file, or (from a stream) its bytes in memory. */
export interface PendingChunk {
  chunk: Chunk;
  data?: Buffer;
}


export function isStreamInput(file: string): boolean {
  return file === '-' || file.toLowerCase().endsWith('.gz');
}

export function openInputStream(file: string): AsyncIterable<Buffer> {
  if (file === '-') return process.stdin;
  return createReadStream(file).pipe(createGunzip());
}

export interface StreamBatching {
  syntax: RecordSyntax;
  /** Batches of about this many bytes (a record longer than that makes its batch longer). */
  batchBytes: number;
  /** The first record is a header: dropped. */
  header: boolean;
  rules?: ScanRules;
  /** Told what the user should know, such as data after an end-of-data marker. */
  warn?: (message: string) => void;
}

/** Record-aligned batches; positions are stream offsets, `line` is the batch's first line. */
export async function* recordBatches(input: AsyncIterable<Buffer>, batching: StreamBatching): AsyncGenerator<PendingChunk> {
  const { syntax, batchBytes, header } = batching;
  const scanner = new RecordBoundaryScanner(syntax, { first: header ? 1 : batchBytes, next: (start) => start.offset + batchBytes }, batching.rules ?? LENIENT_SCAN);
  let parts: Buffer[] = [];
  /** Where the batch under way starts (undefined while the header is read). */
  let cut: RecordStart | undefined = header ? undefined : { offset: 0, line: 1, records: 0 };
  /** Stream offset of parts[0][0]. */
  let partsStart = 0;
  let streamBytes = 0;
  let index = 0;
  const headerRecords = header ? 1 : 0;
  /** The bytes [partsStart, next) out of the parts, which then begin at `next`. */
  const takeUntil = (next: number): Buffer => {
    const all = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    const taken = all.subarray(0, next - partsStart);
    const rest = all.subarray(next - partsStart);
    parts = rest.length > 0 ? [rest] : [];
    partsStart = next;
    return taken;
  };
  const batchUntil = (next: RecordStart): PendingChunk | undefined => {
    const data = takeUntil(next.offset);
    const from = cut;
    cut = next;
    if (!from || next.offset <= from.offset) return undefined;
    const chunk = { index: index++, file: batching.rules?.file ?? '-', start: from.offset, end: next.offset, line: from.line, firstRecord: from.records - headerRecords, records: next.records - from.records };
    // Copied: a batch must not pin the whole block it came from while it waits for a worker.
    return { chunk, data: Buffer.from(data) };
  };
  for await (const block of input) {
    streamBytes += block.length;
    // After an end-of-data marker the rest is read and dropped, as the server drops it (and the
    // writer of a pipe is not cut off); only its size is kept, for the warning.
    if (scanner.done) continue;
    parts.push(block);
    scanner.push(block);
    for (const start of scanner.takeStarts()) {
      const batch = batchUntil(start);
      if (batch) yield batch;
    }
  }
  const { end } = scanner.finish();
  for (const start of scanner.takeStarts()) {
    const batch = batchUntil(start.offset <= end.offset ? start : end);
    if (batch) yield batch;
  }
  const last = batchUntil(end);
  if (last) yield last;
  for (const warning of markerWarnings(batching.rules?.file ?? 'standard input', streamBytes, end, syntax.format)) batching.warn?.(warning);
}

/** A stream is scanned as a file is: the server's marker rule, line-end checks, records counted. */
export function streamBatching(plan: LoadPlan): StreamBatching {
  const { options } = plan;
  const batchBytes = options.chunkBytes ?? DEFAULT_STREAM_BATCH_BYTES;
  return { syntax: syntaxOf(options), batchBytes, header: options.header, rules: scanRulesOf(options, plan.server.versionNum), warn: (warning) => plan.warnings.push(warning) };
}
