/**
 * The finalize plan's shape, apart from finalize.ts so that the public types (LoadReport's dry-run
 * plan) do not reach modules that need node-postgres's types: a TypeScript user of the library needs none.
 */
import type { QualifiedName } from '../db/sql.ts';

export interface FinalizeStep {
  /** Shown in progress and in --dry-run. */
  label: string;
  sql: string;
  /** Index builds: the target's index this step rebuilds on the stage. */
  index?: string;
}

export interface FinalizeSteps {
  stage: QualifiedName;
  targetOid: number;
  durable: FinalizeStep[];
  /** Independent of each other: run in parallel sessions. */
  indexes: FinalizeStep[];
  /** Foreign keys from the target to other tables, validated on the stage once its indexes exist. */
  foreignKeys: FinalizeStep[];
}

/** One index build as scheduled and, after the run, as timed: in the report, progress and --dry-run. */
export interface IndexBuildReport {
  label: string;
  /** 1-based start order. */
  order: number;
  maintenanceWorkMem: string;
  parallelWorkers: number;
  /** The schedule's estimate of its CPU seconds (its ratios to the others are what the order follows). */
  estimatedCpuS: number;
  /** Wall ms of the build; absent in --dry-run. */
  ms?: number;
}
