/**
 * Checked against the server before anything is written: COPY accepts
 * the options (delimiter, quote, null, encoding, ...) exactly as the workers will send them.
 */
import type pg from 'pg';
import type { TargetFacts } from './catalog.ts';
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { copyFromBuffer } from '../copy/copy-stream.ts';
import { explainLoadFailure, PloaderError, serverFields, type ServerErrorFields } from '../errors.ts';
import { syntaxOf } from '../input/split.ts';
import { scanCopyRecords, type CopyRecord } from '../rows/copy-records.ts';
import { parseCopyContext } from '../rows/line-mapping.ts';
import { mappingHints } from './mapping-hints.ts';
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
 * that is rolled back: the server itself judges the options, and nothing is written. Needs TEMP on
 * the database (ServerFacts.tempAllowed).
 */
export async function checkCopyOptions(client: pg.Client, shape: TableShape, columns: string[], options: ResolvedLoadOptions): Promise<void> {
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

/** What the probe COPYs: the first records, up to this many or this many bytes, whichever comes first. */
export const PROBE_RECORDS = 1000;
export const PROBE_BYTES = 64 * 1024;

/**
 * Before anything is written or any worker starts: COPY the input's first records into a temporary
 * twin of the target (its defaults and constraints, minus the sequences: nothing is drawn) inside a
 * transaction that is rolled back. A mapping mistake (wrong format, delimiter, columns, a header)
 * then fails at once, naming line 1, with hints (mapping-hints.ts), as one COPY would, however large
 * the file. Standard input cannot be read twice: its first batch's errors get the same hints.
 */
/** What the probe loads into: the target's shape, the columns the file feeds, and the sequence-numbered columns left empty. */
export interface ProbeTarget {
  target: TargetFacts;
  columns: string[];
  numbered: readonly string[];
}

export async function probeFirstRecords(client: pg.Client, probe: ProbeTarget, options: ResolvedLoadOptions): Promise<void> {
  const { target, columns, numbered } = probe;
  // With --max-errors bad rows are expected: they are set aside, not a reason to stop.
  if (options.format === 'binary' || options.file === '-' || options.maxErrors > 0) return;
  const sample = await firstRecords(options);
  if (sample.records.length === 0) return;
  const twin = { schema: 'pg_temp', name: target.table.name };
  const copySql = copyFromStdin(twin, columns, options);
  await client.query('BEGIN');
  try {
    await client.query(`CREATE TEMP TABLE ${quoteIdent(twin.name)} (LIKE ${qualified(target.table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED) ON COMMIT DROP`);
    // Rolled back or not, nextval() would advance the target's sequences: those columns stay empty here.
    for (const column of numbered) await client.query(`ALTER TABLE ${quoteIdent(twin.name)} ALTER COLUMN ${quoteIdent(column)} DROP DEFAULT, ALTER COLUMN ${quoteIdent(column)} DROP NOT NULL`);
    await client.query('SAVEPOINT probe');
    const failure = await copyOrFailure(client, copySql, Buffer.concat(sample.records.map((r) => r.bytes)));
    if (!failure) return;
    const at = parseCopyContext(failure.server.where);
    const bad = at ? sample.records.find((r) => r.serverLine === at.line) : undefined;
    if (!at || !bad) return; // not a row's fault: the load itself reports it, classified
    // A line end of another style: the split scan that follows names it, with what to do about it.
    if (bad.stray) return;
    let restLoads: boolean | undefined;
    if (bad.index === 0 && sample.records.length > 1) {
      await client.query('ROLLBACK TO SAVEPOINT probe');
      restLoads = !(await copyOrFailure(client, copySql, Buffer.concat(sample.records.slice(1).map((r) => r.bytes))));
    }
    const hints = mappingHints(bad.bytes.toString('utf8'), { options, columns, firstRecord: bad.index === 0, sqlstate: failure.server.sqlstate, restLoads });
    const error = new PloaderError('SERVER_ERROR', failure.message, {
      server: failure.server,
      position: { file: options.file, line: bad.line, record: bad.index + 1, column: at.column ?? failure.server.column },
    });
    throw withHints(explainLoadFailure(error, options.file), hints);
  } finally {
    await client.query('ROLLBACK').catch(() => {});
  }
}

/** The error with the hints added before its advice. */
export function withHints(error: PloaderError, hints: readonly string[]): PloaderError {
  if (hints.length === 0) return error;
  return new PloaderError(error.code, `${error.message.replace(/ — [^—]*$/, '')} — ${hints.join('; ')} (nothing was loaded)`, { position: error.position, server: error.server, cause: error });
}

async function copyOrFailure(client: pg.Client, sql: string, data: Buffer): Promise<{ message: string; server: ServerErrorFields } | undefined> {
  try {
    await copyFromBuffer(client, sql, data);
    return undefined;
  } catch (error) {
    const server = serverFields(error);
    if (!server) throw error;
    return { message: (error as Error).message, server };
  }
}

/** The data's first records (after the header), with lines and server lines counted from the file's start. */
async function firstRecords(options: ResolvedLoadOptions): Promise<{ records: Array<CopyRecord & { bytes: Buffer }> }> {
  const head = await readHead(options.file, PROBE_BYTES + HEADER_ALLOWANCE_BYTES);
  const all = scanCopyRecords(head.data, syntaxOf(options));
  // The last record may be cut off by the read, unless the read reached the end of the input.
  const complete = head.whole ? all : all.slice(0, -1);
  const data = options.header ? complete.slice(1) : complete;
  const records: Array<CopyRecord & { bytes: Buffer }> = [];
  let bytes = 0;
  const base = data[0];
  for (const record of data) {
    bytes += record.end - record.start;
    if (records.length >= PROBE_RECORDS || (bytes > PROBE_BYTES && records.length > 0)) break;
    // Renumbered as a COPY stream of its own that starts at the first data record.
    // Its first record counts by the "line end not known yet" rule (copy-records.ts).
    records.push({ ...record, index: record.index - base.index, serverLine: record.serverLine - base.serverLine + 1 + base.quotedCR, bytes: head.data.subarray(record.start, record.end) });
  }
  return { records };
}

/** Room for a header line before the probe's 64 kB. */
const HEADER_ALLOWANCE_BYTES = 64 * 1024;

/** The first `bytes` of the input (decompressed for .gz); `whole` when that is all of it. */
async function readHead(file: string, bytes: number): Promise<{ data: Buffer; whole: boolean }> {
  const parts: Buffer[] = [];
  let length = 0;
  const stream = file.toLowerCase().endsWith('.gz') ? createReadStream(file).pipe(createGunzip()) : createReadStream(file, { end: bytes });
  try {
    for await (const part of stream as AsyncIterable<Buffer>) {
      parts.push(part);
      length += part.length;
      if (length > bytes) return { data: Buffer.concat(parts).subarray(0, bytes), whole: false };
    }
  } finally {
    stream.destroy();
  }
  return { data: Buffer.concat(parts), whole: true };
}
