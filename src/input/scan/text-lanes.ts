/**
 * Counting records in COPY text format a word at a time: line ends, those a backslash escapes, and
 * where an unescaped `\.` is. Pure; see byte-lanes.ts for the lane tests.
 */
import { alignedWords, sumLanes, type Span } from './byte-lanes.ts';

/** The word-loop constants, defined here and not imported: V8 reads an imported binding from its
 * module cell on each use (the ESCAPE \ scan ran 4x slower, node 20). */
const WORD_BYTES = 4;
const WORDS_PER_STEP = 2;
const MIN_WORD_SCAN_BYTES = 64;
const MAX_STEPS_PER_SUM = 127;
const LOW_SEVEN_BITS = 0x7f7f7f7f;
const LANE_LOW_BITS = 0x01010101;
const BACKSLASH = 0x5c;
const BACKSLASH_IN_EVERY_LANE = BACKSLASH * LANE_LOW_BITS;

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
