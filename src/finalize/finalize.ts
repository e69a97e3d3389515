/**
 * After every chunk is in the stage: make it durable, then build the target's indexes (and check its
 * outgoing foreign keys) on the stage in parallel sessions. Publishing is publish.ts's job.
 */
import { availableParallelism } from 'node:os';
import type pg from 'pg';
import { sessionRole } from '../copy/run-identity.ts';
import type { TargetFacts } from '../plan/catalog.ts';
import { connect } from '../db/connection.ts';
import { PloaderError, serverFields } from '../errors.ts';
import type { ResolvedLoadOptions } from '../options.ts';
import { SQLSTATE } from '../db/sqlstate.ts';
import type { Strategy } from '../plan/strategy.ts';
import { qualified, quoteIdent, type QualifiedName } from '../db/sql.ts';
import { stageIndexName, stageIndexSql } from '../stage/stage.ts';
import type { FinalizeStep, FinalizeSteps } from './finalize-steps.ts';

export type { FinalizeStep, FinalizeSteps } from './finalize-steps.ts';

export function finalizeSteps(
  strategy: Strategy,
  target: TargetFacts,
  stage: QualifiedName,
  runId: string,
  outgoingForeignKeys: ReadonlyArray<{ name: string; definition: string }>,
): FinalizeSteps {
  if (strategy.publish !== 'swap') return { durable: [], indexes: [], foreignKeys: [] };
  return {
    durable: strategy.setLoggedBeforeIndexes ? [{ label: 'SET LOGGED', sql: `ALTER TABLE ${qualified(stage)} SET LOGGED` }] : [],
    indexes: target.indexes
      .filter((index) => index.constraintType !== 'x') // exclusion constraints are added at publish
      .map((index, position) => ({
        label: `index ${index.name}`,
        sql: stageIndexSql(index, stage, stageIndexName(runId, position)),
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

/**
 * Runs independent steps over `sessions` connections, each step in its own transaction, the next step
 * starting as soon as a session is free. Per-session sort memory and parallel workers are set here:
 * with several builds at once on few cores, small sorts and no extra workers per build measured
 * fastest (README "Benchmarks").
 */
export async function runInParallelSessions(
  db: string | undefined,
  role: string,
  steps: readonly FinalizeStep[],
  sessions: number,
  settings: SessionSettings,
  onStep: (step: FinalizeStep, position: number) => void,
): Promise<Array<{ label: string; ms: number }>> {
  const queue = [...steps];
  const timings: Array<{ label: string; ms: number }> = [];
  let begun = 0;
  let failed = false;
  const session = async (): Promise<void> => {
    const client = await connect(db, role);
    try {
      await client.query(`SET maintenance_work_mem = '${settings.maintenanceWorkMem}'`);
      await client.query(`SET max_parallel_maintenance_workers = ${settings.maxParallelMaintenanceWorkers}`);
      for (let step = queue.shift(); step !== undefined && !failed; step = queue.shift()) {
        const started = performance.now();
        onStep(step, begun++);
        await client.query(step.sql).catch((error: unknown) => {
          throw stepError(step, error);
        });
        timings.push({ label: step.label, ms: performance.now() - started });
      }
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      await client.end().catch(() => {});
    }
  };
  const count = Math.max(1, Math.min(sessions, steps.length));
  if (steps.length === 0) return timings;
  const results = await Promise.allSettled(Array.from({ length: count }, session));
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
  return timings;
}

/** Durable first, then the index builds and foreign-key checks in parallel sessions; returns each phase's ms. */
export async function finalizeStage(options: ResolvedLoadOptions, steps: FinalizeSteps, runId: string): Promise<{ durable: number; indexes: number }> {
  const settings = { maintenanceWorkMem: options.indexMemory, maxParallelMaintenanceWorkers: 0 };
  const role = sessionRole(runId, 'finalize');
  let started = performance.now();
  if (steps.durable.length > 0) options.onProgress({ kind: 'phase', phase: 'durable', detail: steps.durable.map((s) => s.label).join(', ') });
  await runInParallelSessions(options.db, role, steps.durable, 1, settings, () => {});
  const durable = performance.now() - started;
  started = performance.now();
  const total = steps.indexes.length + steps.foreignKeys.length;
  const report = (step: { label: string }, done: number) => options.onProgress({ kind: 'phase', phase: 'indexes', detail: `${step.label} (${done + 1}/${total})` });
  // One session per index, at most one more than the cores: the builds are CPU-bound sorts, and on 2
  // cores 3 sessions measured 7.9 s, 2 sessions 8.6 s, 1 session 14.0 s (PK + 2 indexes, 7.5M rows).
  await runInParallelSessions(options.db, role, steps.indexes, Math.max(options.workers, availableParallelism()) + 1, settings, report);
  await runInParallelSessions(options.db, role, steps.foreignKeys, options.workers, settings, report);
  return { durable, indexes: performance.now() - started };
}
