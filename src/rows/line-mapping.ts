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
import { PloaderError, type ServerErrorFields } from '../errors.ts';
import type { Chunk } from '../plan/chunks.ts';
import type { RecordSyntax } from '../input/scan/record-syntax.ts';
import { isRowError } from '../db/sqlstate.ts';

const LF = 0x0a;
const CR = 0x0d;
const BACKSLASH = 0x5c;

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
  const csv = syntax.format === 'csv';
  const quote = syntax.quote;
  // PostgreSQL ignores ESCAPE when it equals QUOTE: the quote is then a plain toggle.
  const escape = syntax.escape === syntax.quote ? -1 : syntax.escape;
  const records: RecordLocation[] = [];
  let eol: 'unknown' | 'nl' | 'crnl' | 'cr' = 'unknown';
  let serverLine = 0;
  let lineFeeds = 0;
  let carriageReturns = 0;
  const physicalLine = () => 1 + (eol === 'cr' ? carriageReturns : lineFeeds);
  const count = (c: number) => {
    if (c === LF) lineFeeds++;
    else if (c === CR) carriageReturns++;
  };
  let i = 0;
  while (i < data.length) {
    const line = physicalLine();
    const record: RecordLocation = { offset: i, line, serverLine: ++serverLine, nextLine: line };
    let inQuote = false;
    let lastWasEscape = false;
    for (; i < data.length; i++) {
      const c = data[i];
      count(c);
      if (csv) {
        if (inQuote && c === escape) lastWasEscape = !lastWasEscape;
        if (c === quote && !lastWasEscape) inQuote = !inQuote;
        if (c !== escape) lastWasEscape = false;
        if (inQuote && c === (eol === 'nl' ? LF : CR)) serverLine++;
        if (inQuote) continue;
      } else if (c === BACKSLASH) {
        // Text format: the next byte is data, whatever it is (an escaped line end does not end the record).
        i++;
        if (i < data.length) count(data[i]);
        continue;
      }
      if (c === CR) {
        if (eol === 'unknown') eol = data[i + 1] === LF ? 'crnl' : 'cr';
        // Once the stream's line end is known to be LF, the server refuses a bare CR as data
        // (22P04) inside the record, which then runs on to the LF; with CR LF line ends the LF ends it.
        if (eol === 'cr') {
          i++;
          break;
        }
      } else if (c === LF) {
        if (eol === 'unknown') eol = 'nl';
        // In a CR-only stream an unquoted LF is refused (22P04) inside the record, which runs on to the CR.
        if (eol !== 'cr') {
          i++;
          break;
        }
      }
    }
    record.serverLine = serverLine;
    record.nextLine = physicalLine();
    records.push(record);
  }
  return records;
}

/** `COPY t, line 12, column score: "x"` → { line: 12, column: 'score' }. The only place CONTEXT text is read. */
export function parseCopyContext(where: string | undefined): { line: number; column?: string } | undefined {
  const match = where && /\bCOPY [^\n]*?, line (\d+)(?:, column (.*?)(?:: (?:"|null input)|$))?/m.exec(where);
  return match ? { line: Number(match[1]), column: match[2] || undefined } : undefined;
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

export interface ChunkErrorContext {
  file: string;
  syntax: RecordSyntax;
  /** The failing chunk's bytes (from the file, or a stream's batch in memory). */
  read: (chunk: Chunk) => Promise<Buffer>;
  /** Records in the input before the chunk, when known. */
  recordsBefore: () => Promise<number | undefined>;
  /** Binary format: the server's line N is the Nth tuple of the chunk, and Chunk.line its first tuple's number. */
  binary?: boolean;
}

/** Turns a chunk's server error into a BAD_ROW / SERVER_ERROR naming file, line, record and column. */
export async function locateChunkError(error: PloaderError, chunk: Chunk, context: ChunkErrorContext): Promise<PloaderError> {
  const server: ServerErrorFields = error.server ?? {};
  const at = parseCopyContext(server.where);
  const reason = `${error.message}${server.sqlstate ? ` (SQLSTATE ${server.sqlstate})` : ''}${server.detail ? `; ${server.detail}` : ''}${server.hint ? `; hint: ${server.hint}` : ''}`;
  if (!at) {
    return new PloaderError(error.code, `${reason} — while loading lines from ${chunk.line} of ${context.file}`, { server, cause: error });
  }
  if (context.binary) {
    const tuple = chunk.line + at.line - 1;
    const column = at.column ?? server.column;
    return new PloaderError(
      isRowError(server.sqlstate) ? 'BAD_ROW' : error.code,
      `tuple ${tuple}${column ? `, column ${column}` : ''}: ${reason} — fix the file and load again (nothing was loaded)`,
      { position: { file: context.file, record: tuple, column }, server, cause: error },
    );
  }
  const records = simulateServerLines(await context.read(chunk), context.syntax);
  const index = records.findIndex((r) => r.serverLine === at.line);
  const record = records[index === -1 ? records.length - 1 : index];
  const recordsBefore = await context.recordsBefore();
  const position = {
    file: context.file,
    line: chunk.line + (record?.line ?? 1) - 1,
    record: recordsBefore === undefined ? undefined : recordsBefore + (index === -1 ? records.length : index + 1),
    column: at.column ?? server.column,
  };
  const where = [position.record === undefined ? undefined : `record ${position.record}`, position.column ? `column ${position.column}` : undefined].filter(Boolean).join(', ') || 'a row';
  const code = isRowError(server.sqlstate) ? 'BAD_ROW' : error.code;
  return new PloaderError(code, `${where}: ${reason} — fix the row and load again (nothing was loaded)`, { position, server, cause: error });
}

/** Input positions of records given by chunk and index within the chunk (read chunk by chunk). */
export async function locateRecords(
  file: string,
  syntax: RecordSyntax,
  chunks: readonly Chunk[],
  wanted: ReadonlyArray<{ chunk: number; recordInChunk: number }>,
): Promise<Array<{ start: number; end: number; line: number }>> {
  const byChunk = new Map<number, RecordLocation[]>();
  const located = [];
  for (const { chunk: index, recordInChunk } of wanted) {
    const chunk = chunks.find((c) => c.index === index);
    if (!chunk) throw new Error(`no chunk ${index} in the plan`);
    let records = byChunk.get(index);
    if (!records) {
      records = simulateServerLines(await readRange(file, chunk.start, chunk.end), syntax);
      byChunk.set(index, records);
    }
    const record = records[recordInChunk];
    const next = records[recordInChunk + 1];
    located.push({ start: chunk.start + record.offset, end: next ? chunk.start + next.offset : chunk.end, line: chunk.line + record.line - 1 });
  }
  return located;
}
