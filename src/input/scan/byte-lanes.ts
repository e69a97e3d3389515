/**
 * Counting LF and quote bytes four at a time: the buffer is read as 32-bit words of four byte lanes.
 * Pure; the format states in format-states.ts decide which spans to count.
 */

const LF = 0x0a;

/** Counting runs over the buffer as 32-bit words of four byte lanes, two words per step: unrolled and
 * with the bit tricks written out inline it ran 1.5x faster than with helper functions (node 20). */
const WORD_BYTES = 4;
const WORDS_PER_STEP = 2;
/** Below this many bytes a byte loop is cheaper than building an Int32Array view. */
const MIN_WORD_SCAN_BYTES = 64;
/** LF counts build up in byte lanes, so they are summed before 255 increments can overflow one. */
const MAX_STEPS_PER_SUM = 127;
const LOW_SEVEN_BITS = 0x7f7f7f7f;
export const LANE_LOW_BITS = 0x01010101;
const LF_IN_EVERY_LANE = LF * LANE_LOW_BITS;

/*
 * The word loops test each lane of `x = word ^ (byte in every lane)` for zero with
 * `((x & 0x7f7f7f7f) + 0x7f7f7f7f) | x`, whose bit 7 in a lane is set iff that lane of x is non-zero.
 * It is exact (0x7f + 0x7f never carries into the next lane), unlike the cheaper "has a zero byte" test,
 * and counts must be exact: one miscounted quote flips every boundary after it.
 */

/** What a CSV scan with ESCAPE == QUOTE carries: LF bytes seen, and the parity of the quote bytes seen. */
export interface LineFeedAndQuoteCounts {
  lineFeeds: number;
  /** 1 after an odd number of quote bytes, else 0. */
  inQuotes: number;
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

export function countLineFeeds(data: Buffer, from: number, to: number): number {
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

/** Adds the LF bytes in data[from, to) to `counts.lineFeeds` and flips `counts.inQuotes` once per
 * `quote` byte there. `quoteInEveryLane` is `quote * LANE_LOW_BITS`, computed once by the caller. */
export function countLineFeedsAndQuotes(
  counts: LineFeedAndQuoteCounts,
  data: Buffer,
  from: number,
  to: number,
  quote: number,
  quoteInEveryLane: number,
): void {
  if (to - from < MIN_WORD_SCAN_BYTES) {
    counts.lineFeeds += countByte(data, from, to, LF);
    counts.inQuotes ^= countByte(data, from, to, quote) & 1;
    return;
  }
  const { words, start, end } = alignedWords(data, from, to);
  countLineFeedsAndQuotes(counts, data, from, start, quote, quoteInEveryLane);
  countLineFeedsAndQuotes(counts, data, end, to, quote, quoteInEveryLane);
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
      const aQuote = a ^ quoteInEveryLane;
      const bQuote = b ^ quoteInEveryLane;
      nonQuoteParity ^= (((aQuote & LOW_SEVEN_BITS) + LOW_SEVEN_BITS) | aQuote) ^
        (((bQuote & LOW_SEVEN_BITS) + LOW_SEVEN_BITS) | bQuote);
    }
    lineFeeds += sumLanes(lanes);
  }
  counts.lineFeeds += lineFeeds;
  counts.inQuotes ^= sumLanes((nonQuoteParity >>> 7) & LANE_LOW_BITS) & 1;
}
