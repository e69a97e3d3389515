/**
 * Counting line-end and quote bytes four at a time: the buffer is read as 32-bit words of four byte
 * lanes. Pure; the format states in format-states.ts decide which spans to count.
 */

/** Counting runs over the buffer as 32-bit words of four byte lanes, two words per step: unrolled and
 * with the bit tricks written out inline it ran 1.5x faster than with helper functions (node 20). */
const WORD_BYTES = 4;
const WORDS_PER_STEP = 2;
/** Below this many bytes a byte loop is cheaper than building an Int32Array view. */
const MIN_WORD_SCAN_BYTES = 64;
/** Counts build up in byte lanes, so they are summed before 255 increments can overflow one. */
const MAX_STEPS_PER_SUM = 127;
const LOW_SEVEN_BITS = 0x7f7f7f7f;
export const LANE_LOW_BITS = 0x01010101;
const CR = 0x0d;
const LF = 0x0a;
const BACKSLASH = 0x5c;
const CR_IN_EVERY_LANE = CR * LANE_LOW_BITS;
const LF_IN_EVERY_LANE = LF * LANE_LOW_BITS;
const BACKSLASH_IN_EVERY_LANE = BACKSLASH * LANE_LOW_BITS;

/*
 * The word loops test each lane of `x = word ^ (byte in every lane)` for zero with
 * `((x & 0x7f7f7f7f) + 0x7f7f7f7f) | x`, whose bit 7 in a lane is set iff that lane of x is non-zero.
 * It is exact (0x7f + 0x7f never carries into the next lane), unlike the cheaper "has a zero byte" test,
 * and counts must be exact: one miscounted quote flips every boundary after it. Lane 0 is the word's
 * first byte in the file (little-endian, as on every platform node runs on).
 */

/** Bytes data[from, to) of a buffer. */
export interface Span {
  data: Buffer;
  from: number;
  to: number;
}

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

function sumLanes(lanes: number): number {
  const pairs = (lanes & 0x00ff00ff) + ((lanes >>> 8) & 0x00ff00ff);
  return (pairs & 0xffff) + (pairs >>> 16);
}

function countByteSlowly(data: Buffer, from: number, to: number, byte: number): number {
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

/** The `byte` bytes in data[from, to). */
export function countBytes(data: Buffer, from: number, to: number, byte: number): number {
  if (to - from < MIN_WORD_SCAN_BYTES) return countByteSlowly(data, from, to, byte);
  const { words, start, end } = alignedWords(data, from, to);
  const byteInEveryLane = byte * LANE_LOW_BITS;
  let total = countByteSlowly(data, from, start, byte) + countByteSlowly(data, end, to, byte);
  for (let w = 0; w < words.length; ) {
    const sumAt = Math.min(words.length, w + MAX_STEPS_PER_SUM * WORDS_PER_STEP);
    let lanes = 0;
    for (; w < sumAt; w += WORDS_PER_STEP) {
      const a = words[w] ^ byteInEveryLane;
      const b = words[w + 1] ^ byteInEveryLane;
      lanes += ((~(((a & LOW_SEVEN_BITS) + LOW_SEVEN_BITS) | a) >>> 7) & LANE_LOW_BITS) +
        ((~(((b & LOW_SEVEN_BITS) + LOW_SEVEN_BITS) | b) >>> 7) & LANE_LOW_BITS);
    }
    total += sumLanes(lanes);
  }
  return total;
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

/** What a text-format scan carries across spans: line ends seen, and those a backslash escapes. */
export interface TextLineEndCounts {
  lines: number;
  escaped: number;
}

/** How a text count reads its span: the line end; whether the span's first byte is escaped (an odd
 * run of backslashes ended the span before); whether to stop at an unescaped `\.`. */
export interface TextRule {
  lineEnd: number;
  escapedAtFrom: boolean;
  markers: boolean;
}

const DOT = 0x2e;
const DOT_IN_EVERY_LANE = DOT * LANE_LOW_BITS;

/** Whether data[at] is escaped: an odd run of backslashes ends at at - 1, counting `escapedAtFrom`
 * (the byte at `from` is escaped by what came before) when the run reaches back to `from`. */
export function isEscaped(data: Buffer, from: number, at: number, escapedAtFrom: boolean): boolean {
  let runStart = at;
  while (runStart > from && data[runStart - 1] === BACKSLASH) runStart--;
  const odd = (at - runStart) % 2 === 1;
  return runStart === from ? odd !== escapedAtFrom : odd;
}

/** The byte loop of countTextLineEnds over `part` of `span` (escapes are judged from the span's start);
 * the index of an unescaped `\.` (with `markers`), or -1. */
function countTextLineEndsSlowly(counts: TextLineEndCounts, span: Span, part: { from: number; to: number }, rule: TextRule): number {
  const { data, from: origin } = span;
  const { lineEnd, escapedAtFrom: escapedAtOrigin, markers } = rule;
  for (let i = part.from; i < part.to; i++) {
    const byte = data[i];
    if (byte === lineEnd) {
      counts.lines++;
      if (isEscaped(data, origin, i, escapedAtOrigin)) counts.escaped++;
    } else if (markers && byte === DOT && i > origin && data[i - 1] === BACKSLASH && !isEscaped(data, origin, i - 1, escapedAtOrigin)) {
      return i - 1;
    }
  }
  return -1;
}

/**
 * Adds the `lineEnd` bytes of text-format data[from, to) to `counts.lines`, and those a backslash
 * escapes to `counts.escaped`. With `markers`, stops at the first unescaped `\.` and returns the index
 * of its backslash (the counts are then not to be used); else returns -1. A word is only looked at
 * closely when a line end or dot in it directly follows a backslash, which COPY TO never writes for
 * line ends (it writes `\n`), so seldom.
 */
export function countTextLineEnds(counts: TextLineEndCounts, span: Span, rule: TextRule): number {
  const { data, from, to } = span;
  const { lineEnd, escapedAtFrom, markers } = rule;
  if (to - from < MIN_WORD_SCAN_BYTES) return countTextLineEndsSlowly(counts, span, span, rule);
  const { words, start, end } = alignedWords(data, from, to);
  const inHead = countTextLineEndsSlowly(counts, span, { from, to: start }, rule);
  if (inHead >= 0) return inHead;
  const lineEndInEveryLane = lineEnd * LANE_LOW_BITS;
  /** With markers off, dots never match. */
  const dotMask = markers ? LANE_LOW_BITS : 0;
  let lines = 0;
  let escaped = 0;
  // The backslash lanes of the word before, as lanes 3 and 2 of `previous`: a run of backslashes that
  // reaches back before the span counts by `escapedAtFrom`, so lane 2 is set to send that case the slow way.
  let previous = ((start > from ? data[start - 1] === BACKSLASH : escapedAtFrom) ? 1 << 24 : 0) | (1 << 16);
  for (let w = 0; w < words.length; ) {
    const sumAt = Math.min(words.length, w + MAX_STEPS_PER_SUM * WORDS_PER_STEP);
    let lineLanes = 0;
    let escapedLanes = 0;
    for (; w < sumAt; w++) {
      const word = words[w];
      const e = word ^ lineEndInEveryLane;
      const b = word ^ BACKSLASH_IN_EVERY_LANE;
      const d = word ^ DOT_IN_EVERY_LANE;
      const ends = (~(((e & LOW_SEVEN_BITS) + LOW_SEVEN_BITS) | e) >>> 7) & LANE_LOW_BITS;
      const backslashes = (~(((b & LOW_SEVEN_BITS) + LOW_SEVEN_BITS) | b) >>> 7) & LANE_LOW_BITS;
      const dots = (~(((d & LOW_SEVEN_BITS) + LOW_SEVEN_BITS) | d) >>> 7) & dotMask;
      // A backslash just before the lane, and one two before it: after exactly one backslash a byte is
      // escaped; after a longer run it depends on the run's length, worked out byte by byte.
      const oneBefore = (backslashes << 8) | (previous >>> 24);
      const twoBefore = (backslashes << 16) | (previous >>> 16);
      lineLanes += ends;
      // Counted as escaped when one backslash comes before; corrected below where a longer run does.
      escapedLanes += ends & oneBefore;
      if ((((ends & twoBefore) | dots) & oneBefore) !== 0) {
        const at = start + w * WORD_BYTES;
        for (let k = 0; k < WORD_BYTES; k++) {
          const lane = 1 << (8 * k);
          if ((oneBefore & lane) === 0) continue;
          const byte = data[at + k];
          if (byte === lineEnd && (twoBefore & lane) !== 0 && !isEscaped(data, from, at + k, escapedAtFrom)) escaped--;
          else if (byte === DOT && (dots & lane) !== 0 && at + k > from && !isEscaped(data, from, at + k - 1, escapedAtFrom)) return at + k - 1;
        }
      }
      previous = backslashes;
    }
    lines += sumLanes(lineLanes);
    escaped += sumLanes(escapedLanes);
  }
  counts.escaped += escaped;
  counts.lines += lines;
  return countTextLineEndsSlowly(counts, span, { from: end, to }, rule);
}

/**
 * The first index in [from, to) of a CR that no LF follows or an LF that no CR precedes, looking at
 * bytes only (quotes and escapes are the caller's business); a CR at to - 1 counts, as its next byte
 * is not known. `crBefore`: the byte before `from` is a CR (which pairs with an LF at `from`; if none
 * is there, that CR was the business of the span before). In a CRLF file this finds the bytes COPY
 * may refuse, a word at a time: a word is clean when its LF lanes are its CR lanes moved up by one.
 */
export function findUnpairedCrLf(data: Buffer, from: number, to: number, crBefore: boolean): number {
  let previousIsCr = crBefore;
  /** Byte by byte over [i, stop); the index of the first unpaired byte, or -1. */
  const scanBytes = (i: number, stop: number): number => {
    for (; i < stop; i++) {
      const isLf = data[i] === LF;
      if (previousIsCr && !isLf && i > from) return i - 1;
      if (isLf && !previousIsCr) return i;
      previousIsCr = data[i] === CR;
    }
    return -1;
  };
  if (to - from < MIN_WORD_SCAN_BYTES) {
    const found = scanBytes(from, to);
    return found >= 0 || !previousIsCr || to === from ? found : to - 1;
  }
  const { words, start, end } = alignedWords(data, from, to);
  const inHead = scanBytes(from, start);
  if (inHead >= 0) return inHead;
  let carry = previousIsCr ? 1 : 0;
  for (let w = 0; w < words.length; w++) {
    const word = words[w];
    const c = word ^ CR_IN_EVERY_LANE;
    const l = word ^ LF_IN_EVERY_LANE;
    const crs = (~(((c & LOW_SEVEN_BITS) + LOW_SEVEN_BITS) | c) >>> 7) & LANE_LOW_BITS;
    const lfs = (~(((l & LOW_SEVEN_BITS) + LOW_SEVEN_BITS) | l) >>> 7) & LANE_LOW_BITS;
    if (lfs !== (((crs << 8) | carry) & LANE_LOW_BITS)) {
      // The offending word, byte by byte from the CR that may have ended the word before it.
      previousIsCr = carry === 1;
      const at = start + w * WORD_BYTES;
      const found = scanBytes(at, at + WORD_BYTES);
      if (found >= 0) return found;
    }
    carry = crs >>> 24;
  }
  previousIsCr = carry === 1;
  const inTail = scanBytes(end, to);
  return inTail >= 0 || !previousIsCr ? inTail : to - 1;
}
