/**
 * Maps a server error inside one chunk's COPY back to the input file: physical line (as an editor
 * counts), record number, column.
 *
 * PostgreSQL's `CONTEXT: COPY t, line N` is not a physical line. Its counter (CopyReadLineText in
 * src/backend/commands/copyfromparse.c) adds one per record, and in CSV one more per newline inside
 * quotes, but only of the kind that matches the stream's line ending, which it learns at the first
 * unquoted line end: until then it counts quoted CRs, not LFs. Each chunk is its own COPY stream, so
 * this is true per chunk. `simulateServerLines` runs that same counter over the chunk's bytes, and
 * the record whose count equals N is the bad one.
 */
import { open } from 'node:fs/promises';
import { PloaderError, serverFields } from '../errors.ts';
import type { Chunk } from '../plan/chunks.ts';
import type { RecordSyntax } from '../input/scan/record-syntax.ts';
import { chunkBlocks, type ChunkBytes } from './chunk-records.ts';
import { CopyRecordScanner, type CopyRecord } from './copy-records.ts';


export interface RecordLocation {
  /** Offset of the record's first byte in the chunk. */
  offset: number;
  /** 1-based physical line of the record's first byte, relative to the chunk. */
  line: number;
  /** What the server's COPY line counter reads once this record has been read. */
  serverLine: number;
  /** 1-based physical line of the first byte after the record, relative to the chunk. */
  nextLine: number;
}

/**
 * Every record of one COPY stream, with the server's count for it. Physical lines count the line-end
 * byte of the stream's style (CR in a CR-only stream, LF otherwise), as the split scan does.
 */
export function simulateServerLines(data: Buffer, syntax: RecordSyntax): RecordLocation[] {
  const scanner = new CopyRecordScanner(syntax);
  const records: RecordLocation[] = [];
  const keep = (r: CopyRecord) => {
    if (records.length > 0) records[records.length - 1].nextLine = r.line;
    records.push({ offset: r.start, line: r.line, serverLine: r.serverLine, nextLine: r.line });
  };
  scanner.push(data, keep);
  scanner.finish(keep);
  if (records.length > 0) records[records.length - 1].nextLine = scanner.line;
  return records;
}

/** `COPY t, line 12, column score: "x"` → { line: 12, column: 'score' }. The only place CONTEXT text is read. */
export function parseCopyContext(where: string | undefined): { line: number; column?: string } | undefined {
  const match = where && /\bCOPY [^\n]*?, line (\d+)(?:, column (.*?)(?:: (?:"|null input)|$))?/m.exec(where);
  return match ? { line: Number(match[1]), column: match[2] || undefined } : undefined;
}

/**
 * A row ON_ERROR ignore skipped (PostgreSQL 17+, LOG_VERBOSITY verbose): `skipping row due to data
 * type incompatibility at line 3 for column "a": "x"`. The server gives the line only in the NOTICE's
 * text (its CONTEXT names no line), so this reads the message; a server whose lc_messages is not
 * English is caught by the caller, which counts the skipped rows (see isolate-bad-rows.ts).
 */
export function parseSkipNotice(message: string): { line: number; column: string; value: string } | undefined {
  const match = /^skipping row due to data type incompatibility at line (\d+) for column "(.*)": "(.*)"$/s.exec(message);
  return match ? { line: Number(match[1]), column: match[2], value: match[3] } : undefined;
}

export async function readRange(file: string, start: number, end: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const data = Buffer.alloc(end - start);
    let filled = 0;
    while (filled < data.length) {
      const { bytesRead } = await handle.read(data, filled, data.length - filled, start + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return data.subarray(0, filled);
  } finally {
    await handle.close();
  }
}

/**
 * The record of a chunk on which the server's line counter (for a COPY of the whole chunk) reads
 * `serverLine`: one scan of the chunk, stopped there.
 */
export async function locateServerLine(source: ChunkBytes, syntax: RecordSyntax, serverLine: number): Promise<CopyRecord | undefined> {
  const scanner = new CopyRecordScanner(syntax);
  let found: CopyRecord | undefined;
  const look = (record: CopyRecord) => {
    if (!found && record.serverLine >= serverLine) found = record;
  };
  for await (const block of chunkBlocks(source)) {
    scanner.push(block, look);
    if (found) break;
  }
  if (!found) scanner.finish(look);
  return found?.serverLine === serverLine ? found : undefined;
}

/**
 * The error of one COPY of `chunk`, with the input position of the record the server named: its
 * physical line from one scan of the chunk up to that record, its number from the chunk's first
 * record (never a rescan of the chunks before). Binary: the server's line N is the chunk's Nth tuple.
 * Errors that name no line are returned as they are.
 */
export async function locateCopyError(error: unknown, chunk: Chunk, source: ChunkBytes & { syntax: RecordSyntax; binary: boolean }): Promise<unknown> {
  const server = serverFields(error);
  const at = parseCopyContext(server?.where);
  if (!server || !at) return error;
  const column = at.column ?? server.column;
  const file = source.file;
  if (source.binary) return new PloaderError('SERVER_ERROR', (error as Error).message, { server, position: { file, record: chunk.firstRecord + at.line, column } });
  const record = await locateServerLine(source, source.syntax, at.line);
  const position = record
    ? { file, line: chunk.line + record.line - 1, record: chunk.firstRecord + record.index + 1, column }
    : { file, line: chunk.line, column };
  return new PloaderError('SERVER_ERROR', (error as Error).message, { server, position });
}
