/**
 * `ploader --cleanup`: removes what interrupted loads of a table left behind (stages and their
 * ledgers), exactly the tables their ledgers record. A run whose advisory lock is held is another
 * ploader at work: its lock is tried first, atomically, and a run whose lock is held is left alone.
 */
import type pg from 'pg';
import { unlockRun } from '../copy/run-identity.ts';
import { connect } from '../db/connection.ts';
import { qualified } from '../db/sql.ts';
import { resolveTargetName } from '../plan/catalog.ts';
import { claimRun, dropRun, findLeftoverRuns } from './run-ledger.ts';

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
    const target = await cleanupTarget(client, options.table);
    const runs = await findLeftoverRuns(client, target);
    const report: CleanupReport = { table: qualified(target), dropped: [], active: [] };
    for (const run of runs) {
      // The run's own lock, taken before its tables are touched: a run that is loading right now keeps it,
      // and one that published since its ledger was read has nothing left to drop.
      const claim = await claimRun(client, run);
      if (claim === 'active') report.active.push(qualified(run.stage));
      if (claim !== 'claimed') continue;
      try {
        if (!options.dryRun) await dropRun(client, run);
        report.dropped.push(qualified(run.stage));
      } finally {
        await unlockRun(client, run.runId);
      }
    }
    return report;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * The table whose leftovers to remove: as PostgreSQL resolves the name, or, when it no longer exists,
 * the schema and name it would have (what the ledgers record besides the oid).
 */
async function cleanupTarget(client: pg.Client, name: string): Promise<{ oid?: number; schema: string; name: string }> {
  const { rows: [exists] } = await client.query<{ oid: number | null }>('SELECT to_regclass($1)::oid AS oid', [name]);
  if (exists.oid !== null) {
    const resolved = await resolveTargetName(client, name);
    return { oid: resolved.oid, ...resolved.table };
  }
  const { rows: [parts] } = await client.query<{ parts: string[]; schema: string }>('SELECT parse_ident($1) AS parts, current_schema() AS schema', [name]);
  const [schema, table] = parts.parts.length > 1 ? parts.parts.slice(-2) : [parts.schema, parts.parts[0]];
  return { schema, name: table };
}
