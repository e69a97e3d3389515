/**
 * The errors one COPY gives for a stream that breaks its line rules, found by the scan before anything
 * is loaded: the server's own message, hint and SQLSTATE (22P04), the physical line, and what to do.
 */
import { SQLSTATE } from '../../db/sqlstate.ts';
import { PloaderError } from '../../errors.ts';
import type { LineProblem, LineProblemKind } from './copy-line-rules.ts';
import type { LineEnding, RecordSyntax, ScanRules } from './record-syntax.ts';

const STYLE_NAMES: Record<LineEnding, string> = { lf: 'LF', crlf: 'CR LF', cr: 'CR' };

/** The server's message and hint for each problem (copyfromparse.c, CopyReadLineText). */
function serverWords(kind: LineProblemKind, format: RecordSyntax['format']): { message: string; hint?: string } {
  const csv = format === 'csv';
  switch (kind) {
    case 'stray-cr':
      return csv
        ? { message: 'unquoted carriage return found in data', hint: 'Use quoted CSV field to represent carriage return.' }
        : { message: 'literal carriage return found in data', hint: 'Use "\\r" to represent carriage return.' };
    case 'stray-lf':
      return csv
        ? { message: 'unquoted newline found in data', hint: 'Use quoted CSV field to represent newline.' }
        : { message: 'literal newline found in data', hint: 'Use "\\n" to represent newline.' };
    case 'marker-corrupt':
      return { message: 'end-of-copy marker corrupt' };
    case 'marker-not-alone':
      return { message: 'end-of-copy marker is not alone on its line' };
    case 'marker-newline-style':
      return { message: 'end-of-copy marker does not match previous newline style' };
  }
}

function advice(kind: LineProblemKind, eol: LineEnding | undefined): string {
  if (kind === 'stray-cr' || kind === 'stray-lf') {
    const style = eol ? `the data's first line ends in ${STYLE_NAMES[eol]}, and one COPY refuses any other line end outside quoted fields` : 'one COPY refuses mixed line ends';
    return `${style}: convert the file to one line-end style (e.g. dos2unix), or pass --max-errors to set this record aside`;
  }
  return 'a line holding only \\. ends COPY data; remove or escape this \\. (write \\\\.), or pass --max-errors to set this record aside';
}

export function copyFormatError(problem: LineProblem, format: RecordSyntax['format'], rules: ScanRules, eol: LineEnding | undefined): PloaderError {
  const { message, hint } = serverWords(problem.kind, format);
  const record = problem.records + 1 - (rules.header ? 1 : 0);
  const text = `record ${record}: ${message} (SQLSTATE ${SQLSTATE.BAD_COPY_FILE_FORMAT})${hint ? `; hint: ${hint}` : ''} — ${advice(problem.kind, eol)} (nothing was loaded)`;
  return new PloaderError('BAD_ROW', text, {
    position: rules.file === undefined ? undefined : { file: rules.file, line: problem.line, record },
    server: { sqlstate: SQLSTATE.BAD_COPY_FILE_FORMAT, hint },
  });
}
