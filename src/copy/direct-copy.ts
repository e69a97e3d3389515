/**
 * The direct path: no stage, one `COPY target FROM STDIN` over the main session, inside its fence
 * transaction, exactly what one `\copy` does (triggers fire row by row in file order, before the
 * constraints; ids are drawn in file order). Chosen when a stage would change the outcome or cannot be
 * made (plan/strategy.ts); it has no parallelism, and nothing to resume.
 */
import { createReadStream } from 'node:fs';
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
  // The whole input as one range: from the first record (past the header) to the end. A binary file is
  // sent whole, header and trailer included: it is a complete COPY stream already.
  const whole: Chunk | undefined = plan.chunks.length === 0 ? undefined : { ...plan.chunks[0], end: plan.chunks[plan.chunks.length - 1].end };
  const start = options.format === 'binary' ? 0 : (whole?.start ?? 0);
  const end = options.format === 'binary' ? plan.input.identity.size : (whole?.end ?? 0);
  const cancel = () => void sessions.cancelRun(plan.runId);
  throwIfAborted(options.signal);
  options.signal?.addEventListener('abort', cancel, { once: true });
  const copy = client.query(copyFrom(plan.copySql));
  try {
    await pipeline(plan.input.streaming ? streamBatches(plan) : fileRange(options.file, start, end), copy);
  } catch (error) {
    throwIfAborted(options.signal);
    if (!whole || plan.input.streaming) throw fromWire(toWire(error));
    throw fromWire(toWire(await locateCopyError(error, whole, { file: options.file, start, end, syntax: syntaxOf(options), binary: options.format === 'binary' })));
  } finally {
    options.signal?.removeEventListener('abort', cancel);
  }
  return { rows: copy.rowCount ?? 0, bytes: end - start };
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
