/**
 * What a scan carries from byte to byte, and the fast per-format counting of spans that hold nothing
 * unusual (no byte of another line-end style, no `\.`): the scanner in record-boundaries.ts hands the
 * unusual bytes to the byte-by-byte rules of copy-line-rules.ts instead.
 *
 * The rules mirror CopyReadLineText in PostgreSQL's src/backend/commands/copyfromparse.c:
 * - CSV: QUOTE toggles "in quotes" wherever it appears in a field; inside quotes, ESCAPE makes the
 *   following QUOTE or ESCAPE literal. When ESCAPE == QUOTE the server ignores ESCAPE ("we just use
 *   the char as a toggle"), so being in quotes is exactly the parity of the quote bytes seen so far.
 * - text: a backslash makes the next byte literal, so a line end ends a record unless an odd run of
 *   backslashes comes right before it.
 */
import { countBytes, findUnpairedCrLf } from './byte-lanes.ts';
import { countCrLfLineEndsAndQuotes, countLineEndsAndQuotes, type LineEndAndQuoteCounts } from './quote-lanes.ts';
import { countTextLineEnds, isEscaped } from './text-lanes.ts';
import type { EndMarkerRule, LineEnding, RecordSyntax } from './record-syntax.ts';

/** Defined here, not imported: V8 reads an imported binding from its module cell on each use (the
 * ESCAPE \ scan ran 4x slower, node 20). */
const LF = 0x0a;
const CR = 0x0d;
const BACKSLASH = 0x5c;
/** Below this many bytes, one memchr to prove a span quote-free costs more than it saves. */
const MIN_QUOTE_PROBE_BYTES = 4096;
/** How far past a closing quote to look byte by byte before asking memchr for the next opening one. */
const QUOTE_LOOKAHEAD_BYTES = 64;

/** Everything a scan knows at a byte offset; the fast counters and the byte rules share it. */
export interface ScanState {
  /** Fixed by the first line end that ends a record; until then, undefined. */
  eol: LineEnding | undefined;
  /** The byte that ends lines once `eol` is known: CR for 'cr', else LF. */
  lineEnd: number;
  /** Line-end bytes consumed (quoted and escaped ones included), once `eol` is known. */
  lines: number;
  /** LF and CR bytes consumed before `eol` was known, so `lines` can start right. */
  lfBeforeEol: number;
  crBeforeEol: number;
  /** Records ended so far. */
  records: number;
  /** The next byte is the first of a record. */
  atRecordStart: boolean;
  /** CSV: 1 inside quotes. */
  inQuotes: number;
  /** CSV with ESCAPE != QUOTE, inside quotes: an odd run of ESCAPE bytes ends here. */
  afterEscape: boolean;
  /** Text: an unescaped backslash ends here, so the next byte is literal. */
  escapesNext: boolean;
}

export function initialScanState(): ScanState {
  return {
    eol: undefined, lineEnd: LF, lines: 0, lfBeforeEol: 0, crBeforeEol: 0, records: 0,
    atRecordStart: true, inQuotes: 0, afterEscape: false, escapesNext: false,
  };
}

/** Fixes the line ending once the first record has ended; `lines` counts from the start of the input. */
export function fixLineEnding(state: ScanState, eol: LineEnding): void {
  state.eol = eol;
  state.lineEnd = eol === 'cr' ? CR : LF;
  state.lines = eol === 'cr' ? state.crBeforeEol : state.lfBeforeEol;
}

/** 1-based physical line of the next byte, as an editor counts lines of this line-end style. */
export function currentLine(state: ScanState): number {
  return 1 + (state.eol === undefined ? state.lfBeforeEol : state.lines);
}

/** The fast counting of one format, for a state whose line ending is known. */
export interface FastFormat {
  /** It finds line ends of another style itself (bulk returns false), so the scanner need not look for them. */
  findsStrays: boolean;
  /** Consumes data[from, to), which holds no byte the byte rules must see (if findsStrays, none but a
   * stray line end), and returns `to`; or returns p < to, having consumed data[from, p), when the byte
   * rules must read data[p]; or STEP_SPAN, having consumed nothing, when they must read the whole span. */
  bulk(state: ScanState, data: Buffer, from: number, to: number): number;
  /** The next byte is outside quotes and not escaped: a line end there ends a record. */
  literalNext(state: ScanState): boolean;
}

/** What bulk returns when the byte rules must read the whole span (a stray is somewhere in it). */
export const STEP_SPAN = -1;

/** The byte, besides the line end, that may not appear outside quotes; CR LF streams pair theirs. */
function strayOf(state: ScanState): number | 'crlf' {
  return state.eol === 'crlf' ? 'crlf' : state.eol === 'cr' ? LF : CR;
}

/** CSV with ESCAPE == QUOTE: in quotes iff an odd number of quote bytes came before. Stray line ends
 * are found by the same word loop that counts, rather than by stopping at every CR of a quoted CR LF. */
function quoteParityCsv(quote: number): FastFormat {
  const counts: LineEndAndQuoteCounts = { lines: 0, records: 0, inQuotes: 0, unpaired: 0 };
  return {
    findsStrays: true,
    bulk(state, data, from, to) {
      if (to <= from) return to;
      const stray = strayOf(state);
      // Plain CSV has no quotes at all; one memchr proves it and the cheaper count does the rest.
      if (to - from >= MIN_QUOTE_PROBE_BYTES && data.subarray(from, to).indexOf(quote) < 0) {
        // A CR that ends the span pairs with the LF after it; one that ends the buffer is unknown (stray).
        const pairedTo = Math.min(to + 1, data.length);
        const unpaired = stray === 'crlf' ? findUnpairedCrLf(data, from, pairedTo, data[from - 1] === CR) : data.subarray(from, to).indexOf(stray);
        // Inside quotes a stray is data; outside it is for the byte rules.
        if (state.inQuotes === 0 && unpaired >= 0 && unpaired < to) return STEP_SPAN;
        const ends = countBytes(data, from, to, state.lineEnd);
        state.lines += ends;
        if (state.inQuotes === 0) state.records += ends;
      } else {
        counts.lines = 0;
        counts.records = 0;
        counts.unpaired = 0;
        counts.inQuotes = state.inQuotes;
        if (stray === 'crlf') countCrLfLineEndsAndQuotes(counts, { data, from, to }, quote);
        else countLineEndsAndQuotes(counts, { data, from, to }, { lineEnd: state.lineEnd, quote, stray });
        if (counts.unpaired > 0) return STEP_SPAN;
        state.lines += counts.lines;
        state.records += counts.records;
        state.inQuotes = counts.inQuotes;
      }
      // The line end is not the quote, so the quote state after it is the one it was read in.
      state.atRecordStart = state.inQuotes === 0 && data[to - 1] === state.lineEnd;
      return to;
    },
    literalNext: (state) => state.inQuotes === 0,
  };
}

/** CSV with ESCAPE != QUOTE: the server's two flags, byte by byte, except that a long unquoted stretch
 * is handed to memchr (next quote) and the word-at-a-time line-end count. */
function escapingCsv(quote: number, escape: number): FastFormat {
  return {
    findsStrays: false,
    bulk(state, data, from, to) {
      if (to <= from) return to;
      const lineEnd = state.lineEnd;
      let { inQuotes, afterEscape, lines, records } = state;
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
              inQuotes = 0;
              i++;
              continue scan;
            } else {
              afterEscape = false;
              if (byte === lineEnd) lines++;
            }
          }
          break;
        }
        // Outside quotes ESCAPE is an ordinary byte. Look a little way by hand first: where quoted
        // fields are dense, a memchr call per field would cost more than it saves.
        for (const lookEnd = Math.min(to, i + QUOTE_LOOKAHEAD_BYTES); i < lookEnd; i++) {
          const byte = data[i];
          if (byte === quote) {
            inQuotes = 1;
            i++;
            continue scan;
          }
          if (byte === lineEnd) {
            lines++;
            records++;
          }
        }
        if (i < to) {
          // Bounded to `to`: an unbounded search would rescan the rest of the block for every span.
          const nextQuote = data.subarray(i, to).indexOf(quote);
          const end = nextQuote < 0 ? to : i + nextQuote;
          const ends = countBytes(data, i, end, lineEnd);
          lines += ends;
          records += ends;
          i = end;
        }
      }
      state.atRecordStart = inQuotes === 0 && data[to - 1] === lineEnd;
      Object.assign(state, { inQuotes, afterEscape, lines, records });
      return to;
    },
    literalNext: (state) => state.inQuotes === 0,
  };
}

/** COPY text format: backslash escapes the next byte, whatever it is. With `markers`, an unescaped
 * `\.` is for the byte rules, and so is a backslash that ends the span (its dot may start the next). */
function textFormat(markers: boolean): FastFormat {
  const counts = { lines: 0, escaped: 0 };
  return {
    findsStrays: false,
    bulk(state, data, from, to) {
      if (to <= from) return to;
      counts.lines = 0;
      counts.escaped = 0;
      const rule = { lineEnd: state.lineEnd, escapedAtFrom: state.escapesNext, markers };
      let stop = countTextLineEnds(counts, { data, from, to }, rule);
      if (stop < 0 && markers && data[to - 1] === BACKSLASH && !isEscaped(data, from, to - 1, state.escapesNext)) stop = to - 1;
      if (stop >= 0) {
        if (stop === from) return from;
        counts.lines = 0;
        counts.escaped = 0;
        countTextLineEnds(counts, { data, from, to: stop }, { ...rule, markers: false });
      }
      const end = stop >= 0 ? stop : to;
      state.lines += counts.lines;
      state.records += counts.lines - counts.escaped;
      state.atRecordStart = data[end - 1] === state.lineEnd && !isEscaped(data, from, end - 1, state.escapesNext);
      state.escapesNext = isEscaped(data, from, end, state.escapesNext);
      return end;
    },
    literalNext: (state) => !state.escapesNext,
  };
}

export function fastFormatFor(syntax: RecordSyntax, endMarker: EndMarkerRule): FastFormat {
  if (syntax.format === 'text') return textFormat(endMarker !== 'none');
  if (syntax.format !== 'csv') {
    throw new RangeError(`Expected syntax.format to be 'csv' or 'text', got ${JSON.stringify(syntax.format)}`);
  }
  for (const key of ['quote', 'escape'] as const) {
    const byte = syntax[key];
    if (!Number.isInteger(byte) || byte < 0 || byte > 0xff || byte === LF || byte === CR) {
      throw new RangeError(`Expected syntax.${key} to be a byte (0-255) other than LF and CR, got ${byte}`);
    }
  }
  return syntax.quote === syntax.escape ? quoteParityCsv(syntax.quote) : escapingCsv(syntax.quote, syntax.escape);
}
