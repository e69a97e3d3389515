/**
 * Finds record starts in COPY input (CSV or text format) so a file can be cut into chunks that each
 * load with their own `COPY ... FROM STDIN`, and counts the records before each: one sequential scan,
 * pure (bytes in, offsets and counts out).
 *
 * It reads the input as one COPY would (copy-line-rules.ts): the first line end fixes the style, so a
 * CR-only file has CR records; a line end of another style fails the scan with COPY's error, since each
 * chunk's COPY would learn its style afresh and let it pass; an end-of-data marker ends the data, so no
 * chunk runs past it. Between the bytes that need those rules, spans are counted a word at a time
 * (format-states.ts). The scanner assumes an encoding where CR, LF, backslash, the quote and the escape
 * never occur inside a multibyte character (true of UTF-8 and the single-byte encodings).
 */
import { findUnpairedCrLf } from './byte-lanes.ts';
import { copyFormatError } from './copy-format-error.ts';
import { CopyLineRules, END_OF_INPUT, type EndMarker, type LineProblem } from './copy-line-rules.ts';
import { currentLine, fastFormatFor, initialScanState, STEP_SPAN, type FastFormat, type ScanState } from './format-states.ts';
import { LENIENT_SCAN, type LineEnding, type RecordSyntax, type ScanRules } from './record-syntax.ts';

const LF = 0x0a;
const CR = 0x0d;
const BACKSLASH = 0x5c;
const BACKSLASH_DOT = Buffer.from('\\.');
const BACKSLASH_CR = Buffer.from('\\\r');

export interface RecordStart {
  offset: number;
  /** 1-based physical line at `offset`: 1 + the line ends of the input's style before it, quoted ones included. */
  line: number;
  /** Records before `offset` (a header counts): the 0-based number of the record that starts there. */
  records: number;
}

/** Where the data ends: the end of input, or an end-of-data marker. */
export interface DataEnd extends RecordStart {
  /** `records` counts a last record without a line end, or cut short by the marker. */
  marker?: { line: number; end: number };
}

export interface RecordScan {
  /** One per target: the first record start at or after it, or the data end. */
  starts: RecordStart[];
  end: DataEnd;
  /** The style the first line end fixed (undefined: the data has no line end that ends a record). */
  lineEnding: LineEnding | undefined;
}

/** Feed the input in blocks, in order; targets must be ascending. For each target t, finds the smallest
 * record start s >= t, where a record start is 0 or the offset just after a line end that ends a record.
 * If there is none before the data ends, the result is the data end. */
export class RecordBoundaryScanner {
  private readonly state: ScanState = initialScanState();
  private readonly fast: FastFormat;
  private readonly rules: CopyLineRules;
  private readonly targets: readonly number[];
  private readonly starts: RecordStart[] = [];
  private target: number;
  private consumed = 0;
  private finished = false;
  /** The last byte of the block before: a CR there pairs with an LF that starts this one. */
  private lastByte = -1;
  private marker: EndMarker | undefined;
  /** Next offsets in the current block where the line rules must look (block length when none). */
  private strayAt = -1;
  private markerAt = -1;

  /** Stream mode: the next target after one is answered (there is no list to run out of). */
  private readonly nextTarget: ((start: RecordStart) => number) | undefined;
  /** How many starts takeStarts() has handed out. */
  private taken = 0;

  /** `targets`: ascending offsets; or, for a stream, the first target and how to find the next. */
  constructor(
    private readonly syntax: RecordSyntax,
    targets: readonly number[] | { first: number; next: (start: RecordStart) => number },
    private readonly scanRules: ScanRules = LENIENT_SCAN,
  ) {
    const list = Array.isArray(targets) ? (targets as readonly number[]) : [(targets as { first: number }).first];
    list.forEach((target, i) => {
      if (!Number.isSafeInteger(target) || target < 0 || (i > 0 && target < list[i - 1])) {
        throw new RangeError(`Expected targets to be ascending non-negative integers, got ${target} at index ${i}`);
      }
    });
    this.nextTarget = Array.isArray(targets) ? undefined : (targets as { next: (start: RecordStart) => number }).next;
    this.fast = fastFormatFor(syntax, scanRules.endMarker);
    this.targets = [...list];
    this.target = this.targets.length > 0 ? this.targets[0] : Infinity;
    this.rules = new CopyLineRules(syntax, scanRules.endMarker, this.state, {
      recordStart: (offset) => this.resolveTargetsUpTo(offset, this.startAt(offset)),
      marker: (marker) => {
        this.marker = marker;
      },
      problem: (problem) => this.problem(problem),
    });
    this.resolveTargetsUpTo(0, { offset: 0, line: 1, records: 0 });
  }

  /** An end-of-data marker was read: later blocks change nothing and need not be read. */
  get done(): boolean {
    return this.marker !== undefined;
  }

  /** Blocks are consecutive and may be any size, even 1 byte; the scanner keeps no reference to them. */
  push(block: Buffer): void {
    if (this.finished) throw new Error('RecordBoundaryScanner.push() called after finish()');
    const n = block.length;
    this.strayAt = -1;
    this.markerAt = -1;
    let i = 0;
    while (i < n && !this.marker) {
      if (!this.rules.quiet || this.state.eol === undefined) {
        this.rules.step(block[i], this.consumed + i);
        i++;
        continue;
      }
      const ruled = this.nextRuledByte(block, i);
      // An LF at t - 1 makes t itself a record start, so the search for target t begins at byte t - 1.
      const searchFrom = this.target - 1 - this.consumed;
      const target = this.target;
      const limit = i >= searchFrom ? ruled : Math.min(ruled, searchFrom);
      const to = i >= searchFrom ? this.consumeToRecordEnd(block, i, ruled) : this.consume(block, i, limit);
      // Short of the limit with the target still open: the byte there is for the byte rules.
      const forRules = to < limit && this.target === target;
      i = to;
      if (this.marker) break;
      if (!forRules && i < ruled) continue;
      if (i < n) {
        this.rules.step(block[i], this.consumed + i);
        i++;
      }
    }
    if (n > 0) this.lastByte = block[n - 1];
    this.consumed += n;
  }

  /** The record starts answered since the last call (stream mode cuts its batches there). */
  takeStarts(): RecordStart[] {
    const fresh = this.starts.slice(this.taken);
    this.taken = this.starts.length;
    return fresh;
  }

  /** One RecordStart per target, in order; targets past the last record start get the data end. */
  finish(): RecordScan {
    if (!this.finished && !this.marker) this.rules.step(END_OF_INPUT, this.consumed);
    this.finished = true;
    const state = this.state;
    const marker = this.marker;
    const end: DataEnd = marker
      ? { offset: marker.offset, line: marker.line, records: marker.records, marker: { line: marker.line, end: marker.end } }
      : { offset: this.consumed, line: currentLine(state), records: state.records + (state.atRecordStart ? 0 : 1) };
    this.resolveTargetsUpTo(Infinity, { offset: end.offset, line: end.line, records: end.records });
    return { starts: this.starts.map((start) => ({ ...start })), end, lineEnding: state.eol };
  }

  /**
   * The next byte at or after `from` the line rules must read: in an LF stream a CR, in a CR stream
   * an LF, in a CR LF stream a CR or LF out of pair (and, in text, an escaped CR: its LF is then
   * alone), unless the fast count finds those itself; and in CSV a `\.` when markers count. A
   * backslash that ends the block is one too where the byte after it matters and is not known yet.
   */
  private nextRuledByte(block: Buffer, from: number): number {
    const n = block.length;
    if (this.strayAt < from) this.strayAt = this.nextStray(block, from);
    if (this.markerAt < from) {
      // Text spans stop at `\.` by themselves (format-states.ts); CSV looks for it here.
      const csvMarkers = this.scanRules.endMarker === 'csv-line';
      const found = csvMarkers ? block.indexOf(BACKSLASH_DOT, from) : -1;
      const escapesAcross = csvMarkers || (this.syntax.format === 'text' && this.state.eol === 'crlf');
      const trailing = escapesAcross && n - 1 >= from && block[n - 1] === BACKSLASH ? n - 1 : n;
      this.markerAt = found < 0 ? trailing : found;
    }
    return Math.min(this.strayAt, this.markerAt);
  }

  private nextStray(block: Buffer, from: number): number {
    const n = block.length;
    const eol = this.state.eol;
    if (this.fast.findsStrays) {
      // The fast count finds strays itself, but a CR that ends the block must wait for its LF.
      return eol === 'crlf' && n - 1 >= from && block[n - 1] === CR ? n - 1 : n;
    }
    let found: number;
    if (eol === 'lf') found = block.indexOf(CR, from);
    else if (eol === 'cr') found = block.indexOf(LF, from);
    else {
      found = findUnpairedCrLf(block, from, n, from > 0 ? block[from - 1] === CR : this.lastByte === CR);
      if (this.syntax.format === 'text') {
        const escapedCr = block.indexOf(BACKSLASH_CR, from);
        if (escapedCr >= 0 && (found < 0 || escapedCr < found)) found = escapedCr;
      }
    }
    return found < 0 ? n : found;
  }

  /** Consumes block[from, to) by the fast count, or by the byte rules where it finds a stray; returns
   * where it stopped: `to`, or earlier at a byte the byte rules must read next. */
  private consume(block: Buffer, from: number, to: number): number {
    const stop = this.fast.bulk(this.state, block, from, to);
    if (stop !== STEP_SPAN) return stop;
    for (let i = from; i < to && !this.marker; i++) this.rules.step(block[i], this.consumed + i);
    return to;
  }

  /** Consumes block[from, ...) up to the first record start (resolving the targets it answers), or
   * all of block[from, to); returns where it stopped. */
  private consumeToRecordEnd(block: Buffer, from: number, to: number): number {
    const target = this.target;
    let i = from;
    while (i < to && this.target === target && !this.marker) {
      const at = block.indexOf(this.state.lineEnd, i);
      const stop = at < 0 || at >= to ? to : at + 1;
      const recordsBefore = this.state.records;
      const stopped = this.consume(block, i, stop);
      if (stopped < stop) return stopped;
      // The byte rules resolve the targets of the records they end; the fast count leaves that here.
      if (this.rules.quiet && this.state.records > recordsBefore && this.state.atRecordStart && this.target === target) {
        this.resolveTargetsUpTo(this.consumed + stop, this.startAt(this.consumed + stop));
      }
      i = stop;
    }
    return i;
  }

  private startAt(offset: number): RecordStart {
    return { offset, line: currentLine(this.state), records: this.state.records };
  }

  /** `start` is the first record start at or after every still-unresolved target up to `limit`. */
  private resolveTargetsUpTo(limit: number, start: RecordStart): void {
    // Targets are finite: Infinity means none is left.
    while (this.target !== Infinity && this.target <= limit) {
      this.starts.push(start);
      if (this.nextTarget) {
        // A stream's targets never run out; at the data end (limit Infinity) the last one is answered.
        this.target = limit === Infinity ? Infinity : Math.max(this.nextTarget(start), start.offset + 1);
      } else {
        this.target = this.starts.length < this.targets.length ? this.targets[this.starts.length] : Infinity;
      }
    }
  }

  private problem(problem: LineProblem): void {
    if (this.scanRules.strict) throw copyFormatError(problem, this.syntax.format, this.scanRules, this.state.eol);
  }
}

export function scanRecords(data: Buffer, syntax: RecordSyntax, targets: readonly number[], rules: ScanRules = LENIENT_SCAN): RecordScan {
  const scanner = new RecordBoundaryScanner(syntax, targets, rules);
  scanner.push(data);
  return scanner.finish();
}

export function findRecordStarts(data: Buffer, syntax: RecordSyntax, targets: readonly number[], rules: ScanRules = LENIENT_SCAN): RecordStart[] {
  return scanRecords(data, syntax, targets, rules).starts;
}
