/**
 * Bad-row isolation for --max-errors, and the reject file.
 *
 * A chunk loads in one transaction. When its COPY stops at a bad row, the rows before it are rolled
 * back to a savepoint; the bad record is located exactly (line-mapping.ts), the good records before it
 * are sent again, the bad one is set aside as a reject, and COPY resumes right after it. Each byte of
 * a chunk is thus sent at most twice however many bad rows it holds, every good row lands exactly once,
 * and the chunk's rows commit together.
 */
import { createReadStream } from 'node:fs';
import { appendFile, writeFile } from 'node:fs/promises';
import type { ServerErrorFields } from '../errors.ts';
import { parseCopyContext, type RecordLocation } from './line-mapping.ts';
import { isRowError } from '../db/sqlstate.ts';

/** A record the server refused, as found by a worker (positions relative to the input file). */
export interface RejectedRecord {
  /** Byte range [start, end) of the record in the input file. */
  start: number;
  end: number;
  /** 1-based physical line of the record's first byte in the input file. */
  line: number;
  chunk: number;
  /** 0-based index of the record within its chunk. */
  recordInChunk: number;
  column?: string;
  sqlstate?: string;
  message: string;
  /** The record's bytes, base64, when the input is a stream that cannot be read again. */
  bytes?: string;
}

/** A rejected record once the main thread knows how many records came before its chunk. */
export interface RejectReport extends Omit<RejectedRecord, 'chunk' | 'recordInChunk'> {
  /** 1-based record number in the input file (header not counted). */
  record: number;
}

export interface BadRecordInSegment {
  /** Index of the bad record among the segment's records. */
  index: number;
  /** Offsets of the bad record within the segment: [start, end). */
  start: number;
  end: number;
  /** Segment-relative 1-based physical line of the bad record, and of the first byte after it. */
  line: number;
  lineAfter: number;
  column?: string;
}

/**
 * The record a COPY of one segment failed on, or undefined when the error is not a row's fault (a lost
 * connection, a full disk) or carries no line: such errors fail the load whatever --max-errors says.
 */
export function findBadRecord(
  server: ServerErrorFields,
  records: readonly RecordLocation[],
  segmentBytes: number,
): BadRecordInSegment | undefined {
  if (!isRowError(server.sqlstate)) return undefined;
  const at = parseCopyContext(server.where);
  if (!at) return undefined;
  const index = records.findIndex((r) => r.serverLine === at.line);
  if (index === -1) return undefined;
  const next = records[index + 1];
  const end = next ? next.offset : segmentBytes;
  return { index, start: records[index].offset, end, line: records[index].line, lineAfter: records[index].nextLine, column: at.column ?? server.column };
}

/** Global record numbers: records before a chunk = its predecessors' loaded rows plus their rejects. */
export function numberRejects(
  rejects: readonly RejectedRecord[],
  recordsPerChunk: ReadonlyMap<number, number>,
): RejectReport[] {
  const before = new Map<number, number>();
  let total = 0;
  for (const chunk of [...recordsPerChunk.keys()].sort((a, b) => a - b)) {
    before.set(chunk, total);
    total += recordsPerChunk.get(chunk)!;
  }
  return [...rejects]
    .sort((a, b) => a.start - b.start)
    .map(({ chunk, recordInChunk, ...rest }) => ({ ...rest, record: (before.get(chunk) ?? 0) + recordInChunk + 1 }));
}

/**
 * Writes the reject file (the refused records' original bytes, in input order) and its log (one JSON
 * line per record: line, record, column, SQLSTATE, message).
 */
export async function writeRejects(inputFile: string, rejectFile: string, rejects: readonly RejectReport[]): Promise<void> {
  await writeFile(rejectFile, '');
  await writeFile(`${rejectFile}.log`, rejects.map((r) => `${JSON.stringify({ line: r.line, record: r.record, column: r.column ?? null, sqlstate: r.sqlstate ?? null, message: r.message })}\n`).join(''));
  for (const reject of rejects) {
    if (reject.bytes !== undefined) {
      await appendFile(rejectFile, Buffer.from(reject.bytes, 'base64'));
      continue;
    }
    const bytes: Buffer[] = [];
    for await (const part of createReadStream(inputFile, { start: reject.start, end: reject.end - 1 })) bytes.push(part as Buffer);
    await appendFile(rejectFile, Buffer.concat(bytes));
  }
}
