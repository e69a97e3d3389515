/**
 * What each COPY format carries from byte to byte while the scanner looks for record ends.
 *
 * The rules mirror CopyReadLineText in PostgreSQL's src/backend/commands/copyfromparse.c:
 * - CSV: QUOTE toggles "in quotes" wherever it appears in a field; inside quotes, ESCAPE makes the
 *   following QUOTE or ESCAPE literal. When ESCAPE == QUOTE the server ignores ESCAPE ("we just use
 *   the char as a toggle"), so being in quotes is exactly the parity of the quote bytes seen so far.
 * - text: a backslash makes the next byte literal, so an LF ends a record unless an odd run of
 *   backslashes comes right before it.
 */
import { countLineFeeds, countLineFeedsAndQuotes, LANE_LOW_BITS, type LineFeedAndQuoteCounts } from './byte-lanes.ts';
import type { RecordSyntax } from './record-syntax.ts';

/** Defined here, not imported from byte-lanes.ts: EscapingCsv compares every byte with it, and V8 reads
 * an imported binding from its module cell on each use (the ESCAPE \ scan ran 4x slower, node 20). */
const LF = 0x0a;
const BACKSLASH = 0x5c;
/** Below this many bytes, one memchr to prove a span quote-free costs more than it saves. */
const MIN_QUOTE_PROBE_BYTES = 4096;
/** How far past a closing quote to look byte by byte before asking memchr for the next opening one. */
const QUOTE_LOOKAHEAD_BYTES = 64;

/** What one format carries across bytes; blocks arrive in order and each byte is consumed once. */
export interface FormatState {
  /** LF bytes consumed so far. */
  lineFeeds: number;
  /** Consumes data[from, to) without looking for record ends. */
  skip(data: Buffer, from: number, to: number): void;
  /** Consumes data from `from` through the first LF that ends a record and returns its index, or
   * consumes the rest of `data` and returns -1. */
  consumeRecordEnd(data: Buffer, from: number): number;
}

/** CSV with ESCAPE == QUOTE: in quotes iff an odd number of quote bytes came before. */
class QuoteParityCsv implements FormatState, LineFeedAndQuoteCounts {
  lineFeeds = 0;
  /** Public only so countLineFeedsAndQuotes can flip it; nothing outside this class reads it. */
  inQuotes = 0;
  private readonly quoteInEveryLane: number;

  constructor(private readonly quote: number) {
    this.quoteInEveryLane = quote * LANE_LOW_BITS;
  }

  skip(data: Buffer, from: number, to: number): void {
    // Plain CSV has no quotes at all; one memchr proves it and the cheaper LF-only count does the rest.
    if (to - from >= MIN_QUOTE_PROBE_BYTES && data.subarray(from, to).indexOf(this.quote) < 0) {
      this.lineFeeds += countLineFeeds(data, from, to);
    } else {
      countLineFeedsAndQuotes(this, data, from, to, this.quote, this.quoteInEveryLane);
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
      countLineFeedsAndQuotes(this, data, pos, lf < 0 ? data.length : lf, this.quote, this.quoteInEveryLane);
      if (lf < 0) return -1;
      this.lineFeeds++;
      if (this.inQuotes === 0) return lf;
      pos = lf + 1;
    }
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

export function stateFor(syntax: RecordSyntax): FormatState {
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
