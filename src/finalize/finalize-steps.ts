/**
 * The finalize plan's shape, apart from finalize.ts so that the public types (LoadReport's dry-run
 * plan) do not reach modules that need node-postgres's types: a TypeScript user of the library needs none.
 */
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
