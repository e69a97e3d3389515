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
  /** Line-end bytes seen: physical lines count CRs in a CR-only stream, LFs in any other (as the split scan does). */
  private lineFeeds = 0;
  private carriageReturns = 0;
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
    return 1 + (this.eol === 'cr' ? this.carriageReturns : this.lineFeeds);
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
        this.lineFeeds++;
        this.endRecord(1, emit);
        i = 1;
      } else {
        this.eol = 'cr';
        this.endRecord(0, emit);
      }
    }
    const n = data.length;
    const quote = this.quote;
    const escape = this.escape;
    const backslash = this.csv ? -1 : BACKSLASH;
    for (; i < n; i++) {
      // Within a record, in a plain state, the bytes that are neither line end, quote, escape nor
      // backslash change nothing but "the previous byte was an escape": skipped in one tight loop.
      if (this.current !== undefined && !this.afterCR && !this.escaped) {
        const from = i;
        let c = data[i];
        while (c !== LF && c !== CR && c !== quote && c !== escape && c !== backslash) {
          if (++i === n) break;
          c = data[i];
        }
        if (i > from) this.lastWasEscape = false;
        if (i === n) break;
      }
      const c = data[i];
      if (this.current === undefined) this.begin(this.offset + i);
      const record = this.current!;
      if (c === LF) this.lineFeeds++;
      else if (c === CR) this.carriageReturns++;
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
        // A CR-only stream refuses an unquoted LF (22P04) inside the record, which runs on to the CR.
        if (this.eol === 'cr') {
          record.stray = true;
          continue;
        }
        if (this.eol === 'crnl' && !afterCR) record.stray = true;
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
    this.current = { index: this.index++, start, end: start, line: this.line, serverLine: 0, ownLines: 0, quotedCR: 0, stray: false };
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

/**
 * Records in one COPY stream, counted without keeping them. The same records as CopyRecordScanner
 * finds, found faster: once the first record has shown the stream's line end, records end at every
 * LF outside quotes (CSV, ESCAPE = QUOTE) or not escaped by a backslash (text), found with indexOf.
 * CR-only streams and a CSV ESCAPE of its own take the byte-by-byte scanner.
 */
export function countCopyRecords(blocks: Iterable<Buffer>, syntax: RecordSyntax): number {
  const scanner = new CopyRecordScanner(syntax);
  let count = 0;
  const tally = () => {
    count++;
  };
  const fast = syntax.format === 'text' || syntax.escape === syntax.quote;
  let counter: LineFeedCounter | undefined;
  for (const block of blocks) {
    if (counter) {
      counter.push(block);
      continue;
    }
    // Byte by byte until the first record has ended: then the line end is known.
    let from = 0;
    if (fast) {
      const firstEnd = scanner.lineEnd === 'unknown' ? firstLineEnd(block, syntax) : -1;
      if (firstEnd >= 0) {
        scanner.push(block.subarray(0, firstEnd + 1), tally);
        from = firstEnd + 1;
        if (scanner.lineEnd === 'nl' || scanner.lineEnd === 'crnl') {
          counter = new LineFeedCounter(syntax);
          counter.push(block.subarray(from));
          continue;
        }
      }
    }
    scanner.push(block.subarray(from), tally);
  }
  if (counter) return count + counter.finish();
  scanner.finish(tally);
  return count;
}

/** Offset of the first unquoted (CSV) or unescaped (text) LF or CR: where the first record's line end begins; or -1. */
function firstLineEnd(block: Buffer, syntax: RecordSyntax): number {
  let inQuote = false;
  for (let i = 0; i < block.length; i++) {
    const c = block[i];
    if (syntax.format === 'csv') {
      if (c === syntax.quote) inQuote = !inQuote;
      else if (!inQuote && (c === LF || c === CR)) return c === CR && block[i + 1] === LF ? i + 1 : i;
    } else if (c === BACKSLASH) i++;
    else if (c === LF || c === CR) return c === CR && block[i + 1] === LF ? i + 1 : i;
  }
  return -1;
}

/** Counts records ending at LF (after the first record), across blocks, with indexOf jumps. */
class LineFeedCounter {
  private readonly csv: boolean;
  private readonly quote: number;
  private inQuote = false;
  /** Text format: the backslashes that ended the previous block (their parity escapes a leading LF). */
  private backslashes = 0;
  private records = 0;
  private pending = false;

  constructor(syntax: RecordSyntax) {
    this.csv = syntax.format === 'csv';
    this.quote = syntax.quote;
  }

  push(data: Buffer): void {
    let from = 0;
    // The next quote at or after `from` (data.length when there is none): searched again only once passed.
    let quote = this.csv ? data.indexOf(this.quote) : -1;
    if (quote < 0) quote = data.length;
    while (from < data.length) {
      this.pending = true;
      const lf = data.indexOf(LF, from);
      const to = lf < 0 ? data.length : lf;
      if (this.csv) {
        while (quote < to) {
          this.inQuote = !this.inQuote;
          quote = data.indexOf(this.quote, quote + 1);
          if (quote < 0) quote = data.length;
        }
      } else {
        let run = 0;
        while (to - run - 1 >= from && data[to - run - 1] === BACKSLASH) run++;
        this.backslashes = to - run === from ? this.backslashes + run : run;
      }
      if (lf < 0) return;
      const escaped = !this.csv && this.backslashes % 2 === 1;
      this.backslashes = 0;
      if (!this.inQuote && !escaped) {
        this.records++;
        this.pending = false;
      }
      from = lf + 1;
    }
  }

  finish(): number {
    return this.records + (this.pending ? 1 : 0);
  }
}
