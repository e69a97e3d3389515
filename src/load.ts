/**
 * The orchestrator: options → plan → stage → copy → rows → finalize → publish → report, each phase a
 * function of the plan. The first failure cancels the rest and drops the stage: the target is left as
 * it was. Two sessions live as long as the run (stage/run-sessions.ts): the main one holds the run's
 * lock and the DDL fence and publishes; the admin one does the rest.
 */
import { copyInput } from './copy/copy-pool.ts';
import { copyDirect } from './copy/direct-copy.ts';
import { PloaderError, abortReason, cancelledError, throwIfAborted } from './errors.ts';
import { finalizeStage, planIndexBuilds } from './finalize/finalize.ts';
import { publish } from './finalize/publish.ts';
import { checkFilesUnchanged } from './input/input-files.ts';
import { resolveLoadOptions, type LoadOptions, type ResolvedLoadOptions } from './options.ts';
import { inspectInput, planLoad, type LoadPlan } from './plan/load-plan.ts';
import { PhaseClock } from './report/phase-clock.ts';
import { dryRunReport, loadReport, nothingToLoadReport } from './report/build-report.ts';
import type { LoadReport } from './report/report.ts';
import { resolveRows } from './rows/resolve-rows.ts';
import { reserveIdsInOrder } from './rows/serial-ids.ts';
import { removeSpools, writeRejects } from './rows/rejects.ts';
import { spoolDirectory } from './rows/reject-spool.ts';
import { abandonRun, prepareStage } from './stage/prepare-stage.ts';
import { dropRun } from './stage/run-ledger.ts';
import { RunSessions } from './stage/run-sessions.ts';

export async function load(input: LoadOptions): Promise<LoadReport> {
  const resolved = resolveLoadOptions(input);
  const clock = new PhaseClock();
  const inputFacts = await inspectInput(resolved);
  throwIfAborted(resolved.signal);
  // The run's own signal: the caller's cancel, or the loss of the main session, stops every phase.
  const run = new AbortController();
  const onCancel = () => run.abort(cancelledError());
  resolved.signal?.addEventListener('abort', onCancel, { once: true });
  const options: ResolvedLoadOptions = { ...resolved, signal: run.signal };
  const sessions = await RunSessions.open(options, (lost) => run.abort(lost)).catch(async (error: unknown) => {
    await inputFacts.stream?.close();
    throw error;
  });
  try {
    const planned = await planLoad(sessions, options, inputFacts, clock);
    if (options.dryRun) return dryRunReport(planned, clock, await planIndexBuilds(sessions.admin, options, planned.steps, planned.input.bytes));
    if (planned.chunks.length === 0 && !planned.input.streaming) return nothingToLoadReport(planned, clock);
    if (planned.strategy.publish === 'direct') return await loadDirect(sessions, planned, clock);
    const plan = await reserveIdsInOrder(sessions.admin, planned);
    await prepareStage(sessions.admin, plan);
    // From here on a cancel stops whatever runs server-side at once: COPYs, index builds, the publish.
    const cancelRun = () => void sessions.cancelRun(plan.runId);
    run.signal.addEventListener('abort', cancelRun, { once: true });
    try {
      return await loadThroughStage(sessions, plan, clock);
    } catch (error) {
      await sessions.cancelRun(plan.runId);
      // A lost main session or a publish that could not get its lock leave the staged rows for --resume,
      // and with them the rejects of its committed chunks (so does a lost server: the drop fails).
      const keep = sessions.lost || isKeptForResume(error);
      if (!keep) await abandonRun(sessions.admin, plan);
      if (!(keep || isConnectionLost(error))) await removeSpools(spoolDirectory(options.rejectFile, plan.runId));
      // A statement cancelled because the run was cancelled reports the cancel, not itself.
      throw run.signal.aborted ? abortReason(run.signal) : error;
    } finally {
      run.signal.removeEventListener('abort', cancelRun);
    }
  } finally {
    resolved.signal?.removeEventListener('abort', onCancel);
    await sessions.close();
    // A stream read only as far as its head (a failed or dry run) is let go of.
    await inputFacts.stream?.close();
  }
}

async function loadThroughStage(sessions: RunSessions, plan: LoadPlan, clock: PhaseClock): Promise<LoadReport> {
  const { options } = plan;
  sessions.startHeartbeat();
  const copied = await clock.time('load', () => copyInput(sessions.admin, plan));
  // A stream's size and batches are known only now.
  const streamed = plan.input.streaming ? { chunks: copied.chunks, bytes: copied.bytes } : {};
  if (plan.input.streaming && copied.rows === 0 && copied.rejected === 0) {
    await dropRun(sessions.admin, plan);
    return nothingToLoadReport(plan, clock, streamed);
  }
  const rows = await clock.time('load', () => resolveRows(sessions.admin, plan, copied));
  if (!plan.input.streaming) await checkFilesUnchanged(plan.input.files);
  throwIfAborted(options.signal);

  const finalized = await finalizeStage(options, plan.steps, plan.runId);
  plan.indexBuilds = finalized.indexBuilds;
  clock.phases.durable = finalized.durable;
  clock.phases.indexes = finalized.indexes;
  sessions.stopHeartbeat();
  throwIfAborted(options.signal);

  options.onProgress({ kind: 'phase', phase: 'publish', detail: plan.strategy.publish });
  const published = await clock.time('publish', () => publish(sessions, plan, rows.rows));
  if (published.note) plan.warnings.push(published.note);
  if (published.rows !== rows.rows) plan.warnings.push(`workers copied ${rows.rows} rows but ${published.rows} were published`);
  if (rows.rejected > 0) {
    await writeRejects(spoolDirectory(options.rejectFile, plan.runId), plan.input.streaming ? copied.chunks : plan.chunks.length, options.rejectFile);
    plan.warnings.push(`${rows.rejected} bad rows were set aside in ${options.rejectFile} (why: ${options.rejectFile}.log)`);
  }
  await removeSpools(spoolDirectory(options.rejectFile, plan.runId));
  return loadReport(plan, clock, { rows: published.rows, rejected: rows.rejected, published: published.method, ...streamed });
}

/** One COPY straight into the target, committed with the fence: what one `\copy` would do. */
async function loadDirect(sessions: RunSessions, plan: LoadPlan, clock: PhaseClock): Promise<LoadReport> {
  const copied = await clock.time('load', () => copyDirect(sessions, plan));
  if (!plan.input.streaming) await checkFilesUnchanged(plan.input.files);
  throwIfAborted(plan.options.signal);
  await clock.time('publish', () => sessions.commit());
  return loadReport(plan, clock, { rows: copied.rows, rejected: 0, published: 'direct', ...(plan.input.streaming ? { bytes: copied.bytes } : {}) });
}

/** A publish that could not get its lock, or a chunk session that stopped: the stage is kept for --resume. */
function isKeptForResume(error: unknown): boolean {
  return error instanceof PloaderError && (error.code === 'LOCK_TIMEOUT' || error.code === 'STALLED');
}

function isConnectionLost(error: unknown): boolean {
  return error instanceof PloaderError && error.code === 'CONNECTION_LOST';
}
