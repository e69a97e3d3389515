/**
 * After the copy: the rows the stage holds once --on-conflict has been applied, and how many records
 * were set aside (bad rows, duplicate keys; their bytes and reasons are in the run's spools).
 */
import type pg from 'pg';
import { SQLSTATE } from '../db/sqlstate.ts';
import { PloaderError } from '../errors.ts';
import { syntaxOf } from '../input/split.ts';
import type { CopyOutcome } from '../copy/copy-pool.ts';
import type { LoadPlan } from '../plan/load-plan.ts';
import { selectRecords, type RecordWithBytes } from './chunk-records.ts';
import { conflictingRecords, DuplicateKeyError, decodeLocator, dropLocatorSql, resolveConflicts, type ConflictingRecord } from './conflicts.ts';
import { finishNumberingSql } from './serial-ids.ts';
import { RejectSpool, spoolDirectory, spoolFiles, type RejectEntry } from './reject-spool.ts';

export interface ResolvedRows {
  /** Rows in the stage, to be published. */
  rows: number;
  /** Records set aside: bad rows and duplicate keys. */
  rejected: number;
}

export async function resolveRows(client: pg.Client, plan: LoadPlan, copied: CopyOutcome): Promise<ResolvedRows> {
  const resumed = plan.resumed?.state;
  const staged = copied.rows + (resumed?.rowsDone ?? 0);
  const badRows = copied.rejected + (resumed?.rejected ?? 0);
  const duplicates = plan.conflicts.locator ? await applyConflictPolicy(client, plan) : 0;
  // The stage's columns get back the defaults they have in the target, before it may take its place.
  for (const sql of finishNumberingSql(plan)) await client.query(sql);
  return { rows: staged - duplicates, rejected: badRows + duplicates };
}

/**
 * Applies --on-conflict on the stage, then drops the locator column. The records set aside (skip) or
 * superseded (update) go to the chunks' duplicate spools; for `error`, throws naming their input lines.
 */
async function applyConflictPolicy(client: pg.Client, plan: LoadPlan): Promise<number> {
  const { options, stage } = plan;
  let removed: number;
  try {
    removed = await resolveConflicts(client, plan);
  } catch (error) {
    if (!(error instanceof DuplicateKeyError)) throw error;
    const named: RejectEntry[] = [];
    const sorted = [...error.records].sort((a, b) => (BigInt(a.locator) < BigInt(b.locator) ? -1 : 1));
    await locateConflicts(plan, inOrder(sorted), (entry) => {
      named.push(entry);
    });
    const lines = named.map((r) => `${r.file}:${r.line}: ${r.message}`).join('; ');
    throw new PloaderError('DUPLICATE_KEY', `${error.message}, nothing was loaded: ${lines} — remove the duplicates, or pass --on-conflict skip (keep the first) or update (keep the last)`, {
      position: { file: named[0].file, line: named[0].line, record: named[0].record },
      server: { sqlstate: SQLSTATE.UNIQUE_VIOLATION },
    });
  }
  await client.query(dropLocatorSql(stage));
  if (removed === 0) return 0;
  const directory = spoolDirectory(options.rejectFile, plan.runId);
  let spool: { chunk: number; writer: RejectSpool } | undefined;
  await locateConflicts(plan, conflictingRecords(client), (entry, record, chunk) => {
    if (spool?.chunk !== chunk) {
      spool?.writer.close(false);
      spool = { chunk, writer: new RejectSpool(spoolFiles(directory, chunk, 'duplicates')) };
    }
    spool.writer.add(entry, record.bytes);
  });
  spool?.writer.close(false);
  return removed;
}

async function* inOrder<T>(items: readonly T[]): AsyncGenerator<T> {
  yield* items;
}

/**
 * Finds the input records of conflicting stage rows, given in locator (= input) order: each chunk
 * that holds one is read once, front to back, as far as its last one.
 */
async function locateConflicts(
  plan: LoadPlan,
  conflicts: AsyncIterable<ConflictingRecord>,
  found: (entry: RejectEntry, record: RecordWithBytes, chunk: number) => void,
): Promise<void> {
  const syntax = syntaxOf(plan.options);
  const pending = conflicts[Symbol.asyncIterator]();
  let next = await pending.next();
  while (!next.done) {
    const index = decodeLocator(next.value.locator).chunk;
    const chunk = plan.chunks[index];
    if (chunk?.index !== index) throw new Error(`no chunk ${index} in the plan`);
    // The conflicts of this chunk, as record indexes; their reasons wait in `reasons` (one or two at a time).
    const reasons: string[] = [];
    async function* inChunk(): AsyncGenerator<number> {
      while (!next.done && decodeLocator(next.value.locator).chunk === index) {
        reasons.push(next.value.reason);
        const { recordInChunk } = decodeLocator(next.value.locator);
        next = await pending.next();
        yield recordInChunk;
      }
    }
    for await (const record of selectRecords({ file: chunk.file, start: chunk.start, end: chunk.end }, syntax, inChunk())) {
      const entry = { file: chunk.file, line: chunk.line + record.line - 1, record: chunk.firstRecord + record.index + 1, column: null, sqlstate: SQLSTATE.UNIQUE_VIOLATION, message: reasons.shift()! };
      found(entry, record, index);
    }
    if (reasons.length > 0) throw new Error(`chunk ${index} holds fewer records than the stage's locators name`);
  }
}
