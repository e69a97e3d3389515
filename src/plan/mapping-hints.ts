/**
 * Pure: what a record the server refused says about a mapping mistake (the wrong format, delimiter,
 * column list, or a header without --header), as hints to add to the error. Only ever a guess from
 * the record's bytes: every hint names what it saw.
 */
import { SQLSTATE } from '../db/sqlstate.ts';
import type { ResolvedLoadOptions } from '../options.ts';

export interface HintContext {
  options: Pick<ResolvedLoadOptions, 'file' | 'format' | 'delimiter' | 'quote' | 'header'>;
  /** The columns the load feeds, in order. */
  columns: readonly string[];
  /** The refused record is the input's first (after a header that was skipped): only then are there hints. */
  firstRecord: boolean;
  /** The server's SQLSTATE for it. */
  sqlstate: string | undefined;
  /** The records after the first one loaded on their own (the probe checks it when record 1 fails). */
  restLoads?: boolean;
}

const TAB = '\t';

/** Fields of one record as COPY splits them (quotes in CSV, backslash escapes in text); no unescaping. */
export function splitFields(record: string, format: 'csv' | 'text', delimiter: string, quote = '"'): string[] {
  const line = record.replace(/\r?\n$|\r$/, '');
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (format === 'csv' && c === quote) quoted = !quoted;
    else if (format === 'text' && c === '\\') {
      field += c + (line[i + 1] ?? '');
      i++;
      continue;
    } else if (c === delimiter && !quoted) {
      fields.push(field);
      field = '';
      continue;
    }
    field += c;
  }
  fields.push(field);
  return fields;
}

/** Hints for a refused record, most specific first; empty when nothing looks like a mapping mistake. */
export function mappingHints(record: string, context: HintContext): string[] {
  const { options, columns } = context;
  const format = options.format === 'binary' ? undefined : options.format;
  // A mapping mistake shows at the first record; a bad record later on is that record's fault.
  if (!format || !context.firstRecord) return [];
  const delimiter = options.delimiter ?? (format === 'csv' ? ',' : TAB);
  const hints: string[] = [];
  const fields = splitFields(record, format, delimiter, options.quote ?? '"');
  const line = record.replace(/\r?\n$|\r$/, '');
  const tabs = line.split(TAB).length - 1;
  const commas = line.split(',').length - 1;
  if (format === 'csv' && delimiter === ',' && tabs > 0 && commas === 0) {
    hints.push(`the data looks tab-separated (${tabs + 1} tab-separated fields): pass --format text, or --delimiter $'\\t' for CSV`);
  } else if (format === 'text' && delimiter === TAB && commas > 0 && tabs === 0) {
    hints.push(
      options.file === '-'
        ? `standard input is read as text (COPY's default format: tab-separated), and the data looks comma-separated: pass --format csv`
        : `the data looks comma-separated (${commas + 1} comma-separated fields): pass --format csv`,
    );
  }
  const normalized = (s: string) => s.trim().replace(/^"(.*)"$/, '$1').toLowerCase();
  const names = new Set(columns.map((c) => c.toLowerCase()));
  const named = fields.filter((f) => names.has(normalized(f))).length;
  if (!options.header && (named >= Math.ceil(columns.length / 2) || context.restLoads)) {
    hints.push(`the first record looks like a header${named > 0 ? ` (${fields.map(normalized).filter((f) => names.has(f)).slice(0, 3).join(', ')} ${named === 1 ? 'is a column name' : 'are column names'})` : ' (the records after it load)'}: pass --header`);
  }
  if (hints.length === 0 && fields.length !== columns.length && context.sqlstate === SQLSTATE.BAD_COPY_FILE_FORMAT) {
    hints.push(`the record has ${fields.length} field${fields.length === 1 ? '' : 's'} and the column list ${columns.length} (${columns.join(', ')}): pass --columns naming the file's fields in order${format === 'csv' && fields.length === 1 ? ', or check --delimiter' : ''}`);
  }
  return hints;
}
