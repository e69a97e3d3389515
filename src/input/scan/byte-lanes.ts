/**
 * Counting bytes four at a time: the buffer is read as 32-bit words of four byte lanes. Pure; the
 * CSV and text counters (quote-lanes.ts, text-lanes.ts) build on these, and the format states in
 * format-states.ts decide which spans to count.
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
const CR_IN_EVERY_LANE = CR * LANE_LOW_BITS;
const LF_IN_EVERY_LANE = LF * LANE_LOW_BITS;

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

export function sumLanes(lanes: number): number {
  const pairs = (lanes & 0x00ff00ff) + ((lanes >>> 8) & 0x00ff00ff);
  return (pairs & 0xffff) + (pairs >>> 16);
}

function countByteSlowly(data: Buffer, from: number, to: number, byte: number): number {
  let count = 0;
  for (let i = from; i < to; i++) if (data[i] === byte) count++;
  return count;
}

/** The aligned words inside data[from, to), a whole number of steps (Int32Array needs an aligned offset). */
export function alignedWords(data: Buffer, from: number, to: number): { words: Int32Array; start: number; end: number } {
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
