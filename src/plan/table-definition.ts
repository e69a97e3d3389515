/**
 * Pure: the table --create makes, from the file: its column names (from --columns, the header, or
 * column1..N) and the types inferred from a sample of its records, as SQL. Every name goes through
 * quoteIdent; the types come from a fixed list (infer-types.ts).
 */
import { qualified, quoteIdent, type QualifiedName } from '../db/sql.ts';
import { PloaderError } from '../errors.ts';
import type { FieldValue } from '../input/first-record.ts';
import type { ResolvedLoadOptions } from '../options.ts';
import type { InferredType, RecordTypeInference } from './infer-types.ts';

/** PostgreSQL keeps identifiers to NAMEDATALEN - 1 bytes and silently cuts longer ones. */
const MAX_IDENTIFIER_BYTES = 63;

export interface NewColumn {
  name: string;
  type: InferredType;
}

export interface TableDefinition {
  table: QualifiedName;
  columns: NewColumn[];
  /** Records the types were inferred from. */
  sampled: number;
}

type Options = Pick<ResolvedLoadOptions, 'file' | 'columns' | 'header'>;

/**
 * Names for the file's fields: --columns, else the header's names as written (any case, spaces and
 * all: they are quoted), else column1..N. `firstRecord` is line 1 (the header, if there is one).
 */
export function newColumnNames(options: Options, firstRecord: readonly FieldValue[]): string[] {
  const at = { position: { file: options.file, line: 1 } };
  if (options.columns !== undefined) {
    if (options.columns.length !== firstRecord.length) {
      throw new PloaderError('INVALID_OPTION', `--columns names ${options.columns.length} columns, but line 1 has ${firstRecord.length} fields — name each field once, in order`, at);
    }
    return checkNames(options.columns, 'column', at);
  }
  if (!options.header) return firstRecord.map((_, i) => `column${i + 1}`);
  firstRecord.forEach((name, i) => {
    if (name === null || name === '') {
      throw new PloaderError('TARGET_INVALID', `header field ${i + 1} is ${name === null ? 'NULL' : 'empty'}: a new table needs a name for every column — name it in the header, or pass --columns`, at);
    }
  });
  return checkNames(firstRecord as string[], 'header field', at);
}

function checkNames(names: readonly string[], what: string, at: { position: { file: string; line: number } }): string[] {
  const seen = new Map<string, number>();
  names.forEach((name, i) => {
    if (Buffer.byteLength(name) > MAX_IDENTIFIER_BYTES) {
      throw new PloaderError('TARGET_INVALID', `${what} ${i + 1}, ${JSON.stringify(name)}, is ${Buffer.byteLength(name)} bytes long and PostgreSQL keeps ${MAX_IDENTIFIER_BYTES} — shorten it, or pass --columns`, at);
    }
    if (name.includes('\0')) throw new PloaderError('TARGET_INVALID', `${what} ${i + 1} holds a NUL character, which no PostgreSQL name can — rename it, or pass --columns`, at);
    const earlier = seen.get(name);
    if (earlier !== undefined) throw new PloaderError('TARGET_INVALID', `${what}s ${earlier} and ${i + 1} are both ${JSON.stringify(name)}: a table's columns need distinct names — rename one, or pass --columns`, at);
    seen.set(name, i + 1);
  });
  return [...names];
}

export function defineTable(table: QualifiedName, names: readonly string[], sample: RecordTypeInference): TableDefinition {
  const types = sample.types;
  return { table, columns: names.map((name, i) => ({ name, type: types[i] })), sampled: sample.records };
}

/** `("a" integer, "b" text)`: the body of a CREATE TABLE (the stage's and the target's). */
export function columnDefinitionsSql(columns: readonly NewColumn[]): string {
  return `(${columns.map((c) => `${quoteIdent(c.name)} ${c.type}`).join(', ')})`;
}

/** The CREATE TABLE a load with --create amounts to (the stage is created so, then renamed). */
export function createTableSql(definition: TableDefinition): string {
  return `CREATE TABLE ${qualified(definition.table)} ${columnDefinitionsSql(definition.columns)}`;
}
