/**
 * Identifier quoting and the SQL text the plan runs. Every identifier that comes from a user or
 * the catalog goes through `quoteIdent`; values go as bind parameters or through `quoteLiteral`.
 */
import pg from 'pg';

const quoter = new pg.Client();

/** PostgreSQL identifier quoting, always quoted: `x"y` → `"x""y"` (node-postgres escapeIdentifier). */
export function quoteIdent(name: string): string {
  return quoter.escapeIdentifier(name);
}

/** A string literal for the few statements that cannot take bind parameters (COPY options, COMMENT). */
export function quoteLiteral(value: string): string {
  return quoter.escapeLiteral(value);
}

export interface QualifiedName {
  schema: string;
  name: string;
}

export function qualified({ schema, name }: QualifiedName): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

export interface CopyStatementOptions {
  format: 'csv' | 'text' | 'binary';
  delimiter?: string;
  quote?: string;
  escape?: string;
  null?: string;
  encoding?: string;
  forceNull?: string[];
  forceNotNull?: string[];
  /** COPY DEFAULT (PostgreSQL 16+): this string in the input means the column's default. */
  default?: string;
  /**
   * ON_ERROR ignore with LOG_VERBOSITY verbose (PostgreSQL 17+): rows whose values the column types
   * refuse are skipped, each named in a NOTICE. Only bad-row isolation asks for it (isolate-bad-rows.ts).
   */
  skipSoftErrors?: boolean;
}

/** `COPY schema.table (cols) FROM STDIN (FORMAT csv, ...)`; HEADER is never sent: the main thread skips it by offset. */
export function copyFromStdin(table: QualifiedName, columns: string[], options: CopyStatementOptions): string {
  const items = [`FORMAT ${options.format}`];
  if (options.delimiter !== undefined) items.push(`DELIMITER ${quoteLiteral(options.delimiter)}`);
  if (options.null !== undefined) items.push(`NULL ${quoteLiteral(options.null)}`);
  if (options.format === 'csv') {
    if (options.quote !== undefined) items.push(`QUOTE ${quoteLiteral(options.quote)}`);
    if (options.escape !== undefined) items.push(`ESCAPE ${quoteLiteral(options.escape)}`);
    if (options.forceNull?.length) items.push(`FORCE_NULL (${options.forceNull.map(quoteIdent).join(', ')})`);
    if (options.forceNotNull?.length) items.push(`FORCE_NOT_NULL (${options.forceNotNull.map(quoteIdent).join(', ')})`);
  }
  if (options.encoding !== undefined) items.push(`ENCODING ${quoteLiteral(options.encoding)}`);
  if (options.default !== undefined) items.push(`DEFAULT ${quoteLiteral(options.default)}`);
  if (options.skipSoftErrors) items.push('ON_ERROR ignore', 'LOG_VERBOSITY verbose');
  return `COPY ${qualified(table)} (${columns.map(quoteIdent).join(', ')}) FROM STDIN (${items.join(', ')})`;
}
