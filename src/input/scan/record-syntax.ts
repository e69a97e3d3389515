/** The few facts about a COPY input format that decide where its records end. */
export interface RecordSyntax {
  format: 'csv' | 'text';
  /** CSV only: QUOTE and ESCAPE as single bytes (COPY's defaults: both 0x22 '"'). Ignored for text. */
  quote: number;
  escape: number;
}

/** A stream's line ending, fixed by its first line end as COPY fixes it (EOL_NL, EOL_CRNL, EOL_CR). */
export type LineEnding = 'lf' | 'crlf' | 'cr';

/**
 * What the server makes of `\.` (the end-of-data marker) over COPY FROM STDIN, tried on PostgreSQL
 * 15.18 and 18.4 (PostgreSQL 16 and 17 are as 15: the change is listed in the 18.0 release notes only):
 * - 'text': text format before 18. An unescaped `\.` followed by the line end ends the data, wherever
 *   it is in the line (what comes before it on the line is the last record); followed by anything
 *   else it is "end-of-copy marker corrupt".
 * - 'text-alone': text format from 18. The same, but it must be alone on its line ("end-of-copy marker
 *   is not alone on its line").
 * - 'csv-line': CSV before 18. `\.` then the line end as the whole of a record ends the data;
 *   anywhere else `\.` is data.
 * - 'none': CSV from 18. `\.` is data.
 */
export type EndMarkerRule = 'text' | 'text-alone' | 'csv-line' | 'none';

/** The first server version whose COPY takes `\.` as data in CSV and wants it alone on its line in text. */
const MARKER_CHANGE_VERSION_NUM = 180000;

export function endMarkerRule(format: RecordSyntax['format'], serverVersionNum: number): EndMarkerRule {
  if (serverVersionNum >= MARKER_CHANGE_VERSION_NUM) return format === 'csv' ? 'none' : 'text-alone';
  return format === 'csv' ? 'csv-line' : 'text';
}

/** How a scan treats what one COPY would refuse or stop at. */
export interface ScanRules {
  endMarker: EndMarkerRule;
  /** A line end of another style, or a bad end-of-data marker, fails the scan (as it fails one COPY).
   * When false, the scan reads on as the server would after refusing that record (--max-errors). */
  strict: boolean;
  /** Names the input in errors. */
  file?: string;
  /** The first record is a header: errors number records after it. */
  header?: boolean;
}

export const LENIENT_SCAN: ScanRules = { endMarker: 'none', strict: false };
