/**
 * The test oracle for the scanner: CopyReadLineText (PostgreSQL src/backend/commands/copyfromparse.c)
 * transcribed statement by statement over a whole buffer, slow and obvious, with the end-of-data
 * marker rules of 15-17 and 18. Where the server would raise an error, it notes the problem and reads
 * on as the scanner's lenient mode does.
 */
import type { EndMarkerRule, LineEnding, RecordSyntax } from '../../../../src/input/scan/record-syntax.ts';
import type { LineProblemKind } from '../../../../src/input/scan/copy-line-rules.ts';
import type { DataEnd, RecordStart } from '../../../../src/input/scan/record-boundaries.ts';

const LF = 0x0a;
const CR = 0x0d;
const BACKSLASH = 0x5c;
const DOT = 0x2e;

export interface ReferenceScan {
  /** Every record start, offset 0 first. */
  starts: RecordStart[];
  end: DataEnd;
  lineEnding: LineEnding | undefined;
  problems: Array<{ kind: LineProblemKind; line: number; records: number }>;
}

export function referenceScan(data: Buffer, syntax: RecordSyntax, endMarker: EndMarkerRule): ReferenceScan {
  const csv = syntax.format === 'csv';
  const escape = syntax.escape === syntax.quote ? -1 : syntax.escape;
  let eol: LineEnding | undefined;
  const starts = [0];
  const recordsAt = [0];
  const problems: Array<{ kind: LineProblemKind; at: number; records: number }> = [];
  let records = 0;
  let pos = 0;
  let marker: { offset: number; records: number; end: number } | undefined;
  while (pos < data.length && !marker) {
    const recordStart = pos;
    let inQuote = false;
    let lastWasEsc = false;
    let firstChar = true;
    let lineEnded = false;
    const problem = (kind: LineProblemKind, at: number) => problems.push({ kind, at, records });
    for (;;) {
      if (pos >= data.length) break;
      const c = data[pos++];
      if (csv) {
        if (inQuote && c === escape) lastWasEsc = !lastWasEsc;
        if (c === syntax.quote && !lastWasEsc) inQuote = !inQuote;
        if (c !== escape) lastWasEsc = false;
      }
      if (c === CR && (!csv || !inQuote)) {
        if (eol === undefined || eol === 'crlf') {
          if (data[pos] === LF) {
            pos++;
            eol = 'crlf';
          } else if (eol === 'crlf') {
            problem('stray-cr', pos - 1);
            firstChar = false;
            continue;
          } else {
            eol = 'cr';
          }
        } else if (eol === 'lf') {
          problem('stray-cr', pos - 1);
          firstChar = false;
          continue;
        }
        lineEnded = true;
        break;
      }
      if (c === LF && (!csv || !inQuote)) {
        if (eol === 'cr' || eol === 'crlf') {
          problem('stray-lf', pos - 1);
          if (eol === 'cr') {
            firstChar = false;
            continue;
          }
        }
        eol ??= 'lf';
        lineEnded = true;
        break;
      }
      const markersHere = csv ? endMarker === 'csv-line' && firstChar : endMarker === 'text' || endMarker === 'text-alone';
      if (c === BACKSLASH && (!csv || firstChar)) {
        if (pos >= data.length) break;
        if (data[pos] === DOT && markersHere) {
          const backslashAt = pos - 1;
          const dotAt = pos;
          pos++;
          const bad = endMarker === 'text-alone' ? 'marker-not-alone' : 'marker-corrupt';
          let verdict: LineProblemKind | 'data' | 'marker' = 'marker';
          if (eol === 'crlf') {
            const c2 = data[pos++];
            if (c2 === LF) verdict = csv ? 'data' : 'marker-newline-style';
            else if (c2 !== CR) verdict = csv ? 'data' : bad;
          }
          if (verdict === 'marker') {
            const c2 = data[pos++];
            if (c2 !== CR && c2 !== LF) verdict = csv ? 'data' : bad;
            else if ((eol === 'lf' && c2 !== LF) || (eol === 'crlf' && c2 !== LF) || (eol === 'cr' && c2 !== CR)) verdict = 'marker-newline-style';
            else if (endMarker === 'text-alone' && backslashAt > recordStart) verdict = 'marker-not-alone';
          }
          if (verdict === 'marker') {
            marker = { offset: backslashAt, records: records + (backslashAt > recordStart ? 1 : 0), end: pos };
            break;
          }
          if (verdict !== 'data') problem(verdict, backslashAt);
          // CSV: `\.` was data, go back to the byte after the backslash; text: the dot was escaped data.
          pos = csv ? backslashAt + 1 : dotAt + 1;
          firstChar = false;
          continue;
        }
        if (!csv) pos++;
      }
      firstChar = false;
    }
    if (marker) break;
    records++;
    if (lineEnded && pos <= data.length) {
      starts.push(pos);
      recordsAt.push(records);
    }
    if (!lineEnded) break;
  }
  const lineEnd = eol === 'cr' ? CR : LF;
  const linesBefore = new Uint32Array(data.length + 1);
  for (let i = 0; i < data.length; i++) linesBefore[i + 1] = linesBefore[i] + (data[i] === lineEnd ? 1 : 0);
  const lineAt = (offset: number) => 1 + linesBefore[offset];
  // A line end at the very end leaves a "start" at data.length: that is the end of data, not a record.
  const recordStarts = starts.map((offset, k) => ({ offset, line: lineAt(offset), records: recordsAt[k] })).filter((s) => s.offset < (marker?.offset ?? data.length) || s.offset === 0);
  const endOffset = marker?.offset ?? data.length;
  const end: DataEnd = marker
    ? { offset: marker.offset, line: lineAt(marker.offset), records: marker.records, marker: { line: lineAt(marker.offset), end: marker.end } }
    : { offset: endOffset, line: lineAt(endOffset), records };
  return { starts: recordStarts, end, lineEnding: eol, problems: problems.map((p) => ({ kind: p.kind, line: lineAt(p.at), records: p.records })) };
}

/** The reference's answer for each target: the first record start at or after it, else the data end. */
export function referenceAnswers(scan: ReferenceScan, targets: readonly number[]): RecordStart[] {
  const endStart = { offset: scan.end.offset, line: scan.end.line, records: scan.end.records };
  const answers = [];
  let k = 0;
  for (const target of targets) {
    while (k < scan.starts.length && scan.starts[k].offset < target) k++;
    const start = scan.starts[k];
    answers.push(start && start.offset < scan.end.offset ? start : start?.offset === 0 ? start : endStart);
  }
  return answers;
}
