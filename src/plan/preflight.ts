/**
 * Checked against the server before anything is written: COPY accepts
 * the options (delimiter, quote, null, encoding, ...) exactly as the workers will send them.
 */
import type pg from 'pg';
import { PloaderError, serverFields } from '../errors.ts';
import type { ResolvedLoadOptions } from '../options.ts';
import { copyFromStdin, quoteIdent, qualified, type QualifiedName } from '../db/sql.ts';
import { from as copyFrom } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { BINARY_SIGNATURE, BINARY_TRAILER } from '../input/scan/binary-tuples.ts';

/** A valid binary COPY stream with no tuples: signature, flags 0, no header extension, trailer. */
const EMPTY_BINARY_COPY = Buffer.concat([BINARY_SIGNATURE, Buffer.alloc(8), BINARY_TRAILER]);

/** The probe's columns: the target's (LIKE), or those of a table to be created, `(col type, ...)`. */
export type TableShape = { like: QualifiedName } | { definition: string };

/**
 * Runs the workers' COPY, with no data, into a temporary twin of the target inside a transaction
 * that is rolled back: the server itself judges the options, and nothing is written.
 */
export async function checkCopyOptions(client: pg.Client, shape: TableShape, columns: string[], options: ResolvedLoadOptions): Promise<void> {
  // One COPY needs no TEMP privilege: without it there is no twin, and the first chunk's COPY judges
  // the options instead (before any row is in, so nothing is loaded either way).
  const { rows: [{ temp }] } = await client.query<{ temp: boolean }>("SELECT has_database_privilege(current_database(), 'TEMP') AS temp");
  if (!temp) return;
  const probe = { schema: 'pg_temp', name: 'ploader_copy_check' };
  await client.query('BEGIN');
  try {
    const body = 'like' in shape ? `(LIKE ${qualified(shape.like)})` : shape.definition;
    await client.query(`CREATE TEMP TABLE ${quoteIdent(probe.name)} ${body} ON COMMIT DROP`);
    const copy = client.query(copyFrom(copyFromStdin(probe, columns, options)));
    await pipeline(async function* () {
      if (options.format === 'binary') yield EMPTY_BINARY_COPY;
    }, copy);
  } catch (error) {
    const fields = serverFields(error);
    throw new PloaderError('INVALID_OPTION', `PostgreSQL rejects these COPY options: ${(error as Error).message}${fields?.hint ? ` (${fields.hint})` : ''}`, {
      server: fields,
      cause: error,
    });
  } finally {
    await client.query('ROLLBACK').catch(() => {});
  }
}
