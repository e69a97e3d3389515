/**
 * COPY's line rules byte by byte, as CopyReadLineText (src/backend/commands/copyfromparse.c) applies
 * them: the first line end fixes the stream's style (LF, CR LF or CR); an unquoted line end of another
 * style is an error; `\.` may end the data (see EndMarkerRule). The scanner runs these rules on the
 * first record and on the few bytes the fast counters cannot judge (format-states.ts); both share
 * one ScanState. Bytes arrive one at a time and may stop anywhere: a rule that must see the next
 * byte (CR then LF?, `\.` then the line end?) waits for it in `pending`.
 */
import { currentLine, fixLineEnding, type ScanState } from './format-states.ts';
import type { EndMarkerRule, RecordSyntax } from './record-syntax.ts';

const LF = 0x0a;
const CR = 0x0d;
const BACKSLASH = 0x5c;
const DOT = 0x2e;
/** Passed as the byte at the end of the input (the server's "c2 will become '\0'"). */
export const END_OF_INPUT = -1;

/** The ways a stream breaks COPY's line rules (all SQLSTATE 22P04, bad_copy_file_format). */
export type LineProblemKind = 'stray-cr' | 'stray-lf' | 'marker-corrupt' | 'marker-not-alone' | 'marker-newline-style';

export interface LineProblem {
  kind: LineProblemKind;
  /** 1-based physical line of the offending byte (of the marker's backslash). */
  line: number;
  /** Records ended before it: the problem is in record `records + 1` (header counted). */
  records: number;
}

/** A valid end-of-data marker: the data ends at `offset` (its backslash). */
export interface EndMarker {
  offset: number;
  line: number;
  /** Records in the data, the one cut short by the marker included (text format before PostgreSQL 18). */
  records: number;
  /** Offset just after the marker and its line end: what follows was not sent to the server. */
  end: number;
}

export interface LineRuleEvents {
  /** A record ended; the next starts at `offset`. */
  recordStart(offset: number): void;
  marker(marker: EndMarker): void;
  /** What one COPY would refuse. When it returns, reading goes on as if the server had set the record aside. */
  problem(problem: LineProblem): void;
}

/** What the rules wait for. */
const enum Pending {
  None,
  /** An unquoted CR while the style is unknown or CR LF: is the next byte LF? */
  Cr,
  /** Text: an unescaped backslash; the next byte is data, and may be the `.` of a marker. */
  TextBackslash,
  /** Text, CR LF style: an escaped CR; an LF next is then a line end of its own, and refused. */
  TextEscapedCr,
  /** Text: `\.`; then the line end? */
  TextDot,
  /** Text, CR LF style: `\.` CR; then LF? */
  TextDotCr,
  /** CSV: a backslash as a record's first byte; then `.`? */
  CsvBackslash,
  CsvDot,
  CsvDotCr,
}

export class CopyLineRules {
  private pending = Pending.None;
  /** Bytes looked at after a backslash but not consumed: read again when it is no marker after all. */
  private readonly peeked: number[] = [];
  /** The state at the backslash that may start a marker. */
  private markerStart = { offset: 0, line: 1, records: 0, atRecordStart: true };
  private readonly csv: boolean;
  /** -1 when ESCAPE == QUOTE: the server then ignores ESCAPE. */
  private readonly escape: number;

  constructor(
    private readonly syntax: RecordSyntax,
    private readonly endMarker: EndMarkerRule,
    private readonly state: ScanState,
    private readonly events: LineRuleEvents,
  ) {
    this.csv = syntax.format === 'csv';
    this.escape = syntax.escape === syntax.quote ? -1 : syntax.escape;
  }

  /** Nothing waits for the next byte: the fast counters may take over. */
  get quiet(): boolean {
    return this.pending === Pending.None;
  }

  /** Reads byte `byte` (or END_OF_INPUT) at offset `at`. */
  step(byte: number, at: number): void {
    switch (this.pending) {
      case Pending.None:
        break;
      case Pending.Cr:
        this.pending = Pending.None;
        if (byte === LF) {
          this.consume(byte);
          if (this.state.eol === undefined) fixLineEnding(this.state, 'crlf');
          this.endRecord(at + 1);
          return;
        }
        if (this.state.eol === 'crlf') {
          this.report('stray-cr', currentLine(this.state));
          this.state.atRecordStart = false;
        } else {
          fixLineEnding(this.state, 'cr');
          this.endRecord(at);
        }
        break;
      case Pending.TextBackslash:
      case Pending.TextEscapedCr:
        this.pending = Pending.None;
        break;
      case Pending.TextDot:
        if (this.state.eol === 'crlf' && byte === CR) {
          this.pending = Pending.TextDotCr;
          this.peeked.push(byte);
          return;
        }
        if (this.state.eol === 'crlf') return this.badTextMarker(byte === LF ? 'marker-newline-style' : this.corrupt(), byte, at);
        return this.endTextMarker(byte, at);
      case Pending.TextDotCr:
        return this.endTextMarker(byte, at);
      case Pending.CsvBackslash:
        this.pending = Pending.None;
        if (byte === DOT) {
          this.pending = Pending.CsvDot;
          this.peeked.push(byte);
          return;
        }
        break;
      case Pending.CsvDot:
        if (this.state.eol === 'crlf') {
          if (byte !== CR) return this.replay(byte, at);
          this.pending = Pending.CsvDotCr;
          this.peeked.push(byte);
          return;
        }
        return this.endCsvMarker(byte, at);
      case Pending.CsvDotCr:
        return this.endCsvMarker(byte, at);
    }
    if (byte !== END_OF_INPUT) this.read(byte, at);
  }

  /** A byte no pending rule has claimed. */
  private read(byte: number, at: number): void {
    const state = this.state;
    const line = currentLine(state);
    this.consume(byte);
    if (this.csv) {
      const { quote } = this.syntax;
      if (state.inQuotes === 1 && byte === this.escape) state.afterEscape = !state.afterEscape;
      if (byte === quote && !state.afterEscape) state.inQuotes ^= 1;
      if (byte !== this.escape) state.afterEscape = false;
      if (state.inQuotes === 0) {
        if (byte === CR) return this.lineEndByte(byte, at, line);
        if (byte === LF) return this.lineEndByte(byte, at, line);
        if (byte === BACKSLASH && state.atRecordStart && this.endMarker === 'csv-line') {
          this.startMarker(at, line);
          this.pending = Pending.CsvBackslash;
        }
      }
      state.atRecordStart = false;
      return;
    }
    if (state.escapesNext) {
      // The byte after an unescaped backslash is data, whatever it is; `\.` may be the marker.
      state.escapesNext = false;
      if (byte === DOT && this.endMarker !== 'none' && this.markerStart.offset === at - 1) {
        this.pending = Pending.TextDot;
      } else if (byte === CR && state.eol === 'crlf') {
        this.pending = Pending.TextEscapedCr;
      }
      return;
    }
    if (byte === CR || byte === LF) return this.lineEndByte(byte, at, line);
    if (byte === BACKSLASH) {
      this.startMarker(at, line);
      state.escapesNext = true;
      this.pending = Pending.TextBackslash;
    }
    state.atRecordStart = false;
  }

  /** An unquoted, unescaped CR or LF at `at`, on physical line `line`. */
  private lineEndByte(byte: number, at: number, line: number): void {
    const eol = this.state.eol;
    if (byte === CR) {
      if (eol === undefined || eol === 'crlf') {
        this.pending = Pending.Cr;
      } else if (eol === 'lf') {
        this.report('stray-cr', line);
        this.state.atRecordStart = false;
      } else {
        this.endRecord(at + 1);
      }
      return;
    }
    if (eol === 'cr' || eol === 'crlf') {
      this.report('stray-lf', line);
      // In a CR LF stream the LF still ends the record for the scan, as it does for rejects.ts.
      if (eol === 'crlf') this.endRecord(at + 1);
      else this.state.atRecordStart = false;
      return;
    }
    if (eol === undefined) fixLineEnding(this.state, 'lf');
    this.endRecord(at + 1);
  }

  private consume(byte: number): void {
    const state = this.state;
    if (state.eol !== undefined) {
      if (byte === state.lineEnd) state.lines++;
    } else if (byte === LF) {
      state.lfBeforeEol++;
    } else if (byte === CR) {
      state.crBeforeEol++;
    }
  }

  private endRecord(nextStart: number): void {
    this.state.records++;
    this.state.atRecordStart = true;
    this.events.recordStart(nextStart);
  }

  private startMarker(at: number, line: number): void {
    this.markerStart = { offset: at, line, records: this.state.records, atRecordStart: this.state.atRecordStart };
  }

  private corrupt(): LineProblemKind {
    return this.endMarker === 'text-alone' ? 'marker-not-alone' : 'marker-corrupt';
  }

  /** Text: `byte` follows `\.` (or `\.` CR in a CR LF stream); the checks in the server's order. */
  private endTextMarker(byte: number, at: number): void {
    const eol = this.state.eol;
    if (byte !== CR && byte !== LF) return this.badTextMarker(this.corrupt(), byte, at);
    if ((eol === 'lf' || eol === 'crlf') !== (byte === LF) && eol !== undefined) {
      return this.badTextMarker('marker-newline-style', byte, at);
    }
    if (this.endMarker === 'text-alone' && !this.markerStart.atRecordStart) return this.badTextMarker('marker-not-alone', byte, at);
    this.foundMarker(at + 1);
  }

  /** Reported; then the backslash escaped the dot, and what was looked at after it is read again. */
  private badTextMarker(kind: LineProblemKind, byte: number, at: number): void {
    this.report(kind, this.markerStart.line);
    this.replay(byte, at);
  }

  /** CSV: `byte` follows `\.` (or `\.` CR in a CR LF stream) at the start of a record. */
  private endCsvMarker(byte: number, at: number): void {
    const eol = this.state.eol;
    if (byte !== CR && byte !== LF) return this.replay(byte, at);
    const wanted = eol === 'cr' ? CR : LF;
    if (eol !== undefined && byte !== wanted) {
      this.report('marker-newline-style', this.markerStart.line);
      return this.replay(byte, at);
    }
    this.foundMarker(at + 1);
  }

  /**
   * Reads again what was looked at after the backslash, then `byte`: in CSV the server goes back to
   * the byte after the backslash (`\.` was data); in text the dot was data (read already).
   */
  private replay(byte: number, at: number): void {
    this.pending = Pending.None;
    const bytes = [...this.peeked, byte];
    this.peeked.length = 0;
    const first = at - bytes.length + 1;
    bytes.forEach((b, k) => this.step(b, first + k));
  }

  private foundMarker(end: number): void {
    this.pending = Pending.None;
    this.peeked.length = 0;
    const start = this.markerStart;
    this.events.marker({ offset: start.offset, line: start.line, records: start.records + (start.atRecordStart ? 0 : 1), end });
  }

  private report(kind: LineProblemKind, line: number): void {
    this.events.problem({ kind, line, records: this.state.records });
  }
}
