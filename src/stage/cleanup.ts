/**
 * `ploader --cleanup`: removes what interrupted loads of a table left behind (stages and their
 * ledgers). A run whose sessions are still connected is another ploader at work and is left alone.
 */
import { readTargetFacts } from '../plan/catalog.ts';
import { connect } from '../db/connection.ts';
import { dropRun, findLeftoverRuns } from './run-ledger.ts';
import { qualified } from '../db/sql.ts';

export interface CleanupOptions {
  table: string;
  db?: string;
  /** List what would be dropped, drop nothing. */
  dryRun?: boolean;
}

export interface CleanupReport {
  table: string;
  /** Stages dropped (with dryRun: that would be dropped). */
  dropped: string[];
  /** Runs still in progress, not touched. */
  active: string[];
}

export async function cleanup(options: CleanupOptions): Promise<CleanupReport> {
  const client = await connect(options.db, 'cleanup');
  try {
    const target = await readTargetFacts(client, options.table);
    const runs = await findLeftoverRuns(client, target.oid);
    const report: CleanupReport = { table: qualified(target.table), dropped: [], active: [] };
    for (const run of runs) {
      if (run.active) {
        report.active.push(qualified(run.stage));
        continue;
      }
      if (!options.dryRun) await dropRun(client, run);
      report.dropped.push(qualified(run.stage));
    }
    return report;
  } finally {
    await client.end().catch(() => {});
  }
}
