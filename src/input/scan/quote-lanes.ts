/**
 * Counting records in CSV with ESCAPE == QUOTE a word at a time: line ends, those outside quotes, and
 * line ends of another style outside quotes. Pure; see byte-lanes.ts for the lane tests.
 */
import { alignedWords, sumLanes, type Span } from './byte-lanes.ts';

/** The word-loop constants, defined here and not imported: V8 reads an imported binding from its
 * module cell on each use (the ESCAPE \ scan ran 4x slower, node 20). */
const WORDS_PER_STEP = 2;
const MIN_WORD_SCAN_BYTES = 64;
const MAX_STEPS_PER_SUM = 127;
const LOW_SEVEN_BITS = 0x7f7f7f7f;
const LANE_LOW_BITS = 0x01010101;
const CR = 0x0d;
const LF = 0x0a;
const CR_IN_EVERY_LANE = CR * LANE_LOW_BITS;
const LF_IN_EVERY_LANE = LF * LANE_LOW_BITS;

/** The bytes a CSV count looks for: the line end, the quote, and a byte that may not appear outside
 * quotes (NO_STRAY for none; 'crlf': CR and LF must pair). */
export interface QuoteBytes {
  lineEnd: number;
  quote: number;
  stray: number | 'crlf';
}

/** What a CSV scan with ESCAPE == QUOTE carries across spans. */
export interface LineEndAndQuoteCounts {
  /** Line-end bytes seen, quoted or not. */
  lines: number;
  /** Line-end bytes seen outside quotes: records ended. */
  records: number;
  /** 1 after an odd number of quote bytes, else 0. */
  inQuotes: number;
  /** CR LF check only: CRs and LFs outside quotes that are not a CR LF pair. */
  unpaired: number;
}

/** No byte is a stray: what countLineEndsAndQuotes is given when only quotes and line ends matter. */
export const NO_STRAY = -1;

/** The byte loop of the quote counters, for short spans and the ends of long ones. `stray`: a byte
 * that may not appear outside quotes (counted in `unpaired`); CRLF: CR and LF must pair. */
function countLineEndsAndQuotesSlowly(counts: LineEndAndQuoteCounts, { data, from, to }: Span, { lineEnd, quote, stray }: QuoteBytes): void {
  const crlf = stray === 'crlf';
  for (let i = from; i < to; i++) {
    const byte = data[i];
    if (byte === quote) {
      counts.inQuotes ^= 1;
    } else if (byte === lineEnd) {
      counts.lines++;
      if (counts.inQuotes === 0) {
        counts.records++;
        if (crlf && data[i - 1] !== CR) counts.unpaired++;
      }
    } else if (counts.inQuotes === 0 && (crlf ? byte === CR && data[i + 1] !== LF : byte === stray)) {
      // A CR at the end of the buffer has no LF yet: the caller must not end a span there.
      counts.unpaired++;
    }
  }
}

/**
 * Adds the `lineEnd` bytes in data[from, to) to `counts.lines`, those outside quotes to
 * `counts.records`, the `stray` bytes outside quotes (or NO_STRAY) to `counts.unpaired`, and flips
 * `counts.inQuotes` once per `quote` byte. Inside a word, whether a lane
 * is in quotes is the prefix XOR of its quote lanes (two shifts) and the parity carried from the words
 * before (one bit, the only dependency from word to word).
 */
export function countLineEndsAndQuotes(counts: LineEndAndQuoteCounts, span: Span, bytes: QuoteBytes & { stray: number }): void {
  const { data, from, to } = span;
  const { lineEnd, quote, stray } = bytes;
  if (to - from < MIN_WORD_SCAN_BYTES) {
    countLineEndsAndQuotesSlowly(counts, span, bytes);
    return;
  }
  const { words, start, end } = alignedWords(data, from, to);
  countLineEndsAndQuotesSlowly(counts, { data, from, to: start }, bytes);
  const lineEndInEveryLane = lineEnd * LANE_LOW_BITS;
  const quoteInEveryLane = quote * LANE_LOW_BITS;
  // With no stray byte the stray lanes are masked off (there is no byte value that matches nothing).
  const strayInEveryLane = (stray & 0xff) * LANE_LOW_BITS;
  const strayMask = stray === NO_STRAY ? 0 : LANE_LOW_BITS;
  let lines = 0;
  let quoted = 0;
  let strays = 0;
  let carry = counts.inQuotes;
  for (let w = 0; w < words.length; ) {
    const sumAt = Math.min(words.length, w + MAX_STEPS_PER_SUM * WORDS_PER_STEP);
    let lineLanes = 0;
    let quotedLanes = 0;
    let strayLanes = 0;
    for (; w < sumAt; w += WORDS_PER_STEP) {
      const a = words[w];
      const b = words[w + 1];
      const aEnd = a ^ lineEndInEveryLane;
      const aQuote = a ^ quoteInEveryLane;
      const bEnd = b ^ lineEndInEveryLane;
      const bQuote = b ^ quoteInEveryLane;
      const aEnds = (~(((aEnd & LOW_SEVEN_BITS) + LOW_SEVEN_BITS) | aEnd) >>> 7) & LANE_LOW_BITS;
      const aQuotes = (~(((aQuote & LOW_SEVEN_BITS) + LOW_SEVEN_BITS) | aQuote) >>> 7) & LANE_LOW_BITS;
      const bEnds = (~(((bEnd & LOW_SEVEN_BITS) + LOW_SEVEN_BITS) | bEnd) >>> 7) & LANE_LOW_BITS;
      const bQuotes = (~(((bQuote & LOW_SEVEN_BITS) + LOW_SEVEN_BITS) | bQuote) >>> 7) & LANE_LOW_BITS;
      let aParity = aQuotes ^ (aQuotes << 8);
      aParity ^= aParity << 16;
      let bParity = bQuotes ^ (bQuotes << 8);
      bParity ^= bParity << 16;
      const aCarry = -carry & LANE_LOW_BITS;
      carry ^= aParity >>> 24;
      const bCarry = -carry & LANE_LOW_BITS;
      carry ^= bParity >>> 24;
      const aStray = a ^ strayInEveryLane;
      const bStray = b ^ strayInEveryLane;
      const aStrays = (~(((aStray & LOW_SEVEN_BITS) + LOW_SEVEN_BITS) | aStray) >>> 7) & strayMask;
      const bStrays = (~(((bStray & LOW_SEVEN_BITS) + LOW_SEVEN_BITS) | bStray) >>> 7) & strayMask;
      lineLanes += aEnds + bEnds;
      quotedLanes += (aEnds & (aParity ^ aCarry)) + (bEnds & (bParity ^ bCarry));
      strayLanes += (aStrays & ~(aParity ^ aCarry)) + (bStrays & ~(bParity ^ bCarry));
    }
    lines += sumLanes(lineLanes);
    quoted += sumLanes(quotedLanes);
    strays += sumLanes(strayLanes);
  }
  counts.lines += lines;
  counts.records += lines - quoted;
  counts.unpaired += strays;
  counts.inQuotes = carry;
  countLineEndsAndQuotesSlowly(counts, { data, from: end, to }, bytes);
}

/**
 * countLineEndsAndQuotes for a CR LF stream (line end LF), which also counts in `counts.unpaired` the
 * CRs and LFs outside quotes that may not be a CR LF pair: a positive count sends the span to the byte
 * rules, which say exactly. An LF at `from`
 * looks at data[from - 1], a CR at to - 1 at data[to] (a CR that ends the buffer counts as unpaired).
 */
export function countCrLfLineEndsAndQuotes(counts: LineEndAndQuoteCounts, span: Span, quote: number): void {
  const { data, from, to } = span;
  const bytes: QuoteBytes = { lineEnd: LF, quote, stray: 'crlf' };
  if (to - from < MIN_WORD_SCAN_BYTES) {
    countLineEndsAndQuotesSlowly(counts, span, bytes);
    return;
  }
  const { words, start, end } = alignedWords(data, from, to);
  countLineEndsAndQuotesSlowly(counts, { data, from, to: start }, bytes);
  const quoteInEveryLane = quote * LANE_LOW_BITS;
  let lines = 0;
  let quoted = 0;
  /** Lanes out of pair and outside quotes, ORed: only whether there is one matters. */
  let unpaired = 0;
  let carry = counts.inQuotes;
  /** Lane 0 set when the byte before the word is a CR. */
  let crBefore = start > 0 && data[start - 1] === CR ? 1 : 0;
  for (let w = 0; w < words.length; ) {
    const sumAt = Math.min(words.length, w + MAX_STEPS_PER_SUM);
    let lineLanes = 0;
    let quotedLanes = 0;
    for (; w < sumAt; w++) {
      const word = words[w];
      const l = word ^ LF_IN_EVERY_LANE;
      const c = word ^ CR_IN_EVERY_LANE;
      const q = word ^ quoteInEveryLane;
      const lfs = (~(((l & LOW_SEVEN_BITS) + LOW_SEVEN_BITS) | l) >>> 7) & LANE_LOW_BITS;
      const crs = (~(((c & LOW_SEVEN_BITS) + LOW_SEVEN_BITS) | c) >>> 7) & LANE_LOW_BITS;
      const quotes = (~(((q & LOW_SEVEN_BITS) + LOW_SEVEN_BITS) | q) >>> 7) & LANE_LOW_BITS;
      let parity = quotes ^ (quotes << 8);
      parity ^= parity << 16;
      const inside = parity ^ (-carry & LANE_LOW_BITS);
      carry ^= parity >>> 24;
      lineLanes += lfs;
      quotedLanes += lfs & inside;
      // A lane whose byte is an LF with no CR before it, or the byte after a CR that is no LF; judged by
      // the quote state before the lane's byte (that of the CR, when the byte is a quote).
      unpaired |= (lfs ^ ((crs << 8) | crBefore)) & ~(inside ^ quotes);
      crBefore = crs >>> 24;
    }
    lines += sumLanes(lineLanes);
    quoted += sumLanes(quotedLanes);
  }
  // The last word's lane-3 CR is answered by the byte after it (none: the caller must not end a span there).
  if (crBefore === 1 && carry === 0 && data[end] !== LF) unpaired = 1;
  counts.lines += lines;
  counts.records += lines - quoted;
  counts.unpaired += unpaired === 0 ? 0 : 1;
  counts.inQuotes = carry;
  countLineEndsAndQuotesSlowly(counts, { data, from: end, to }, bytes);
}
