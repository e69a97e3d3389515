/**
 * After every chunk is in the stage: make it durable, then build the target's indexes (and check its
 * outgoing foreign keys) on the stage in parallel sessions, in the order and with the sort memory and
 * parallel workers index-schedule.ts chooses from the facts build-facts.ts reads. Publishing is
 * publish.ts's job.
 */
import { availableParallelism } from 'node:os';
import type pg from 'pg';
import { sessionRole } from '../copy/run-identity.ts';
import type { TargetFacts } from '../plan/catalog.ts';
import { connect } from '../db/connection.ts';
import { PloaderError, serverFields } from '../errors.ts';
import { parseByteSize, type ResolvedLoadOptions } from '../options.ts';
import { SQLSTATE } from '../db/sqlstate.ts';
import type { Strategy } from '../plan/strategy.ts';
import { qualified, quoteIdent, type QualifiedName } from '../db/sql.ts';
import { describeBuildSettings } from '../report/report.ts';
import { stageIndexName, stageIndexSql } from '../stage/stage.ts';
import type { FinalizeStep, FinalizeSteps, IndexBuildReport } from './finalize-steps.ts';
import { buildKeys, estimateRowsFromFile, readIndexKeys, readServerLimits, sampleStage, type IndexKeyFacts } from './build-facts.ts';
import { scheduleIndexBuilds, type IndexSchedule } from './index-schedule.ts';

export type { FinalizeStep, FinalizeSteps, IndexBuildReport } from './finalize-steps.ts';

/** What the finalizer's steps are made from: the plan's parts, and the foreign keys to check on the stage. */
export interface FinalizeInput {
  strategy: Strategy;
  target: TargetFacts;
  stage: QualifiedName;
  runId: string;
}

export function finalizeSteps(
  { strategy, target, stage, runId }: FinalizeInput,
  outgoingForeignKeys: ReadonlyArray<{ name: string; definition: string }>,
): FinalizeSteps {
  if (strategy.publish !== 'swap') return { stage, targetOid: target.oid, durable: [], indexes: [], foreignKeys: [] };
  return {
    stage,
    targetOid: target.oid,
    durable: strategy.setLoggedBeforeIndexes ? [{ label: 'SET LOGGED', sql: `ALTER TABLE ${qualified(stage)} SET LOGGED` }] : [],
    indexes: target.indexes
      .filter((index) => index.constraintType !== 'x') // exclusion constraints are added at publish
      .map((index, position) => ({
        label: `index ${index.name}`,
        sql: stageIndexSql(index, stage, stageIndexName(runId, position)),
        index: index.name,
      })),
    foreignKeys: outgoingForeignKeys.map((fk) => ({
      label: `foreign key ${fk.name}`,
      sql: `ALTER TABLE ${qualified(stage)} ADD CONSTRAINT ${quoteIdent(fk.name)} ${fk.definition}`,
    })),
  };
}

/** Foreign keys from the target to other tables (self-references are re-created at publish). */
export async function readOutgoingForeignKeys(client: pg.Client, targetOid: number): Promise<Array<{ name: string; definition: string }>> {
  const { rows } = await client.query<{ name: string; definition: string }>(
    `SELECT conname AS name, pg_get_constraintdef(oid) AS definition FROM pg_constraint
      WHERE conrelid = $1 AND contype = 'f' AND confrelid <> $1 ORDER BY conname`,
    [targetOid],
  );
  return rows;
}

function stepError(step: FinalizeStep, error: unknown): PloaderError {
  const server = serverFields(error);
  const duplicate = server?.sqlstate === SQLSTATE.UNIQUE_VIOLATION;
  return new PloaderError(
    duplicate ? 'DUPLICATE_KEY' : 'SERVER_ERROR',
    `${step.label} failed, nothing was loaded: ${(error as Error).message}${server?.sqlstate ? ` (SQLSTATE ${server.sqlstate})` : ''}${server?.detail ? `; ${server.detail}` : ''}${duplicate ? ' — remove the duplicates from the file' : ''}`,
    { server, cause: error },
  );
}

export interface SessionSettings {
  maintenanceWorkMem: string;
  maxParallelMaintenanceWorkers: number;
}

export interface ScheduledStep extends FinalizeStep {
  /** Set in the step's session before it runs; the server's own settings when absent. */
  settings?: SessionSettings;
}

export interface SessionRun {
  db: string | undefined;
  role: string;
  sessions: number;
  onStep: (step: ScheduledStep, position: number) => void;
}

/**
 * Runs independent steps over `run.sessions` connections in the order given, each step in its own
 * transaction, the next step starting as soon as a session is free, with its own sort memory and
 * parallel workers set in its session first. Returns each step's wall ms.
 */
export async function runInParallelSessions(run: SessionRun, steps: readonly ScheduledStep[]): Promise<Map<string, number>> {
  const queue = [...steps];
  const timings = new Map<string, number>();
  let begun = 0;
  let failed = false;
  const session = async (): Promise<void> => {
    const client = await connect(run.db, run.role);
    try {
      for (let step = queue.shift(); step !== undefined && !failed; step = queue.shift()) {
        const started = performance.now();
        run.onStep(step, begun++);
        if (step.settings) {
          await client.query(`SET maintenance_work_mem = '${step.settings.maintenanceWorkMem}'`);
          await client.query(`SET max_parallel_maintenance_workers = ${step.settings.maxParallelMaintenanceWorkers}`);
        }
        await client.query(step.sql).catch((error: unknown) => {
          throw stepError(step, error);
        });
        timings.set(step.label, performance.now() - started);
      }
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      await client.end().catch(() => {});
    }
  };
  if (steps.length === 0) return timings;
  const count = Math.max(1, Math.min(run.sessions, steps.length));
  const results = await Promise.allSettled(Array.from({ length: count }, session));
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
  return timings;
}

/**
 * The cores the builds share: this host's, or more when --workers says the server runs that many
 * sessions at once (the server's own core count cannot be read over SQL).
 */
function buildCores(options: ResolvedLoadOptions): number {
  return Math.max(options.workers, availableParallelism());
}

/** Facts → schedule; `rows` and key widths from the stage's sample, or (dry run) estimated. */
function planSchedule(
  options: ResolvedLoadOptions,
  steps: FinalizeSteps,
  facts: { keys: IndexKeyFacts[]; limits: Awaited<ReturnType<typeof readServerLimits>>; rows: number; widths: ReadonlyMap<string, number> },
): { schedule: IndexSchedule; ordered: ScheduledStep[] } {
  const byName = new Map(facts.keys.map((k) => [k.index, k]));
  const builds = steps.indexes.map((step) => {
    const keyFacts = step.index === undefined ? undefined : byName.get(step.index);
    return { label: step.label, keys: keyFacts ? buildKeys(keyFacts, facts.widths) : [{ kind: 'other' as const, widthBytes: 16 }] };
  });
  const schedule = scheduleIndexBuilds({
    builds,
    rows: facts.rows,
    cores: buildCores(options),
    server: facts.limits,
    memoryOverrideBytes: options.indexMemory === undefined ? undefined : parseByteSize('index-memory', options.indexMemory),
  });
  const stepByLabel = new Map(steps.indexes.map((step) => [step.label, step]));
  const ordered = schedule.builds.map((b) => ({
    ...stepByLabel.get(b.label)!,
    settings: { maintenanceWorkMem: `${Math.max(1, Math.round(b.maintenanceWorkMemBytes / 1024))}kB`, maxParallelMaintenanceWorkers: b.parallelWorkers },
  }));
  return { schedule, ordered };
}

async function readScheduleFacts(client: pg.Client, steps: FinalizeSteps, rowsAndWidths: (columns: string[]) => Promise<{ rows: number; widths: Map<string, number> }>) {
  const keys = await readIndexKeys(client, steps.targetOid);
  const limits = await readServerLimits(client);
  const columns = [...new Set(keys.flatMap((k) => k.keys.map((key) => key.column).filter((c): c is string => c !== null)))];
  return { keys, limits, ...(await rowsAndWidths(columns)) };
}

function buildReports(schedule: IndexSchedule, timings?: ReadonlyMap<string, number>): IndexBuildReport[] {
  return schedule.builds.map((b) => ({
    label: b.label,
    order: b.order + 1,
    maintenanceWorkMem: formatMemory(b.maintenanceWorkMemBytes),
    parallelWorkers: b.parallelWorkers,
    estimatedCpuS: Math.round(b.estimatedCpuS * 100) / 100,
    ms: timings?.get(b.label),
  }));
}

function formatMemory(bytes: number): string {
  return bytes >= 1 << 20 ? `${Math.round(bytes / (1 << 20))}MB` : `${Math.round(bytes / 1024)}kB`;
}

/** --dry-run: the schedule the load would start with, rows estimated from the input file. */
export async function planIndexBuilds(client: pg.Client, options: ResolvedLoadOptions, steps: FinalizeSteps, fileBytes: number): Promise<IndexBuildReport[]> {
  if (steps.indexes.length === 0) return [];
  const rows = options.file === '-' ? 0 : await estimateRowsFromFile(options.file, fileBytes);
  const facts = await readScheduleFacts(client, steps, async () => ({ rows, widths: new Map() }));
  return buildReports(planSchedule(options, steps, facts).schedule);
}

/** Durable first, then the index builds and foreign-key checks in parallel sessions; returns each phase's ms and the builds as run. */
export async function finalizeStage(
  options: ResolvedLoadOptions,
  steps: FinalizeSteps,
  runId: string,
): Promise<{ durable: number; indexes: number; indexBuilds: IndexBuildReport[] }> {
  const role = sessionRole(runId, 'finalize');
  let started = performance.now();
  if (steps.durable.length > 0) options.onProgress({ kind: 'phase', phase: 'durable', detail: steps.durable.map((s) => s.label).join(', ') });
  await runInParallelSessions({ db: options.db, role, sessions: 1, onStep: () => {} }, steps.durable);
  const durable = performance.now() - started;
  started = performance.now();
  const total = steps.indexes.length + steps.foreignKeys.length;
  let plan: ReturnType<typeof planSchedule> | undefined;
  if (steps.indexes.length > 0) {
    const client = await connect(options.db, role);
    try {
      plan = planSchedule(options, steps, await readScheduleFacts(client, steps, (columns) => sampleStage(client, steps.stage, columns)));
    } finally {
      await client.end().catch(() => {});
    }
  }
  const reports = plan ? buildReports(plan.schedule) : [];
  const onStep = (step: ScheduledStep, done: number) => {
    const scheduled = reports.find((r) => r.label === step.label);
    options.onProgress({ kind: 'phase', phase: 'indexes', detail: `${step.label} (${done + 1}/${total}${scheduled ? `: ${describeBuildSettings(scheduled)}` : ''})` });
  };
  const timings = await runInParallelSessions({ db: options.db, role, sessions: plan?.schedule.sessions ?? 1, onStep }, plan?.ordered ?? []);
  await runInParallelSessions({ db: options.db, role, sessions: options.workers, onStep }, steps.foreignKeys);
  return { durable, indexes: performance.now() - started, indexBuilds: plan ? buildReports(plan.schedule, timings) : [] };
}
