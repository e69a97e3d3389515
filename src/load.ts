/**
 * The orchestrator: options → plan → stage → copy → rows → finalize → publish → report, each phase a
 * function of the plan. The first failure cancels the rest and drops the stage: the target is left as it was.
 */
import type pg from 'pg';
import { copyInput } from './copy/copy-pool.ts';
import { connect } from './db/connection.ts';
import { cancelledError } from './errors.ts';
import { finalizeStage } from './finalize/finalize.ts';
import { publish } from './finalize/publish.ts';
import { checkInputUnchanged } from './input/input-file.ts';
import { resolveLoadOptions, type LoadOptions } from './options.ts';
import { inspectInput, planLoad, type LoadPlan } from './plan/load-plan.ts';
import { PhaseClock } from './report/phase-clock.ts';
import { dryRunReport, loadReport, nothingToLoadReport, type LoadReport } from './report/report.ts';
import { resolveRows } from './rows/resolve-rows.ts';
import { writeRejects } from './rows/rejects.ts';
import { abandonRun, prepareStage } from './stage/prepare-stage.ts';
import { dropRun } from './stage/run-ledger.ts';

export async function load(input: LoadOptions): Promise<LoadReport> {
  const options = resolveLoadOptions(input);
  const clock = new PhaseClock();
  const inputFacts = await inspectInput(options);
  throwIfAborted(options.signal);
  const client = await connect(options.db, 'plan');
  try {
    const plan = await planLoad(client, options, inputFacts, clock);
    if (options.dryRun) return dryRunReport(plan, clock);
    if (plan.chunks.length === 0 && !plan.input.streaming) return nothingToLoadReport(plan, clock);
    await prepareStage(client, plan);
    try {
      return await loadThroughStage(client, plan, clock);
    } catch (error) {
      await abandonRun(client, plan);
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
  const streamed = plan.input.streaming ? { chunks: copied.recordsPerChunk.size, bytes: copied.bytes } : {};
  if (plan.input.streaming && copied.rows === 0 && copied.rejects.length === 0) {
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
  if (rows.rejects.length > 0) {
    await writeRejects(options.file, options.rejectFile, rows.rejects);
    plan.warnings.push(`${rows.rejects.length} bad rows were set aside in ${options.rejectFile} (why: ${options.rejectFile}.log)`);
  }
  return loadReport(plan, clock, { rows: published.rows, rejected: rows.rejects.length, ...streamed });
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw cancelledError();
}
