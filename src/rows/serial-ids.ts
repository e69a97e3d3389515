/**
 * Serial and identity ids in file order: exactly the ids one COPY of the file would draw, however
 * many workers load it.
 *
 * One COPY draws nextval() record after record. Here the whole range is reserved from the target's
 * sequence once, before any chunk is loaded, and each chunk's rows take theirs from their own part of
 * it: the stage column's default reads a per-session temporary sequence (record-counters.ts) that the
 * worker sets so that record r of the input gets `first + r × increment`.
 *
 * Reserving atomically: nextval() takes a RowExclusiveLock on the sequence. ALTER SEQUENCE takes a
 * ShareRowExclusiveLock, which conflicts with it: inside one transaction, `ALTER SEQUENCE s INCREMENT
 * BY <its own increment>` (a no-op), then nextval() and setval() to the end of the range, so that no
 * other session draws a value in between (they wait, for milliseconds). ALTER SEQUENCE needs
 * ownership of the sequence (LOCK TABLE does not take sequences). A role that does not own it draws
 * the n values with nextval() instead, as one COPY would; another writer drawing at the same time
 * may then leave the values in several runs, and a chunk is cut where a run ends, so every record
 * still gets exactly the value one COPY would have given it at that moment.
 *
 * A record that is set aside (--max-errors) keeps its value unused: the kept rows have the ids they
 * would have if the file had no bad rows, whichever rows are bad and whichever worker loads them.
 * (PostgreSQL 17's ON_ERROR ignore draws nothing for a skipped row, so the ids after it shift.)
 */
import type pg from 'pg';
import { inTransaction } from '../db/transaction.ts';
import { PloaderError, serverFields } from '../errors.ts';
import { qualified, quoteIdent, quoteLiteral } from '../db/sql.ts';
import type { SequenceFacts, TargetFacts } from '../plan/catalog.ts';
import type { Chunk } from '../plan/chunks.ts';
import type { PendingChunk } from '../input/stream-batches.ts';
import { syntaxOf } from '../input/split.ts';
import { selectRecords } from './chunk-records.ts';
import type { LoadPlan } from '../plan/load-plan.ts';
import { counterDefault, type RecordCounter } from './record-counters.ts';

/** A stage column numbered by record: filled from a sequence, not fed by the file. */
export interface IdColumn {
  column: string;
  sequence: SequenceFacts;
  /** The per-session temporary sequence the stage's default reads during the load. */
  counter: string;
  /** The target's own default, given back to the stage before it is published. */
  targetDefault: string;
}

/** Values reserved for one column: from record `from` (0-based, in the input) on, `first`, `first + increment`, ... */
export interface IdRun {
  from: number;
  first: string;
}

/** Reserved runs per column name; JSON, so a resumed run finds them in its ledger's metadata. */
export type IdReservation = Record<string, IdRun[]>;

/** The target's sequence-filled columns the file does not feed. */
export function planIdColumns(target: TargetFacts, loaded: readonly string[]): IdColumn[] {
  const fed = new Set(loaded);
  const columns: IdColumn[] = [];
  target.columns.forEach((column, position) => {
    if (fed.has(column.name) || !column.sequence || column.generated !== '') return;
    const targetDefault = column.identity ? `nextval(${quoteLiteral(qualified(column.sequence.name))}::regclass)` : column.defaultExpr;
    if (!targetDefault) return;
    columns.push({ column: column.name, sequence: column.sequence, counter: `ploader_id_${position + 1}`, targetDefault });
  });
  return columns;
}

/** The stage's numbered columns read their record counters during the load. */
export function stageIdDefaultsSql(plan: LoadPlan): string[] {
  return plan.ids.map((id) => `ALTER TABLE ${qualified(plan.stage)} ALTER COLUMN ${quoteIdent(id.column)} SET DEFAULT ${counterDefault(id.counter)}`);
}

/** Statements that give the stage's numbered columns back the target's defaults. */
export function finishNumberingSql(plan: LoadPlan): string[] {
  return plan.ids.map((id) => `ALTER TABLE ${qualified(plan.stage)} ALTER COLUMN ${quoteIdent(id.column)} SET DEFAULT ${id.targetDefault}`);
}

/**
 * Reserves `records` values of every numbered column, in input order starting at record `from`.
 * Returns the runs and, when a role could not lock a sequence, a note for the report.
 */
export async function reserveIds(client: pg.Client, ids: readonly IdColumn[], from: number, records: number): Promise<{ reservation: IdReservation; notes: string[] }> {
  const reservation: IdReservation = {};
  const notes: string[] = [];
  if (records === 0) return { reservation, notes };
  for (const id of ids) {
    const sequence = qualified(id.sequence.name);
    try {
      if (id.sequence.isOwner && !id.sequence.cycle) {
        reservation[id.column] = [{ from, first: await reserveLocked(client, sequence, records) }];
        continue;
      }
      reservation[id.column] = (await drawRuns(client, sequence, records)).map((run) => ({ from: from + run.from, first: run.first }));
      notes.push(
        `ids of column ${quoteIdent(id.column)} were drawn one by one from ${sequence}${id.sequence.cycle ? ' (it cycles)' : ' (the current role does not own it, so it cannot lock it)'}: still in file order, but another session drawing from it meanwhile gets values between them`,
      );
    } catch (error) {
      const fields = serverFields(error);
      throw new PloaderError('SERVER_ERROR', `could not take ${records} ids for column ${quoteIdent(id.column)} from ${sequence}: ${(error as Error).message} — one COPY of this file would fail the same way`, {
        server: fields,
        cause: error,
      });
    }
  }
  return { reservation, notes };
}

/** The lock-protected reservation (see the header); returns the first value. */
async function reserveLocked(client: pg.Client, sequence: string, records: number): Promise<string> {
  return inTransaction(client, async () => {
    const { rows: [facts] } = await client.query<{ increment: string }>(`SELECT seqincrement::text AS increment FROM pg_sequence WHERE seqrelid = ${quoteLiteral(sequence)}::regclass`);
    // Takes a ShareRowExclusiveLock, held to COMMIT: every other nextval() on it waits till then.
    await client.query(`ALTER SEQUENCE ${sequence} INCREMENT BY ${BigInt(facts.increment)}`);
    const { rows: [first] } = await client.query<{ v: string }>(`SELECT nextval(${quoteLiteral(sequence)}::regclass)::text AS v`);
    if (records > 1) {
      await client.query(`SELECT setval(${quoteLiteral(sequence)}::regclass, $1::bigint + ($2::bigint - 1) * $3::bigint)`, [first.v, records, facts.increment]);
    }
    return first.v;
  });
}

/**
 * Draws `records` values with nextval(), as one COPY would; returns where the drawn values stop being
 * consecutive steps (runs), computed server-side so that no value per record comes back.
 */
async function drawRuns(client: pg.Client, sequence: string, records: number): Promise<IdRun[]> {
  const { rows } = await client.query<{ from: string; first: string }>(
    `WITH drawn AS MATERIALIZED (SELECT g, nextval(${quoteLiteral(sequence)}::regclass) AS v FROM generate_series(0, $1::bigint - 1) g),
          stepped AS (SELECT g, v, v - lag(v) OVER (ORDER BY g) AS step FROM drawn)
     SELECT g::text AS from, v::text AS first FROM stepped
      WHERE step IS NULL OR step <> (SELECT seqincrement FROM pg_sequence WHERE seqrelid = ${quoteLiteral(sequence)}::regclass) ORDER BY g`,
    [records],
  );
  return rows.map((r) => ({ from: Number(r.from), first: r.first }));
}

/** Records (0-based, in the input) at which a run of some column's values begins: chunks are cut there. */
export function runStarts(reservation: IdReservation): number[] {
  const starts = new Set<number>();
  for (const runs of Object.values(reservation)) for (const run of runs) starts.add(run.from);
  return [...starts].sort((a, b) => a - b);
}

/** The counters of one chunk; the chunk lies within one run of every column (see runStarts). */
export function idCounters(plan: LoadPlan, reservation: IdReservation, chunk: Chunk): RecordCounter[] {
  return plan.ids.map((id) => {
    const runs = reservation[id.column] ?? [];
    const run = runs.filter((r) => r.from <= chunk.firstRecord).at(-1);
    if (!run) throw new Error(`no ids reserved for record ${chunk.firstRecord} of column ${id.column}`);
    const first = BigInt(run.first) + BigInt(chunk.firstRecord - run.from) * BigInt(id.sequence.increment);
    return { column: id.column, sequence: id.counter, first: String(first), increment: id.sequence.increment };
  });
}

/**
 * Reserves the ids of a file's records before any chunk is loaded, and cuts chunks where the values
 * stop being consecutive (only when the role could not lock the sequence). A resumed run keeps the
 * ranges it reserved before; a stream reserves batch by batch (numberBatches).
 */
export async function reserveIdsInOrder(client: pg.Client, plan: LoadPlan): Promise<LoadPlan> {
  if (plan.ids.length === 0 || plan.resumed || plan.input.streaming) return plan;
  const records = plan.chunks.reduce((sum, chunk) => sum + chunk.records, 0);
  const { reservation, notes } = await reserveIds(client, plan.ids, 0, records);
  const chunks = await cutChunksAt(plan, plan.chunks, runStarts(reservation));
  return { ...plan, chunks, pending: chunks, idReservation: reservation, warnings: plan.warnings.concat(notes) };
}

/** A stream's batches, each with its ids reserved as it comes (in order), cut where a run of values ends. */
export async function* numberBatches(client: pg.Client, plan: LoadPlan, batches: AsyncIterable<PendingChunk>): AsyncGenerator<PendingChunk> {
  let index = 0;
  for await (const batch of batches) {
    if (plan.ids.length === 0) {
      yield batch;
      continue;
    }
    const { reservation, notes } = await reserveIds(client, plan.ids, batch.chunk.firstRecord, batch.chunk.records);
    for (const note of notes) if (!plan.warnings.includes(note)) plan.warnings.push(note);
    for (const [column, runs] of Object.entries(reservation)) plan.idReservation[column] = (plan.idReservation[column] ?? []).concat(runs);
    for (const chunk of await cutChunksAt(plan, [batch.chunk], runStarts(reservation), batch.data)) {
      const data = batch.data?.subarray(chunk.start - batch.chunk.start, chunk.end - batch.chunk.start);
      yield { chunk: { ...chunk, index: index++ }, data };
    }
  }
}

/** The chunks, cut before every record in `starts` that falls inside one, and numbered again. */
async function cutChunksAt(plan: LoadPlan, chunks: readonly Chunk[], starts: readonly number[], data?: Buffer): Promise<Chunk[]> {
  const cut: Chunk[] = [];
  for (const chunk of chunks) {
    const inside = starts.filter((r) => r > chunk.firstRecord && r < chunk.firstRecord + chunk.records).map((r) => r - chunk.firstRecord);
    if (inside.length === 0) {
      cut.push({ ...chunk, index: cut.length });
      continue;
    }
    if (plan.options.format === 'binary') {
      throw new PloaderError('SERVER_ERROR', 'another session drew ids from the sequence while this load reserved its own, so they are not consecutive, and a binary file cannot be cut between tuples here — load again');
    }
    const source = { file: chunk.file, start: chunk.start, end: chunk.end, data };
    const wanted = (async function* () {
      yield* inside;
    })();
    let from = { offset: chunk.start, line: chunk.line, record: 0 };
    for await (const record of selectRecords(source, syntaxOf(plan.options), wanted)) {
      cut.push({ index: cut.length, file: chunk.file, start: from.offset, end: chunk.start + record.start, line: from.line, firstRecord: chunk.firstRecord + from.record, records: record.index - from.record });
      from = { offset: chunk.start + record.start, line: chunk.line + record.line - 1, record: record.index };
    }
    cut.push({ index: cut.length, file: chunk.file, start: from.offset, end: chunk.end, line: from.line, firstRecord: chunk.firstRecord + from.record, records: chunk.records - from.record });
  }
  return cut;
}
