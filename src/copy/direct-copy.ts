/**
 * The direct path: no stage, one `COPY target FROM STDIN` over the main session, inside its fence
 * transaction, exactly what one `\copy` does (triggers fire row by row in file order, before the
 * constraints; ids are drawn in file order). Chosen when a stage would change the outcome or cannot be
 * made (plan/strategy.ts); it has no parallelism, and nothing to resume.
 */
import { createReadStream } from 'node:fs';
import type pg from 'pg';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import { qualified } from '../db/sql.ts';
import { fromWire, throwIfAborted, toWire } from '../errors.ts';
import { syntaxOf } from '../input/split.ts';
import { openInputStream, recordBatches, streamBatching } from '../input/stream-batches.ts';
import type { Chunk } from '../plan/chunks.ts';
import type { LoadPlan } from '../plan/load-plan.ts';
import { locateCopyError } from '../rows/line-mapping.ts';
import type { RunSessions } from '../stage/run-sessions.ts';
import { lockTables } from '../db/lock-wait.ts';

/** Read-ahead of the file while it is sent. */
const READ_BLOCK_BYTES = 1 << 20;

export interface DirectOutcome {
  rows: number;
  bytes: number;
}

export async function copyDirect(sessions: RunSessions, plan: LoadPlan): Promise<DirectOutcome> {
  const { options, target } = plan;
  const client = sessions.main;
  options.onProgress({ kind: 'phase', phase: 'load', detail: 'one COPY straight into the target' });
  if (plan.strategy.truncate) {
    await lockTables(client, sessions.admin, { tables: [qualified(target.table)], mode: 'ACCESS EXCLUSIVE', waitMs: options.lockWaitMs, signal: options.signal, onWait: () => {} });
    await client.query(`TRUNCATE ${qualified(target.table)}`);
  }
  const cancel = () => void sessions.cancelRun(plan.runId);
  throwIfAborted(options.signal);
  options.signal?.addEventListener('abort', cancel, { once: true });
  try {
    if (plan.input.streaming) return await copyOnce(client, plan, { source: streamBatches(plan), whole: undefined });
    // Several files: one COPY of each in turn, as `\copy` of each would be run, in the one transaction.
    const outcome: DirectOutcome = { rows: 0, bytes: 0 };
    for (const { file, identity } of plan.input.files) {
      const range = wholeFile(plan, file, identity.size);
      if (!range) continue;
      const copied = await copyOnce(client, plan, { source: fileRange(file, range.start, range.end), whole: range });
      outcome.rows += copied.rows;
      outcome.bytes += copied.bytes;
    }
    return outcome;
  } finally {
    options.signal?.removeEventListener('abort', cancel);
  }
}

/**
 * A file as one range: from its first record (past the header) to its end. A binary file is sent
 * whole, header and trailer included: it is a complete COPY stream already. Undefined: no records.
 */
function wholeFile(plan: LoadPlan, file: string, size: number): Chunk | undefined {
  const own = plan.chunks.filter((c) => c.file === file);
  if (own.length === 0) return undefined;
  const whole = { ...own[0], end: own[own.length - 1].end };
  return plan.options.format === 'binary' ? { ...whole, start: 0, end: size } : whole;
}

/** One COPY into the target; an error names the input line of the record it is about. */
async function copyOnce(client: pg.Client, plan: LoadPlan, input: { source: AsyncIterable<Buffer>; whole: Chunk | undefined }): Promise<DirectOutcome> {
  const { options } = plan;
  const { whole } = input;
  const copy = client.query(copyFrom(plan.copySql));
  try {
    await pipeline(input.source, copy);
  } catch (error) {
    throwIfAborted(options.signal);
    if (!whole) throw fromWire(toWire(error));
    throw fromWire(toWire(await locateCopyError(error, whole, { file: whole.file, start: whole.start, end: whole.end, syntax: syntaxOf(options), binary: options.format === 'binary' })));
  }
  return { rows: copy.rowCount ?? 0, bytes: whole ? whole.end - whole.start : 0 };
}

async function* fileRange(file: string, start: number, end: number): AsyncGenerator<Buffer> {
  if (end > start) yield* createReadStream(file, { start, end: end - 1, highWaterMark: READ_BLOCK_BYTES });
}

/** A stream, header skipped, cut into record-aligned batches only to drop the header: sent as it comes. */
async function* streamBatches(plan: LoadPlan): AsyncGenerator<Buffer> {
  for await (const batch of recordBatches(plan.input.stream ?? openInputStream(plan.options.file), streamBatching(plan))) {
    if (batch.data) yield batch.data;
  }
}
