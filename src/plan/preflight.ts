/**
 * Checks made against the server before anything is written: the columns exist, and COPY accepts
 * the options (delimiter, quote, null, encoding, ...) exactly as the workers will send them.
 */
import type pg from 'pg';
import type { TargetFacts } from './catalog.ts';
import { PloaderError, serverFields } from '../errors.ts';
import type { ResolvedLoadOptions } from '../options.ts';
import { copyFromStdin, quoteIdent, qualified } from '../db/sql.ts';
import { from as copyFrom } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { BINARY_SIGNATURE, BINARY_TRAILER } from '../input/scan/binary-tuples.ts';

/** A valid binary COPY stream with no tuples: signature, flags 0, no header extension, trailer. */
const EMPTY_BINARY_COPY = Buffer.concat([BINARY_SIGNATURE, Buffer.alloc(8), BINARY_TRAILER]);

/** The columns the file holds: as given, or COPY's default (every column but the generated ones). */
export function resolveColumns(target: TargetFacts, options: Pick<ResolvedLoadOptions, 'columns'>): string[] {
  const all = target.columns.filter((c) => c.generated === '').map((c) => c.name);
  if (options.columns === undefined) return all;
  for (const column of options.columns) {
    const found = target.columns.find((c) => c.name === column);
    if (!found) {
      throw new PloaderError(
        'TARGET_INVALID',
        `column ${quoteIdent(column)} does not exist in ${qualified(target.table)} — its columns are ${all.map(quoteIdent).join(', ')}`,
      );
    }
    if (found.generated !== '') {
      throw new PloaderError('TARGET_INVALID', `column ${quoteIdent(column)} of ${qualified(target.table)} is generated and cannot be loaded — leave it out of --columns`);
    }
  }
  return options.columns;
}

/**
 * Runs the workers' COPY, with no data, into a temporary twin of the target inside a transaction
 * that is rolled back: the server itself judges the options, and nothing is written.
 */
export async function checkCopyOptions(client: pg.Client, target: TargetFacts, columns: string[], options: ResolvedLoadOptions): Promise<void> {
  // One COPY needs no TEMP privilege: without it there is no twin, and the first chunk's COPY judges
  // the options instead (before any row is in, so nothing is loaded either way).
  const { rows: [{ temp }] } = await client.query<{ temp: boolean }>("SELECT has_database_privilege(current_database(), 'TEMP') AS temp");
  if (!temp) return;
  const probe = { schema: 'pg_temp', name: 'ploader_copy_check' };
  await client.query('BEGIN');
  try {
    await client.query(`CREATE TEMP TABLE ${quoteIdent(probe.name)} (LIKE ${qualified(target.table)}) ON COMMIT DROP`);
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
