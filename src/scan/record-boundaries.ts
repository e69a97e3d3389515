/**
 * Finds record starts in COPY input (CSV or text format) so a file can be cut into chunks that each
 * load with their own `COPY ... FROM STDIN`. Pure: bytes in, offsets out.
 *
 * The rules mirror CopyReadLineText in PostgreSQL's src/backend/commands/copyfromparse.c:
 * - CSV: QUOTE toggles "in quotes" wherever it appears in a field; inside quotes, ESCAPE makes the
 *   following QUOTE or ESCAPE literal. When ESCAPE == QUOTE the server ignores ESCAPE ("we just use
 *   the char as a toggle"), so being in quotes is exactly the parity of the quote bytes seen so far.
 * - text: a backslash makes the next byte literal, so an LF ends a record unless an odd run of
 *   backslashes comes right before it.
 * Records end only at LF; the scanner assumes an encoding where byte 0x0A, the quote and the escape
 * never occur inside a multibyte character (true of UTF-8 and the single-byte encodings).
 */
import type { RecordSyntax } from './record-syntax.ts';

export interface RecordStart {
  offset: number;
  /** 1-based physical line at `offset`: 1 + the LF bytes before it, quoted ones included. */
  line: number;
}

const LF = 0x0a;
const BACKSLASH = 0x5c;

/** Counting runs over the buffer as 32-bit words of four byte lanes, two words per step: unrolled and
 * with the bit tricks written out inline it ran 1.5x faster than with helper functions (node 20). */
const WORD_BYTES = 4;
const WORDS_PER_STEP = 2;
/** Below this many bytes a byte loop is cheaper than building an Int32Array view. */
const MIN_WORD_SCAN_BYTES = 64;
/** LF counts build up in byte lanes, so they are summed before 255 increments can overflow one. */
const MAX_STEPS_PER_SUM = 127;
/** Below this many bytes, one memchr to prove a span quote-free costs more than it saves. */
const MIN_QUOTE_PROBE_BYTES = 4096;
/** How far past a closing quote to look byte by byte before asking memchr for the next opening one. */
const QUOTE_LOOKAHEAD_BYTES = 64;
const LOW_SEVEN_BITS = 0x7f7f7f7f;
const LANE_LOW_BITS = 0x01010101;
const LF_IN_EVERY_LANE = LF * LANE_LOW_BITS;

/*
 * The word loops test each lane of `x = word ^ (byte in every lane)` for zero with
 * `((x & 0x7f7f7f7f) + 0x7f7f7f7f) | x`, whose bit 7 in a lane is set iff that lane of x is non-zero.
 * It is exact (0x7f + 0x7f never carries into the next lane), unlike the cheaper "has a zero byte" test,
 * and counts must be exact: one miscounted quote flips every boundary after it.
 */

/** What one format carries across bytes; blocks arrive in order and each byte is consumed once. */
interface FormatState {
  /** LF bytes consumed so far. */
  lineFeeds: number;
  /** Consumes data[from, to) without looking for record ends. */
  skip(data: Buffer, from: number, to: number): void;
  /** Consumes data from `from` through the first LF that ends a record and returns its index, or
   * consumes the rest of `data` and returns -1. */
  consumeRecordEnd(data: Buffer, from: number): number;
}

function sumLanes(lanes: number): number {
  const pairs = (lanes & 0x00ff00ff) + ((lanes >>> 8) & 0x00ff00ff);
  return (pairs & 0xffff) + (pairs >>> 16);
}

function countByte(data: Buffer, from: number, to: number, byte: number): number {
  let count = 0;
  for (let i = from; i < to; i++) if (data[i] === byte) count++;
  return count;
}

/** The aligned words inside data[from, to), a whole number of steps (Int32Array needs an aligned offset). */
function alignedWords(data: Buffer, from: number, to: number): { words: Int32Array; start: number; end: number } {
  const start = from + ((WORD_BYTES - ((data.byteOffset + from) % WORD_BYTES)) % WORD_BYTES);
  const stepBytes = WORD_BYTES * WORDS_PER_STEP;
  const bytes = Math.max(0, Math.floor((to - start) / stepBytes) * stepBytes);
  return { words: new Int32Array(data.buffer, data.byteOffset + start, bytes / WORD_BYTES), start, end: start + bytes };
}

function countLineFeeds(data: Buffer, from: number, to: number): number {
  if (to - from < MIN_WORD_SCAN_BYTES) return countByte(data, from, to, LF);
  const { words, start, end } = alignedWords(data, from, to);
  let total = countByte(data, from, start, LF) + countByte(data, end, to, LF);
  for (let w = 0; w < words.length; ) {
    const sumAt = Math.min(words.length, w + MAX_STEPS_PER_SUM * WORDS_PER_STEP);
    let lanes = 0;
    for (; w < sumAt; w += WORDS_PER_STEP) {
      const a = words[w] ^ LF_IN_EVERY_LANE;
      const b = words[w + 1] ^ LF_IN_EVERY_LANE;
      lanes += ((~(((a & LOW_SEVEN_BITS) + LOW_SEVEN_BITS) | a) >>> 7) & LANE_LOW_BITS) +
        ((~(((b & LOW_SEVEN_BITS) + LOW_SEVEN_BITS) | b) >>> 7) & LANE_LOW_BITS);
    }
    total += sumLanes(lanes);
  }
  return total;
}

/** CSV with ESCAPE == QUOTE: in quotes iff an odd number of quote bytes came before. */
class QuoteParityCsv implements FormatState {
  lineFeeds = 0;
  private inQuotes = 0;
  private readonly quoteInEveryLane: number;

  constructor(private readonly quote: number) {
    this.quoteInEveryLane = quote * LANE_LOW_BITS;
  }

  skip(data: Buffer, from: number, to: number): void {
    // Plain CSV has no quotes at all; one memchr proves it and the cheaper LF-only count does the rest.
    if (to - from >= MIN_QUOTE_PROBE_BYTES && data.subarray(from, to).indexOf(this.quote) < 0) {
      this.lineFeeds += countLineFeeds(data, from, to);
    } else {
      this.countLineFeedsAndQuotes(data, from, to);
    }
  }

  consumeRecordEnd(data: Buffer, from: number): number {
    for (let pos = from; ; ) {
      if (this.inQuotes) {
        // No LF inside quotes ends a record, however many there are: jump to the closing quote.
        const quote = data.indexOf(this.quote, pos);
        this.lineFeeds += countLineFeeds(data, pos, quote < 0 ? data.length : quote);
        if (quote < 0) return -1;
        this.inQuotes = 0;
        pos = quote + 1;
      }
      const lf = data.indexOf(LF, pos);
      this.countLineFeedsAndQuotes(data, pos, lf < 0 ? data.length : lf);
      if (lf < 0) return -1;
      this.lineFeeds++;
      if (this.inQuotes === 0) return lf;
      pos = lf + 1;
    }
  }

  private countLineFeedsAndQuotes(data: Buffer, from: number, to: number): void {
    if (to - from < MIN_WORD_SCAN_BYTES) {
      this.lineFeeds += countByte(data, from, to, LF);
      this.inQuotes ^= countByte(data, from, to, this.quote) & 1;
      return;
    }
    const { words, start, end } = alignedWords(data, from, to);
    this.countLineFeedsAndQuotes(data, from, start);
    this.countLineFeedsAndQuotes(data, end, to);
    const quotes = this.quoteInEveryLane;
    let lineFeeds = 0;
    // Lane-wise XOR of the non-quote flags: only the parity of the quote count matters, and it equals
    // the parity of the non-quote count because the words hold an even number of bytes.
    let nonQuoteParity = 0;
    for (let w = 0; w < words.length; ) {
      const sumAt = Math.min(words.length, w + MAX_STEPS_PER_SUM * WORDS_PER_STEP);
      let lanes = 0;
      for (; w < sumAt; w += WORDS_PER_STEP) {
        const a = words[w];
        const b = words[w + 1];
        const aLf = a ^ LF_IN_EVERY_LANE;
        const bLf = b ^ LF_IN_EVERY_LANE;
        lanes += ((~(((aLf & LOW_SEVEN_BITS) + LOW_SEVEN_BITS) | aLf) >>> 7) & LANE_LOW_BITS) +
          ((~(((bLf & LOW_SEVEN_BITS) + LOW_SEVEN_BITS) | bLf) >>> 7) & LANE_LOW_BITS);
        const aQuote = a ^ quotes;
        const bQuote = b ^ quotes;
        nonQuoteParity ^= (((aQuote & LOW_SEVEN_BITS) + LOW_SEVEN_BITS) | aQuote) ^
          (((bQuote & LOW_SEVEN_BITS) + LOW_SEVEN_BITS) | bQuote);
      }
      lineFeeds += sumLanes(lanes);
    }
    this.lineFeeds += lineFeeds;
    this.inQuotes ^= sumLanes((nonQuoteParity >>> 7) & LANE_LOW_BITS) & 1;
  }
}

/** CSV with ESCAPE != QUOTE: the server's two flags, byte by byte, except that a long unquoted stretch
 * is handed to memchr (next quote) and the word-at-a-time LF count. */
class EscapingCsv implements FormatState {
  lineFeeds = 0;
  private inQuotes = false;
  /** Inside quotes, an odd run of ESCAPE bytes ends here, so a QUOTE next is data; may span blocks. */
  private afterEscape = false;

  constructor(
    private readonly quote: number,
    private readonly escape: number,
  ) {}

  skip(data: Buffer, from: number, to: number): void {
    this.consume(data, from, to, false);
  }

  consumeRecordEnd(data: Buffer, from: number): number {
    return this.consume(data, from, data.length, true);
  }

  private consume(data: Buffer, from: number, to: number, stopAtRecordEnd: boolean): number {
    const { quote, escape } = this;
    let { inQuotes, afterEscape, lineFeeds } = this;
    let recordEnd = -1;
    let i = from;
    scan: while (i < to) {
      if (inQuotes) {
        // CopyReadLineText's rules, with ESCAPE != QUOTE: ESCAPE toggles the flag, QUOTE with the flag
        // clear closes the quotes, and any byte but ESCAPE clears the flag.
        for (; i < to; i++) {
          const byte = data[i];
          if (byte === escape) {
            afterEscape = !afterEscape;
          } else if (byte === quote && !afterEscape) {
            inQuotes = false;
            i++;
            continue scan;
          } else {
            afterEscape = false;
            if (byte === LF) lineFeeds++;
          }
        }
        break;
      }
      // Outside quotes ESCAPE is an ordinary byte. Look a little way by hand first: where quoted
      // fields are dense, a memchr call per field would cost more than it saves.
      for (const lookEnd = Math.min(to, i + QUOTE_LOOKAHEAD_BYTES); i < lookEnd; i++) {
        const byte = data[i];
        if (byte === quote) {
          inQuotes = true;
          i++;
          continue scan;
        }
        if (byte === LF) {
          lineFeeds++;
          if (stopAtRecordEnd) {
            recordEnd = i;
            break scan;
          }
        }
      }
      if (!stopAtRecordEnd && i < to) {
        // Bounded to `to`: an unbounded search would rescan the rest of the block for every target.
        const nextQuote = data.subarray(i, to).indexOf(quote);
        const end = nextQuote < 0 ? to : i + nextQuote;
        lineFeeds += countLineFeeds(data, i, end);
        i = end;
      }
    }
    this.inQuotes = inQuotes;
    this.afterEscape = afterEscape;
    this.lineFeeds = lineFeeds;
    return recordEnd;
  }
}

/** COPY text format: backslash escapes the next byte, whatever it is. */
class TextFormat implements FormatState {
  lineFeeds = 0;
  /** The bytes consumed so far end in an odd run of backslashes; the run may span blocks. */
  private escapesNext = false;

  skip(data: Buffer, from: number, to: number): void {
    this.lineFeeds += countLineFeeds(data, from, to);
    this.escapesNext = this.endsInOddBackslashRun(data, from, to);
  }

  consumeRecordEnd(data: Buffer, from: number): number {
    for (let pos = from; ; ) {
      const lf = data.indexOf(LF, pos);
      if (lf < 0) {
        this.escapesNext = this.endsInOddBackslashRun(data, pos, data.length);
        return -1;
      }
      const escaped = this.endsInOddBackslashRun(data, pos, lf);
      this.lineFeeds++;
      this.escapesNext = false;
      if (!escaped) return lf;
      pos = lf + 1;
    }
  }

  /** Whether everything consumed up to `to` ends in an odd backslash run, given data[from, to) is new. */
  private endsInOddBackslashRun(data: Buffer, from: number, to: number): boolean {
    let runStart = to;
    while (runStart > from && data[runStart - 1] === BACKSLASH) runStart--;
    const odd = (to - runStart) % 2 === 1;
    return runStart === from ? odd !== this.escapesNext : odd;
  }
}

function stateFor(syntax: RecordSyntax): FormatState {
  if (syntax.format === 'text') return new TextFormat();
  if (syntax.format !== 'csv') {
    throw new RangeError(`Expected syntax.format to be 'csv' or 'text', got ${JSON.stringify(syntax.format)}`);
  }
  for (const key of ['quote', 'escape'] as const) {
    const byte = syntax[key];
    if (!Number.isInteger(byte) || byte < 0 || byte > 0xff || byte === LF) {
      throw new RangeError(`Expected syntax.${key} to be a byte (0-255) other than LF, got ${byte}`);
    }
  }
  return syntax.quote === syntax.escape ? new QuoteParityCsv(syntax.quote) : new EscapingCsv(syntax.quote, syntax.escape);
}

/** Feed the file in blocks, in order; targets must be ascending. For each target t, returns the smallest
 * record start s >= t, where a record start is 0 or the offset just after an LF that ends a record. If
 * there is none before end of input, the result is { offset: totalSize, line: 1 + total LF count }. */
export class RecordBoundaryScanner {
  private readonly state: FormatState;
  private readonly targets: readonly number[];
  private readonly starts: RecordStart[] = [];
  private consumed = 0;
  private finished = false;

  constructor(syntax: RecordSyntax, targets: readonly number[]) {
    targets.forEach((target, i) => {
      if (!Number.isSafeInteger(target) || target < 0 || (i > 0 && target < targets[i - 1])) {
        throw new RangeError(`Expected targets to be ascending non-negative integers, got ${target} at index ${i}`);
      }
    });
    this.state = stateFor(syntax);
    this.targets = [...targets];
    this.resolveTargetsUpTo(0, { offset: 0, line: 1 });
  }

  /** Every target has its record start; later blocks can change nothing and need not be read. */
  get allTargetsFound(): boolean {
    return this.starts.length === this.targets.length;
  }

  /** Blocks are consecutive and may be any size, even 1 byte; the scanner keeps no reference to them. */
  push(block: Buffer): void {
    if (this.finished) throw new Error('RecordBoundaryScanner.push() called after finish()');
    let i = 0;
    while (i < block.length && !this.allTargetsFound) {
      // An LF at t - 1 makes t itself a record start, so the search for target t begins at byte t - 1.
      const searchFrom = this.targets[this.starts.length] - 1 - this.consumed;
      if (i < searchFrom) {
        const to = Math.min(searchFrom, block.length);
        this.state.skip(block, i, to);
        i = to;
        continue;
      }
      const recordEnd = this.state.consumeRecordEnd(block, i);
      if (recordEnd < 0) break;
      i = recordEnd + 1;
      const start = { offset: this.consumed + i, line: 1 + this.state.lineFeeds };
      this.resolveTargetsUpTo(start.offset, start);
    }
    this.consumed += block.length;
  }

  /** One RecordStart per target, in order; targets past the last record start get the end of input. */
  finish(): RecordStart[] {
    this.finished = true;
    this.resolveTargetsUpTo(Infinity, { offset: this.consumed, line: 1 + this.state.lineFeeds });
    return this.starts.map((start) => ({ ...start }));
  }

  /** `start` is the first record start at or after every still-unresolved target up to `limit`. */
  private resolveTargetsUpTo(limit: number, start: RecordStart): void {
    while (!this.allTargetsFound && this.targets[this.starts.length] <= limit) this.starts.push(start);
  }
}

export function findRecordStarts(data: Buffer, syntax: RecordSyntax, targets: readonly number[]): RecordStart[] {
  const scanner = new RecordBoundaryScanner(syntax, targets);
  scanner.push(data);
  return scanner.finish();
}
