/**
 * Pure: the records of one COPY stream (CSV or text), read incrementally, each with the value the
 * server's `CONTEXT: COPY t, line N` counter has once it has read the record.
 *
 * PostgreSQL's counter (CopyReadLineText in src/backend/commands/copyfromparse.c) adds one per record,
 * and in CSV one more per newline inside quotes, but only of the kind that matches the stream's line
 * ending, which it learns at the first unquoted line end: until then it counts quoted CRs, not LFs.
 * Each COPY stream counts from 1, so a stream that starts in the middle of a chunk counts its first
 * record by the "line end not known yet" rule: `quotedCR` gives what is needed for that.
 *
 * Blocks may be any size; the scanner keeps no reference to them, so a chunk of any size is read in
 * constant memory.
 */
import type { RecordSyntax } from '../input/scan/record-syntax.ts';

const LF = 0x0a;
const CR = 0x0d;
const BACKSLASH = 0x5c;

export type LineEnd = 'unknown' | 'nl' | 'crnl' | 'cr';

export interface CopyRecord {
  /** 0-based index of the record in the stream. */
  index: number;
  /** Byte range [start, end) in the stream, the line end included. */
  start: number;
  end: number;
  /** 1-based physical line (as an editor counts) of the record's first byte. */
  line: number;
  /** The server's line counter once this record is read, for a stream that starts at offset 0. */
  serverLine: number;
  /** What the server's counter adds for this record when it is not the first of its stream. */
  ownLines: number;
  /** CRs inside quotes: what the server counts for a record that comes first in its stream (1 + quotedCR). */
  quotedCR: number;
  /** An unquoted line end of another kind than the stream's (a bare CR in an LF file): the server refuses the record. */
  stray: boolean;
}

export class CopyRecordScanner {
  private readonly csv: boolean;
  private readonly quote: number;
  private readonly escape: number;
  private eol: LineEnd = 'unknown';
  private offset = 0;
  private physicalLine = 1;
  private serverLine = 0;
  private index = 0;
  private lastServerLine = 0;
  private current: CopyRecord | undefined;
  private inQuote = false;
  private lastWasEscape = false;
  /** Text format: the previous byte was an unescaped backslash, so this one is data. */
  private escaped = false;
  /** An unquoted CR was the last byte seen while the line end was unknown: the next byte decides. */
  private pendingCR = false;
  /** The previous byte was an unquoted CR (a CR LF in a CRLF stream is one line end, a bare LF is not). */
  private afterCR = false;

  constructor(syntax: RecordSyntax) {
    this.csv = syntax.format === 'csv';
    this.quote = syntax.quote;
    // PostgreSQL ignores ESCAPE when it equals QUOTE: the quote is then a plain toggle.
    this.escape = syntax.escape === syntax.quote ? -1 : syntax.escape;
  }

  /** The stream's line end, once its first record has ended. */
  get lineEnd(): LineEnd {
    return this.eol;
  }

  /** 1-based physical line of the next byte. */
  get line(): number {
    return this.physicalLine;
  }

  /** Bytes consumed so far. */
  get consumed(): number {
    return this.offset;
  }

  /** Feeds the next block; `emit` gets every record that ends inside it, in order. */
  push(data: Buffer, emit: (record: CopyRecord) => void): void {
    let i = 0;
    if (data.length === 0) return;
    if (this.pendingCR) {
      this.pendingCR = false;
      if (data[0] === LF) {
        this.eol = 'crnl';
        this.physicalLine++;
        this.endRecord(1, emit);
        i = 1;
      } else {
        this.eol = 'cr';
        this.endRecord(0, emit);
      }
    }
    for (; i < data.length; i++) {
      const c = data[i];
      if (this.current === undefined) this.begin(this.offset + i);
      const record = this.current!;
      if (c === LF) this.physicalLine++;
      // A CRLF stream refuses a CR that no LF follows.
      const afterCR = this.afterCR;
      if (afterCR && c !== LF) record.stray = true;
      this.afterCR = false;
      if (this.csv) {
        if (this.inQuote && c === this.escape) this.lastWasEscape = !this.lastWasEscape;
        if (c === this.quote && !this.lastWasEscape) this.inQuote = !this.inQuote;
        if (c !== this.escape) this.lastWasEscape = false;
        if (this.inQuote) {
          if (c === CR) record.quotedCR++;
          if (c === (this.eol === 'nl' ? LF : CR)) this.serverLine++;
          continue;
        }
      } else if (this.escaped) {
        // Text format: the byte after a backslash is data, whatever it is (an escaped LF ends nothing).
        this.escaped = false;
        continue;
      } else if (c === BACKSLASH) {
        this.escaped = true;
        continue;
      }
      if (c === CR) {
        if (this.eol === 'unknown') {
          if (i + 1 === data.length) {
            this.offset += data.length;
            this.pendingCR = true;
            return;
          }
          this.eol = data[i + 1] === LF ? 'crnl' : 'cr';
        }
        if (this.eol === 'cr') {
          this.endRecord(i + 1, emit);
          continue;
        }
        // An LF stream refuses a bare CR in the record (22P04), which runs on to the LF; a CRLF stream waits for its LF.
        if (this.eol === 'nl') record.stray = true;
        else this.afterCR = true;
      } else if (c === LF) {
        if (this.eol === 'unknown') this.eol = 'nl';
        else if (this.eol === 'cr' || (this.eol === 'crnl' && !afterCR)) record.stray = true;
        this.endRecord(i + 1, emit);
      }
    }
    this.offset += data.length;
  }

  /** The last record, when the stream does not end with a line end. */
  finish(emit: (record: CopyRecord) => void): void {
    if (this.pendingCR) {
      this.pendingCR = false;
      this.eol = 'cr';
      this.endRecord(0, emit);
      return;
    }
    if (this.current) {
      const record = this.current;
      this.current = undefined;
      record.end = this.offset;
      this.close(record);
      emit(record);
    }
  }

  private begin(start: number): void {
    this.serverLine++;
    this.current = { index: this.index++, start, end: start, line: this.physicalLine, serverLine: 0, ownLines: 0, quotedCR: 0, stray: false };
    this.inQuote = false;
    this.lastWasEscape = false;
  }

  /** Ends the current record just before block position `at` (0 when the line end closed the previous block). */
  private endRecord(at: number, emit: (record: CopyRecord) => void): void {
    const record = this.current!;
    this.current = undefined;
    record.end = this.offset + at;
    this.close(record);
    emit(record);
  }

  private close(record: CopyRecord): void {
    record.serverLine = this.serverLine;
    record.ownLines = this.serverLine - this.lastServerLine;
    this.lastServerLine = this.serverLine;
  }
}

/** Every record of one COPY stream held in memory. */
export function scanCopyRecords(data: Buffer, syntax: RecordSyntax): CopyRecord[] {
  const records: CopyRecord[] = [];
  const scanner = new CopyRecordScanner(syntax);
  const keep = (record: CopyRecord) => {
    records.push(record);
  };
  scanner.push(data, keep);
  scanner.finish(keep);
  return records;
}

/** Records in one COPY stream, counted without keeping them. */
export function countCopyRecords(blocks: Iterable<Buffer>, syntax: RecordSyntax): number {
  const scanner = new CopyRecordScanner(syntax);
  let count = 0;
  const tally = () => {
    count++;
  };
  for (const block of blocks) scanner.push(block, tally);
  scanner.finish(tally);
  return count;
}
