/**
 * The report of a load, built from its plan and what happened. Apart from report.ts, whose types are
 * public: those must never reach the plan's (and node-postgres's) types.
 */
import { qualified } from '../db/sql.ts';
import type { IndexBuildReport } from '../finalize/finalize-steps.ts';
import { createTableSql } from '../plan/table-definition.ts';
import type { LoadPlan } from '../plan/load-plan.ts';
import type { PublishMethod } from '../plan/strategy.ts';
import type { PhaseClock } from './phase-clock.ts';
import type { LoadReport } from './report.ts';

/** What a stream's load learns only as it goes: its batches and bytes. */
type Measured = Partial<Pick<LoadReport, 'chunks' | 'bytes'>>;

function baseReport(plan: LoadPlan, clock: PhaseClock, measured: Measured): Omit<LoadReport, 'dryRun' | 'rows'> {
  return {
    file: plan.options.file,
    files: plan.options.files,
    table: qualified(plan.target.table),
    rejected: 0,
    bytes: plan.input.bytes,
    chunks: plan.chunks.length,
    workers: plan.options.workers,
    strategy: plan.strategy,
    columns: plan.columns,
    defaulted: plan.defaulted,
    ...(plan.create ? { createTable: createTableSql(plan.create) } : {}),
    ...measured,
    wallMs: clock.wallMs,
    phases: clock.phases,
    warnings: plan.warnings,
  };
}

export function dryRunReport(plan: LoadPlan, clock: PhaseClock, indexBuilds: IndexBuildReport[]): LoadReport {
  const { stage, copySql, chunks, steps } = plan;
  return { ...baseReport(plan, clock, {}), dryRun: true, rows: 0, plan: { stage: qualified(stage), copySql, chunks, steps, indexBuilds } };
}

/** A file (or stream) with no records: the target is not touched. */
export function nothingToLoadReport(plan: LoadPlan, clock: PhaseClock, measured: Measured = {}): LoadReport {
  const unchanged = plan.create ? `${qualified(plan.target.table)} was not created` : `${qualified(plan.target.table)} is unchanged`;
  const input = plan.options.files.length === 1 ? `${plan.options.file} holds no rows` : `none of the ${plan.options.files.length} files holds any rows`;
  const header = plan.options.files.length === 1 ? ' after its header' : ' after their headers';
  plan.warnings.push(`${input}${plan.options.header ? header : ''}: nothing was loaded and ${unchanged}`);
  return { ...baseReport(plan, clock, measured), dryRun: false, rows: 0 };
}

export function loadReport(plan: LoadPlan, clock: PhaseClock, outcome: Measured & { rows: number; rejected: number; published: PublishMethod }): LoadReport {
  const { rows, rejected, published, ...measured } = outcome;
  return {
    ...baseReport(plan, clock, measured),
    dryRun: false,
    rows,
    rejected,
    rejectFile: rejected > 0 ? plan.options.rejectFile : undefined,
    published,
    indexBuilds: plan.indexBuilds,
  };
}

