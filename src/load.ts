/**
 * The orchestrator: options → plan → stage → copy → rows → finalize → publish → report, each phase a
 * function of the plan. The first failure cancels the rest and drops the stage: the target is left as it was.
 */
import type pg from 'pg';
import { copyInput } from './copy/copy-pool.ts';
import { connect } from './db/connection.ts';
import { cancelledError, PloaderError } from './errors.ts';
import { finalizeStage } from './finalize/finalize.ts';
import { publish } from './finalize/publish.ts';
import { checkInputUnchanged } from './input/input-file.ts';
import { resolveLoadOptions, type LoadOptions } from './options.ts';
import { inspectInput, planLoad, type LoadPlan } from './plan/load-plan.ts';
import { PhaseClock } from './report/phase-clock.ts';
import { dryRunReport, loadReport, nothingToLoadReport, type LoadReport } from './report/report.ts';
import { resolveRows } from './rows/resolve-rows.ts';
import { reserveIdsInOrder } from './rows/serial-ids.ts';
import { removeSpools, writeRejects } from './rows/rejects.ts';
import { spoolDirectory } from './rows/reject-spool.ts';
import { abandonRun, prepareStage } from './stage/prepare-stage.ts';
import { dropRun } from './stage/run-ledger.ts';

export async function load(input: LoadOptions): Promise<LoadReport> {
  const options = resolveLoadOptions(input);
  const clock = new PhaseClock();
  const inputFacts = await inspectInput(options);
  throwIfAborted(options.signal);
  const client = await connect(options.db, 'plan');
  try {
    const planned = await planLoad(client, options, inputFacts, clock);
    if (options.dryRun) return dryRunReport(planned, clock);
    if (planned.chunks.length === 0 && !planned.input.streaming) return nothingToLoadReport(planned, clock);
    const plan = await reserveIdsInOrder(client, planned);
    await prepareStage(client, plan);
    try {
      return await loadThroughStage(client, plan, clock);
    } catch (error) {
      await abandonRun(client, plan);
      // A lost server keeps the stage for --resume, and with it the rejects of its committed chunks.
      if (!(error instanceof PloaderError && error.code === 'CONNECTION_LOST')) await removeSpools(spoolDirectory(options.rejectFile, plan.runId));
      throw error;
    }
  } finally {
    await client.end().catch(() => {});
  }
}

async function loadThroughStage(client: pg.Client, plan: LoadPlan, clock: PhaseClock): Promise<LoadReport> {
  const { options } = plan;
  const copied = await clock.time('load', () => copyInput(client, plan));
  // A stream's size and batches are known only now.
  const streamed = plan.input.streaming ? { chunks: copied.chunks, bytes: copied.bytes } : {};
  if (plan.input.streaming && copied.rows === 0 && copied.rejected === 0) {
    await dropRun(client, plan);
    return nothingToLoadReport(plan, clock, streamed);
  }
  const rows = await clock.time('load', () => resolveRows(client, plan, copied));
  if (!plan.input.streaming) await checkInputUnchanged(options.file, plan.input.identity);
  throwIfAborted(options.signal);

  const finalized = await finalizeStage(options, plan.steps, plan.runId);
  clock.phases.durable = finalized.durable;
  clock.phases.indexes = finalized.indexes;
  throwIfAborted(options.signal);

  options.onProgress({ kind: 'phase', phase: 'publish', detail: plan.strategy.publish });
  const published = await clock.time('publish', () => publish(client, plan, rows.rows));
  if (published.note) plan.warnings.push(published.note);
  if (published.rows !== rows.rows) plan.warnings.push(`workers copied ${rows.rows} rows but ${published.rows} were published`);
  if (rows.rejected > 0) {
    await writeRejects(spoolDirectory(options.rejectFile, plan.runId), plan.input.streaming ? copied.chunks : plan.chunks.length, options.rejectFile);
    plan.warnings.push(`${rows.rejected} bad rows were set aside in ${options.rejectFile} (why: ${options.rejectFile}.log)`);
  }
  await removeSpools(spoolDirectory(options.rejectFile, plan.runId));
  return loadReport(plan, clock, { rows: published.rows, rejected: rows.rejected, ...streamed });
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw cancelledError();
}
