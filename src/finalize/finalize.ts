/**
 * After every chunk is in the stage: make it durable, then build the target's indexes (and check its
 * outgoing foreign keys) on the stage in parallel sessions. Publishing is publish.ts's job.
 */
import type pg from 'pg';
import type { TargetFacts } from '../plan/catalog.ts';
import { connect } from '../db/connection.ts';
import { PloaderError, serverFields } from '../errors.ts';
import { SQLSTATE } from '../db/sqlstate.ts';
import type { Strategy } from '../plan/plan.ts';
import { qualified, quoteIdent, type QualifiedName } from '../db/sql.ts';
import { stageIndexName, stageIndexSql } from '../stage/stage.ts';

export interface FinalizeStep {
  /** Shown in progress and in --dry-run. */
  label: string;
  sql: string;
}

export interface FinalizeSteps {
  durable: FinalizeStep[];
  /** Independent of each other: run in parallel sessions. */
  indexes: FinalizeStep[];
  /** Foreign keys from the target to other tables, validated on the stage once its indexes exist. */
  foreignKeys: FinalizeStep[];
}

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
