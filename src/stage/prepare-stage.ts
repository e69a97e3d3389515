/**
 * The stage's lifecycle around the load: created (with its ledger) in one transaction before any
 * chunk is copied, or dropped with every session of the run cancelled when the load fails.
 */
import type pg from 'pg';
import { cancelSessions } from '../copy/run-identity.ts';
import { inTransaction } from '../db/transaction.ts';
import type { LoadPlan } from '../plan/load-plan.ts';
import { addLocatorSql } from '../rows/conflicts.ts';
import { stageIdDefaultsSql } from '../rows/serial-ids.ts';
import { createLedgerSql, dropRun, RUN_META_KIND, type RunMeta } from './run-ledger.ts';
import { createNewTableStageSql } from '../plan/create-target.ts';
import { createStageSql } from './stage.ts';

/** Creates the stage and its chunk ledger together, so neither exists without the other; a resumed run has both. */
export async function prepareStage(client: pg.Client, plan: LoadPlan): Promise<void> {
  if (plan.resumed) return;
  const { target, stage, ledger, runId } = plan;
  // `kind` first: leftovers are found by the comment's opening (run-ledger.ts findLeftoverRuns).
  const meta: RunMeta = {
    kind: RUN_META_KIND,
    runId,
    target: { oid: target.oid, ...target.table },
    stage,
    files: plan.input.files.map((f) => f.identity),
    copySql: plan.copySql,
    startedAt: new Date().toISOString(),
    ids: plan.idReservation,
  };
  const statements = [
    ...(plan.create ? createNewTableStageSql(plan.create, stage, runId) : createStageSql(target, stage, runId, plan.strategy.loggedStage)),
    ...(plan.conflicts.locator ? [addLocatorSql(stage)] : []),
    ...stageIdDefaultsSql(plan),
    ...createLedgerSql(ledger, meta, plan.chunks, plan.options.files),
  ];
  await inTransaction(client, async () => {
    for (const statement of statements) await client.query(statement);
  });
}

/**
 * All or nothing: stops the run's other sessions and removes what it staged. If the server is gone
 * this fails too, and the leftovers are found (and resumable) next time.
 */
export async function abandonRun(client: pg.Client, plan: LoadPlan): Promise<void> {
  await cancelSessions(client, plan.runId);
  await dropRun(client, plan).catch(() => {});
}
