/**
 * Pure: which table columns the file's fields feed, in file order. From --columns, from the header's
 * names (--header names), or from the first record's field count: every column COPY can fill, or,
 * when the count says so, the ones without a default. A header checked with --header match must
 * name exactly that list, in order, as COPY's HEADER MATCH demands.
 */
import type { ColumnFacts } from './catalog.ts';
import { qualified, quoteIdent, type QualifiedName } from '../db/sql.ts';
import { PloaderError } from '../errors.ts';
import type { FieldValue } from '../input/first-record.ts';
import type { ResolvedLoadOptions } from '../options.ts';

export interface FileColumns {
  /** The columns the file feeds, in file order. */
  columns: string[];
  /** Columns COPY can fill that the file does not feed: their defaults (or NULL) fill them. */
  defaulted: string[];
}

export interface ColumnsInput {
  table: QualifiedName;
  columns: readonly ColumnFacts[];
}

type Options = Pick<ResolvedLoadOptions, 'file' | 'columns' | 'header' | 'headerMode'>;

/** `firstRecord`: the input's first record split into fields (the header, when there is one); undefined for an empty input. */
export function resolveFileColumns(target: ColumnsInput, options: Options, firstRecord: FieldValue[] | undefined): FileColumns {
  const insertable = target.columns.filter((c) => c.generated === '');
  let columns: string[];
  if (options.headerMode === 'names' && firstRecord) columns = columnsFromHeader(target, options, firstRecord);
  else if (options.columns !== undefined) columns = checkGivenColumns(target, options.columns);
  else columns = columnsByFieldCount(target, options, firstRecord);
  if (options.headerMode === 'match' && firstRecord) checkHeaderMatch(options, firstRecord, columns);
  return { columns, defaulted: insertable.filter((c) => !columns.includes(c.name)).map((c) => c.name) };
}

/** --columns as given: each must be a column COPY can fill. */
export function checkGivenColumns(target: ColumnsInput, given: readonly string[]): string[] {
  const all = target.columns.filter((c) => c.generated === '').map((c) => c.name);
  for (const column of given) {
    const found = target.columns.find((c) => c.name === column);
    if (!found) {
      throw new PloaderError('TARGET_INVALID', `column ${quoteIdent(column)} does not exist in ${qualified(target.table)} — its columns are ${all.map(quoteIdent).join(', ')}`);
    }
    if (found.generated !== '') {
      throw new PloaderError('TARGET_INVALID', `column ${quoteIdent(column)} of ${qualified(target.table)} is generated and cannot be loaded — leave it out of --columns`);
    }
  }
  return [...given];
}

/**
 * COPY without a column list fills every column but the generated ones. When the file has fewer
 * fields, and exactly as many as the columns without a default, those are what it holds (the ids,
 * timestamps and the like are the table's to fill).
 */
function columnsByFieldCount(target: ColumnsInput, options: Options, firstRecord: FieldValue[] | undefined): string[] {
  const insertable = target.columns.filter((c) => c.generated === '');
  const count = firstRecord?.length ?? insertable.length;
  if (count === insertable.length) return insertable.map((c) => c.name);
  const withoutDefault = insertable.filter((c) => !c.hasDefault);
  if (count === withoutDefault.length) return withoutDefault.map((c) => c.name);
  const names = (columns: readonly ColumnFacts[]) => columns.map((c) => c.name).join(', ');
  const has = `${qualified(target.table)} has ${insertable.length} columns COPY can fill (${names(insertable)}), ${withoutDefault.length} of them without a default${withoutDefault.length > 0 ? ` (${names(withoutDefault)})` : ''}`;
  const line = `line 1${options.header ? ' (the header)' : ''} has ${count} field${count === 1 ? '' : 's'}`;
  const hint = delimiterHint(firstRecord);
  if (count > insertable.length) {
    throw new PloaderError('TARGET_INVALID', `${line}, but ${has} — no --columns list fits: check the file's format and --delimiter`, { position: { file: options.file, line: 1 } });
  }
  // The fields most likely there: the columns without a default, then those with one, in table order.
  const chosen = new Set([...withoutDefault, ...insertable.filter((c) => c.hasDefault)].slice(0, count));
  const fit = insertable.filter((c) => chosen.has(c)).map((c) => c.name).join(',');
  const name = count === 1 ? "name the file's column" : `name the file's ${count} columns in order`;
  throw new PloaderError('TARGET_INVALID', `${line}, but ${has} — ${hint}${name} with --columns, e.g. --columns ${fit}`, { position: { file: options.file, line: 1 } });
}

/** A line that is one field holding a common delimiter was probably split with the wrong one. */
function delimiterHint(firstRecord: FieldValue[] | undefined): string {
  if (firstRecord?.length !== 1 || firstRecord[0] === null) return '';
  const found = [';', '\t', '|', ','].find((d) => firstRecord[0]!.includes(d));
  if (found === undefined) return '';
  // A shell passes a tab as $'\t'; the others need only quotes.
  const flag = found === '\t' ? "--delimiter $'\\t'" : `--delimiter "${found}"`;
  return `is ${found === '\t' ? 'a tab' : `"${found}"`} the delimiter? pass ${flag}; or `;
}

/** --header names: each header field names a column, exactly or else case-insensitively when only one column fits. */
function columnsFromHeader(target: ColumnsInput, options: Options, header: FieldValue[]): string[] {
  const at = { position: { file: options.file, line: 1 } };
  const table = qualified(target.table);
  const all = target.columns.map((c) => quoteIdent(c.name)).join(', ');
  const fieldOf = new Map<string, number>();
  const columns = header.map((name, index) => {
    const field = `header field ${index + 1}`;
    if (name === null || name === '') throw new PloaderError('TARGET_INVALID', `${field} is ${name === null ? 'NULL' : 'empty'}, so it names no column of ${table} — give every field a name (--header names)`, at);
    let column = target.columns.find((c) => c.name === name);
    if (!column) {
      const folded = target.columns.filter((c) => c.name.toLowerCase() === name.toLowerCase());
      if (folded.length > 1) {
        throw new PloaderError('TARGET_INVALID', `${field}, ${JSON.stringify(name)}, matches columns ${folded.map((c) => quoteIdent(c.name)).join(' and ')} of ${table} but neither exactly — spell it as one of them`, at);
      }
      column = folded[0];
    }
    if (!column) {
      const bom = name.startsWith('\ufeff') ? ' (it starts with a byte-order mark: save the file without one)' : '';
      throw new PloaderError('TARGET_INVALID', `${field}, ${JSON.stringify(name)}, is not a column of ${table}${bom} — its columns are ${all}`, at);
    }
    if (column.generated !== '') throw new PloaderError('TARGET_INVALID', `${field} names column ${quoteIdent(column.name)} of ${table}, which is generated and cannot be loaded — remove it from the file`, at);
    const earlier = fieldOf.get(column.name);
    if (earlier !== undefined) throw new PloaderError('TARGET_INVALID', `header fields ${earlier} and ${index + 1} both name column ${quoteIdent(column.name)} of ${table} — each column can be loaded once`, at);
    fieldOf.set(column.name, index + 1);
    return column.name;
  });
  // Every row would fail on such a column: say so now, not once per row.
  const missing = target.columns.find((c) => c.generated === '' && c.notNull && !c.hasDefault && !fieldOf.has(c.name));
  if (missing) {
    throw new PloaderError('TARGET_INVALID', `the header does not name column ${quoteIdent(missing.name)} of ${table}, which is NOT NULL and has no default, so every row would fail — add it to the file, or give it a default`, at);
  }
  return columns;
}

/**
 * COPY's HEADER MATCH (copyfromparse.c): as many header fields as columns, and field N equal to
 * column N's name, byte for byte. The messages say what the server's would, in ploader's words.
 */
function checkHeaderMatch(options: Options, header: FieldValue[], columns: readonly string[]): void {
  const at = { position: { file: options.file, line: 1 } };
  const how = 'reorder the file\'s columns, pass --columns in the file\'s order, or map them by name with --header names';
  if (header.length !== columns.length) {
    throw new PloaderError('TARGET_INVALID', `--header match: the header has ${header.length} fields, the column list ${columns.length} (${columns.join(', ')}) — ${how}`, at);
  }
  const index = header.findIndex((name, i) => name !== columns[i]);
  if (index < 0) return;
  const got = header[index] === null ? 'NULL' : JSON.stringify(header[index]);
  throw new PloaderError('TARGET_INVALID', `--header match: header field ${index + 1} is ${got}, expected ${JSON.stringify(columns[index])} (the column list is ${columns.join(', ')}) — ${how}`, at);
}
