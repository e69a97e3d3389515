/**
 * After the copy: the rows the stage holds once --on-conflict has been applied, and every record set
 * aside (bad rows, duplicate keys), numbered in input order.
 */
import type pg from 'pg';
import { SQLSTATE } from '../db/sqlstate.ts';
import { PloaderError } from '../errors.ts';
import { syntaxOf } from '../input/split.ts';
import type { CopyOutcome } from '../copy/copy-pool.ts';
import type { LoadPlan } from '../plan/load-plan.ts';
import { DuplicateKeyError, decodeLocator, dropLocatorSql, resolveConflicts, type ConflictingRecord } from './conflicts.ts';
import { locateRecords } from './line-mapping.ts';
import { numberRejects, type RejectedRecord, type RejectReport } from './rejects.ts';

export interface ResolvedRows {
  /** Rows in the stage, to be published. */
  rows: number;
  /** Records set aside, in input order. */
  rejects: RejectReport[];
}

export async function resolveRows(client: pg.Client, plan: LoadPlan, copied: CopyOutcome): Promise<ResolvedRows> {
  const resumed = plan.resumed?.state;
  const staged = copied.rows + (resumed?.rowsDone ?? 0);
  const recordsPerChunk = new Map<number, number>([...(resumed?.recordsPerChunk ?? []), ...copied.recordsPerChunk]);
  const duplicates = plan.conflicts.locator ? await applyConflictPolicy(client, plan) : [];
  const rejects = (resumed?.rejects ?? []).concat(copied.rejects, duplicates);
  return { rows: staged - duplicates.length, rejects: numberRejects(rejects, recordsPerChunk) };
}

/**
 * Applies --on-conflict on the stage, then drops the locator column. Returns the records set aside
 * (skip) or superseded (update) as rejects; for `error`, throws naming the input lines.
 */
async function applyConflictPolicy(client: pg.Client, plan: LoadPlan): Promise<RejectedRecord[]> {
  const { options, stage, chunks } = plan;
  const locate = async (records: readonly ConflictingRecord[]) => {
    const decoded = records.map((r) => decodeLocator(r.locator));
    const positions = await locateRecords(options.file, syntaxOf(options), chunks, decoded);
    return records.map((r, i) => ({ ...positions[i], ...decoded[i], sqlstate: SQLSTATE.UNIQUE_VIOLATION, message: r.reason }));
  };
  let conflicting: ConflictingRecord[];
  try {
    conflicting = await resolveConflicts(client, plan);
  } catch (error) {
    if (!(error instanceof DuplicateKeyError)) throw error;
    const located = await locate(error.records);
    const lines = located.map((r) => `${options.file}:${r.line}: ${r.message}`).join('; ');
    throw new PloaderError('DUPLICATE_KEY', `${error.message}, nothing was loaded: ${lines} — remove the duplicates, or pass --on-conflict skip (keep the first) or update (keep the last)`, {
      position: { file: options.file, line: located[0].line },
      server: { sqlstate: SQLSTATE.UNIQUE_VIOLATION },
    });
  }
  await client.query(dropLocatorSql(stage));
  return locate(conflicting);
}
