/**
 * Bad-row isolation for --max-errors, after a chunk's COPY has stopped at a bad row and rolled back.
 * Linear whatever the number of bad rows:
 *
 * - the chunk is read once more, front to back (so each byte is read from disk at most twice);
 * - the records before the bad one are known good (the server accepted them a moment ago) and go
 *   straight to the chunk's own COPY, the bad one to the reject spool;
 * - the records after it are checked in windows. A large window (a clean stretch so far) is simply
 *   loaded by the chunk's COPY under a savepoint: kept if it loads, rolled back if not; at most
 *   MAX_SAVEPOINT_WINDOWS of those per chunk, so the transaction's subtransactions stay few. Smaller
 *   windows, where bad rows are dense, go to a probe session of the same worker: a COPY into a
 *   temporary twin of the stage (same columns, types, defaults, NOT NULL and CHECKs) in a transaction
 *   of its own that is rolled back to a savepoint before every window (openProbeTransaction), after
 *   which only good records reach the chunk's COPY, which then never fails on a row. Up to
 *   PIPELINE_WINDOWS probe windows go in one round trip, each a COPY of its own; those good records
 *   are queued on the chunk's session while the next windows are probed.
 *   A window that fails names its first bad record: those before it are good, it is set aside, the
 *   rest are checked again (window-queue.ts keeps the order of the file). `--max-errors all` thus
 *   holds for any number of bad rows.
 *
 * Each record is parsed by the server at most twice (checked, then loaded; once when a savepoint
 * window holds it and loads). Windows are sized to hold about one bad row (window-queue.ts): the bytes
 * sent past a bad row, which the server discards unread, stay within one window (at most
 * MAX_WINDOW_BYTES).
 */
import type pg from 'pg';
import { copyFromBuffer, copyPipeline, OpenCopy, withStatementsBefore, type PipelinedOutcome } from '../copy/copy-stream.ts';
import { PloaderError, serverFields, type ServerErrorFields } from '../errors.ts';
import type { RecordSyntax } from '../input/scan/record-syntax.ts';
import { INPUT_VALUE_ERRORS, isRowError } from '../db/sqlstate.ts';
import { chunkRecordBatches, joinRecords, type ChunkBytes, type RecordWithBytes } from './chunk-records.ts';
import { parseCopyContext, parseSkipNotice } from './line-mapping.ts';
import type { SoftErrorSkipping } from './numbering.ts';
import { positionCountersSql, withCounterValues, type CounterInjection, type RecordCounter } from './record-counters.ts';
import { WindowQueue, type Window, type WindowResult } from './window-queue.ts';

/** Why the server refused a record, as the reject log keeps it. */
export interface RejectReason {
  message: string;
  sqlstate?: string;
  column?: string;
}

export interface IsolationContext {
  source: ChunkBytes;
  syntax: RecordSyntax;
  /** The chunk's COPY into the stage. */
  copySql: string;
  counters: readonly RecordCounter[];
  /** Counter values written into the records, so one COPY takes every good record (record-counters.ts). */
  injection?: CounterInjection;
  /** PostgreSQL 17+: windows skip rows of refused values instead of failing on them. */
  skipping?: SoftErrorSkipping;
  /** The probe session, opened on first use: its temporary twin made, and the COPY into it. */
  openProbe: () => Promise<{ client: pg.Client; copySql: string }>;
  /** Sets a record aside; throws when that is one more than --max-errors allows. */
  reject: (record: RecordWithBytes, reason: RejectReason) => void;
}

/** The first COPY's failure: the server's line (counted from the chunk's start) and why. */
export interface FirstFailure {
  serverLine: number;
  reason: RejectReason;
}

export const MAX_WINDOW_BYTES = 1 << 20;
const FIRST_WINDOW_BYTES = MAX_WINDOW_BYTES;
/** Windows at least this large are tried in the chunk's own transaction, under a savepoint. */
const MAIN_WINDOW_BYTES = 128 * 1024;
/**
 * Savepoint windows per chunk transaction at most: each one that loads stays a subtransaction (with
 * its lock on its own xid) until the chunk commits. 32 stay clear of max_locks_per_transaction and of
 * the 64 subtransactions a backend caches before every snapshot in the cluster gets slower.
 */
export const MAX_SAVEPOINT_WINDOWS = 32;
/**
 * A run of at least this many consecutive good records goes as a COPY of its own bytes, the counters
 * set to its first record, instead of record by record with counter values written into each: the
 * per-record path cost ~2 µs of client CPU a record (1M votes, 104 bad rows, 2 workers: 4.9 s of
 * client CPU against 0.6 s clean), a run's COPY one round trip.
 */
const RAW_RUN_RECORDS = 256;
/** Records before the first bad row are handed on in runs of at most this many bytes (memory stays bounded). */
const RUN_FLUSH_BYTES = 1 << 20;
/** Good records queued for the chunk's COPY at most while the next window is probed. */
const MAX_QUEUED_BYTES = 2 * RUN_FLUSH_BYTES;
const NONE_SKIPPED: ReadonlySet<number> = new Set();
/**
 * Probe windows sent in one round trip at most, and their bytes: with 10 % bad rows, a round trip
 * per window cost a worker more CPU in system calls and wake-ups than in all else.
 */
const PIPELINE_WINDOWS = 32;
const PIPELINE_BYTES = MAX_WINDOW_BYTES;
/** Records read ahead of the first one not yet checked at most (memory stays bounded). */
const MAX_PENDING_BYTES = 4 * MAX_WINDOW_BYTES;
/** Weight of the latest good run in the running mean. */
const GAP_WEIGHT = 0.25;

/** Loads the chunk's good records into the stage (inside the caller's transaction); returns how many. */
export async function isolateBadRows(main: pg.Client, context: IsolationContext, first: FirstFailure): Promise<number> {
  // Thousands of refusals are expected here, and node-postgres makes an Error of each (~45 µs to
  // capture its stack, a twentieth of a worker's time with 1 % bad rows); none of them reaches a user
  // with its stack (the worker sends errors back as data). One worker thread runs one chunk at a time.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return await isolate(main, context, first);
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}

async function isolate(main: pg.Client, context: IsolationContext, first: FirstFailure): Promise<number> {
  const loader = new GoodRecordLoader(main, context);
  const records = chunkRecordBatches(context.source, context.syntax)[Symbol.asyncIterator]();
  let probe: Awaited<ReturnType<IsolationContext['openProbe']>> | undefined;
  try {
    const { good, rest } = await loadUpTo(records, first, loader, context);
    const queue = new WindowQueue<RejectReason>(records, good, rest, { first: FIRST_WINDOW_BYTES, max: MAX_WINDOW_BYTES, gapWeight: GAP_WEIGHT });
    // The first bad row decides whether windows start with ON_ERROR ignore: is it one it would skip?
    const kinds = INPUT_VALUE_ERRORS.has(first.reason.sqlstate ?? '') ? { skipped: 1, failed: 0 } : { skipped: 0, failed: 1 };
    while (!queue.done) {
      // ON_ERROR ignore pays while most bad rows are ones it skips (measured: 1.6× faster when all
      // are type errors, 1.5× slower when three in four are not, as the windows it lets grow then
      // fail later); so it is used while the rows it skipped are at least as many as the failures.
      const skipping = context.skipping && kinds.skipped >= kinds.failed ? context.skipping : undefined;
      // A long clean stretch is checked by loading it (one parse instead of two) while the
      // transaction's subtransactions stay few; short windows, where bad rows are dense, by the probe,
      // many at once. Without a good record yet to start a probe stream with, one window at a time.
      const inMain = queue.onlyUnchecked && queue.size >= MAIN_WINDOW_BYTES && loader.savepointWindows < MAX_SAVEPOINT_WINDOWS;
      const windows = await queue.nextBatch(inMain || !queue.primer ? 1 : PIPELINE_WINDOWS, PIPELINE_BYTES, MAX_PENDING_BYTES);
      if (windows.length === 0) continue;
      const stray = windows[0].records[0].stray;
      let results: Map<Window, WindowResult<RejectReason>>;
      let loaded = false;
      if (inMain && !stray) {
        const [result] = await checked(main, windows, [await loader.tryWindow(windows[0].records, skipping?.mainSql)], undefined, kinds, context);
        results = new Map([[windows[0], result]]);
        loaded = result.failedAt === undefined;
      } else if (stray && !queue.primer) {
        // No good record before it to start the probe's stream with: see strayReason.
        results = new Map([[windows[0], { skipped: [], failedAt: 0, failure: strayReason(windows[0].records[0], context.syntax) }]]);
      } else {
        probe ??= await openProbeTransaction(context);
        const primer = queue.primer;
        const outcomes = await probeBatch(probe, primer, windows, skipping?.probeSql);
        // A failed probe window leaves the probe's transaction aborted until the next window's rollback.
        const reset = outcomes[outcomes.length - 1].failure ? probe.client : undefined;
        const found = await checked(probe.client, windows, outcomes, primer, kinds, context, reset);
        results = new Map(windows.map((window, i) => [window, found[i]]));
      }
      queue.settle(results);
      // What a loaded window held is in the stage already; a probed one's good records go there now.
      for (const piece of queue.takeSettled()) {
        if ('bad' in piece) context.reject(piece.bad.record, piece.bad.reason);
        else if (!loaded) await loader.addGood(piece.good, NONE_SKIPPED);
      }
    }
    return await loader.finish();
  } finally {
    await records.return?.(undefined);
    await probe?.client.end().catch(() => {});
  }
}

/**
 * What each window's COPY found: where it stopped (its record), and the rows ON_ERROR ignore skipped
 * before, each with the error its value gives. `reset` is the probe session, when its last COPY left
 * its transaction aborted and the skips' errors are to be asked.
 */
async function checked(
  client: pg.Client,
  windows: readonly Window[],
  outcomes: readonly WindowOutcome[],
  primer: RecordWithBytes | undefined,
  kinds: { skipped: number; failed: number },
  context: IsolationContext,
  reset?: pg.Client,
): Promise<WindowResult<RejectReason>[]> {
  const found: Array<{ failedAt?: number; failure?: RejectReason; skipped: SkippedRecord[] }> = [];
  const asked: SkippedRecord[] = [];
  for (let i = 0; i < windows.length; i++) {
    const { records } = windows[i];
    const { failure } = outcomes[i];
    const failedAt = failure ? windowRecordAt(records, primer, failure.serverLine) : records.length;
    if (failure && failedAt < 0) throw failure.error;
    // Rows the server skipped (ON_ERROR ignore) are set aside with the error their value gave.
    const skipped = skippedRecords(outcomes[i].skipped, records, primer, failedAt);
    asked.push(...skipped);
    kinds.skipped += skipped.length;
    if (failure) kinds.failed++;
    found.push({ failedAt: failure ? failedAt : undefined, failure: failure?.reason, skipped });
  }
  if (asked.length > 0 && reset) await reset.query(PROBE_RESET);
  const reasons = await describeSkips(client, asked, context.skipping?.types ?? {});
  let next = 0;
  return found.map(({ failedAt, failure, skipped }) => ({ failedAt, failure, skipped: skipped.map((skip) => ({ at: skip.at, reason: reasons[next++] })) }));
}

/**
 * Loads the records before the first COPY's bad row and rejects that one; returns the last good
 * record and the records of the batch after the bad one.
 */
async function loadUpTo(
  records: AsyncIterator<RecordWithBytes[]>,
  first: FirstFailure,
  loader: GoodRecordLoader,
  context: IsolationContext,
): Promise<{ good: RecordWithBytes | undefined; rest: RecordWithBytes[] }> {
  let good: RecordWithBytes | undefined;
  let run: RecordWithBytes[] = [];
  let runBytes = 0;
  for (let next = await records.next(); !next.done; next = await records.next()) {
    const batch = next.value;
    for (let i = 0; i < batch.length; i++) {
      const record = batch[i];
      if (record.serverLine < first.serverLine) {
        run.push(record);
        runBytes += record.bytes.length;
        if (runBytes >= RUN_FLUSH_BYTES) {
          await loader.addGood(run, NONE_SKIPPED);
          run = [];
          runBytes = 0;
        }
        good = record;
        continue;
      }
      if (record.serverLine > first.serverLine) break;
      await loader.addGood(run, NONE_SKIPPED);
      context.reject(record, first.reason);
      return { good, rest: batch.slice(i + 1) };
    }
  }
  throw new PloaderError('SERVER_ERROR', `${first.reason.message} — the server named line ${first.serverLine} of the chunk's COPY, which no record of it ends on`);
}

interface WindowFailure {
  serverLine: number;
  reason: RejectReason;
  error: unknown;
}

/** How one window's COPY went: the row it failed on, if any, and the rows ON_ERROR ignore skipped before. */
interface WindowOutcome {
  failure?: WindowFailure;
  /** The COPY's NOTICEs (ON_ERROR ignore names each row it skips in one), the rows it loaded (-1 when it failed), the records sent. */
  skipped: { notices: string[]; rows: number; sent: number };
}

/**
 * The probe works in one transaction that never commits: each window's COPY starts by rolling back
 * to a savepoint taken at the start, which discards the window before it (loaded or failed) and
 * keeps no subtransaction. Windows that committed each cost a commit and the truncation of the
 * twin's ON COMMIT DELETE ROWS (measured on PostgreSQL 15: a window that loads 100 rows 1.9 ms
 * autocommitted, 0.35 ms this way).
 */
async function openProbeTransaction(context: IsolationContext): Promise<{ client: pg.Client; copySql: string }> {
  const probe = await context.openProbe();
  await probe.client.query('BEGIN; SAVEPOINT ploader_probe');
  return probe;
}

const PROBE_RESET = 'ROLLBACK TO SAVEPOINT ploader_probe';

/**
 * The windows' probe COPYs, all in one round trip (copyPipeline), each primed with a good record so
 * the stream's line end is the chunk's, each after a rollback to the probe's savepoint.
 */
async function probeBatch(
  probe: { client: pg.Client; copySql: string },
  primer: RecordWithBytes | undefined,
  windows: readonly Window[],
  skippingSql: string | undefined,
): Promise<WindowOutcome[]> {
  const sql = withStatementsBefore([PROBE_RESET], skippingSql ?? probe.copySql);
  const copies = windows.map((window) => ({ sql, data: primer ? [primer.bytes, joinRecords(window.records)] : [joinRecords(window.records)], notices: [] as string[] }));
  const answers = await copyPipeline(probe.client, copies);
  return answers.map((answer, i) => outcomeOf(answer, copies[i].notices, windows[i].records.length + (primer ? 1 : 0)));
}

/** Runs a window's COPY; a row's fault comes back as its failure, anything else is thrown. */
async function windowCopy(copy: (notices: string[]) => Promise<number>, sent: number): Promise<WindowOutcome> {
  const notices: string[] = [];
  try {
    return outcomeOf({ rows: await copy(notices) }, notices, sent);
  } catch (error) {
    return outcomeOf({ error }, notices, sent);
  }
}

/** A COPY's answer as a window's outcome: a row's fault is its failure, anything else is thrown. */
function outcomeOf(answer: PipelinedOutcome, notices: string[], sent: number): WindowOutcome {
  if (!('error' in answer)) return { skipped: { notices, rows: answer.rows, sent } };
  const { error } = answer;
  const server = serverFields(error);
  const at = parseCopyContext(server?.where);
  if (!server || !isRowError(server.sqlstate) || !at) throw error;
  return { failure: { serverLine: at.line, reason: reasonOf(error, server, at.column), error }, skipped: { notices, rows: -1, sent } };
}

interface SkippedRecord {
  at: number;
  column: string;
  value: string;
}

/**
 * The window's records ON_ERROR ignore skipped, from its NOTICEs. A COPY that loaded checks the count:
 * a skip the server did not name in words this can read would otherwise pass for a loaded row.
 */
function skippedRecords(skipped: WindowOutcome['skipped'], window: readonly RecordWithBytes[], primer: RecordWithBytes | undefined, failedAt: number): SkippedRecord[] {
  const found: SkippedRecord[] = [];
  for (const notice of skipped.notices) {
    const skip = parseSkipNotice(notice);
    if (!skip) continue;
    const at = windowRecordAt(window, primer, skip.line);
    if (at < 0 || at >= failedAt) throw new PloaderError('SERVER_ERROR', `the server skipped a row at line ${skip.line} of a COPY that holds no such record`);
    found.push({ at, column: skip.column, value: skip.value });
  }
  if (skipped.rows >= 0 && skipped.rows + found.length !== skipped.sent) {
    throw new PloaderError('SERVER_ERROR', `the server loaded ${skipped.rows} of ${skipped.sent} rows and named ${found.length} it skipped: set lc_messages to English (C) for the loading role, or load with an older server`);
  }
  return found;
}

/**
 * The error each skipped value gives, from pg_input_error_info (PostgreSQL 16+) for the column's type:
 * the same message and SQLSTATE the COPY would have failed with. A value the NOTICE shortened (past
 * 100 bytes) keeps the NOTICE's words.
 */
async function describeSkips(client: pg.Client, skipped: readonly SkippedRecord[], types: Readonly<Record<string, string>>): Promise<RejectReason[]> {
  if (skipped.length === 0) return [];
  const complete = skipped.map((s) => !(s.value.length > SHORTENED_VALUE_BYTES && s.value.endsWith('...')) && types[s.column] !== undefined);
  const asked = skipped.filter((_, i) => complete[i]);
  const { rows } = asked.length === 0
    ? { rows: [] as Array<{ message: string | null; sqlstate: string | null }> }
    : await client.query<{ message: string | null; sqlstate: string | null }>(
        `SELECT e.message, e.sql_error_code AS sqlstate FROM unnest($1::text[], $2::text[]) WITH ORDINALITY v(value, type, n)
           CROSS JOIN LATERAL pg_input_error_info(v.value, v.type) e ORDER BY v.n`,
        [asked.map((s) => s.value), asked.map((s) => types[s.column])],
      );
  let next = 0;
  return skipped.map((s, i) => {
    const info = complete[i] ? rows[next++] : undefined;
    return info?.message
      ? { message: info.message, sqlstate: info.sqlstate ?? undefined, column: s.column }
      : { message: `skipped by the server (ON_ERROR ignore): its value for column "${s.column}" is not valid: "${s.value}"`, column: s.column };
  });
}

/** COPY shortens a value it quotes in a message to this many bytes, then "..." (MAX_COPY_DATA_DISPLAY). */
const SHORTENED_VALUE_BYTES = 100;

export function reasonOf(error: unknown, server: ServerErrorFields, column: string | undefined): RejectReason {
  return { message: (error as Error).message, sqlstate: server.sqlstate, column: column ?? server.column };
}

/**
 * The window's record the server's line `line` names. A stream counts its first record's quoted
 * newlines by the "line end not known yet" rule (quoted CRs), the later ones as the chunk did.
 */
export function windowRecordAt(window: readonly RecordWithBytes[], primer: RecordWithBytes | undefined, line: number): number {
  let counted = primer ? 1 + primer.quotedCR : 0;
  for (let i = 0; i < window.length; i++) {
    counted += i === 0 && !primer ? 1 + window[i].quotedCR : window[i].ownLines;
    if (counted === line) return i;
    if (counted > line) return -1;
  }
  return -1;
}

/**
 * A record holding a line end of another kind than the chunk's (a bare CR in an LF file) is always
 * refused by the chunk's COPY (22P04). A probe stream that started with it would take that line end as
 * its own, so with no good record before it to start the stream with, it is refused here, in the
 * words the server uses.
 */
function strayReason(record: RecordWithBytes, syntax: RecordSyntax): RejectReason {
  const bareLF = /(^|[^\r])\n/.test(record.bytes.toString('latin1').replace(/\n$/, ''));
  const what = bareLF ? 'newline' : 'carriage return';
  return { message: `${syntax.format === 'csv' ? 'unquoted' : 'literal'} ${what} found in data`, sqlstate: '22P04' };
}

/**
 * The chunk's own COPY of the good records. One COPY takes them all when there are no record
 * counters (ids, locator), or when their values can be written into the records; otherwise each run
 * of consecutive records is a COPY of its own, the counters set to its first record.
 */
class GoodRecordLoader {
  private copy: OpenCopy | undefined;
  private next = -1;
  private rows = 0;
  private readonly client: pg.Client;
  private readonly counters: readonly RecordCounter[];
  private readonly injection: CounterInjection | undefined;
  private readonly sql: string;
  /** The chunk's COPY as the file feeds it, for runs of consecutive records. */
  private readonly plainSql: string;

  constructor(client: pg.Client, context: IsolationContext) {
    this.client = client;
    this.counters = context.counters;
    this.injection = context.counters.length > 0 ? context.injection : undefined;
    this.sql = this.injection?.copySql ?? context.copySql;
    this.plainSql = context.copySql;
  }

  /**
   * The good records of a window (but those at `skipped`), queued: they are loaded on the chunk's
   * session while the loop goes on to probe the next window on the probe session, so the two
   * sessions' round trips overlap. At most MAX_QUEUED_BYTES wait; a failure surfaces at the next
   * call, at tryWindow or at finish.
   */
  async addGood(records: readonly RecordWithBytes[], skipped: ReadonlySet<number>): Promise<void> {
    this.throwIfFailed();
    if (records.length === 0) return;
    let bytes = 0;
    for (const record of records) bytes += record.bytes.length;
    this.queuedBytes += bytes;
    this.queue = this.queue.then(async () => {
      try {
        if (this.failure === undefined) await this.loadGood(records, skipped);
      } catch (error) {
        this.failure ??= error;
      } finally {
        this.queuedBytes -= bytes;
      }
    });
    if (this.queuedBytes > MAX_QUEUED_BYTES) await this.drain();
  }

  /** A run of consecutive records without counter values to write goes as one COPY of its bytes, the counters set to its first record. */
  private async loadGood(records: readonly RecordWithBytes[], skipped: ReadonlySet<number>): Promise<void> {
    const rawRun = this.counters.length > 0 && (!this.injection || records.length >= RAW_RUN_RECORDS);
    if (skipped.size > 0 || !rawRun) {
      const kept = skipped.size === 0 ? records : records.filter((_, i) => !skipped.has(i));
      // Counters without injection: a COPY per run of consecutive records, record by record.
      if (this.counters.length > 0 && !this.injection) {
        for (const record of kept) await this.add(record);
        return;
      }
      // Otherwise all of them in one piece of the open COPY, their counter values written in.
      this.copy ??= new OpenCopy(this.client, this.sql);
      await this.copy.write(this.injection ? withCounterValues(kept, this.counters, this.injection.delimiter) : joinRecords(kept));
      return;
    }
    await this.close();
    const position = positionCountersSql(this.counters, records[0].index);
    this.rows += await copyFromBuffer(this.client, withStatementsBefore([position], this.plainSql), joinRecords(records));
    this.next = records[records.length - 1].index + 1;
  }

  private queue: Promise<void> = Promise.resolve();
  private queuedBytes = 0;
  private failure: unknown;

  /** Waits for the queued records to be loaded; throws what failed. */
  private async drain(): Promise<void> {
    await this.queue;
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  /** One record into a COPY of consecutive records, the counters set to the first of them. */
  private async add(record: RecordWithBytes): Promise<void> {
    if (this.copy && record.index !== this.next) await this.close();
    if (!this.copy) {
      const position = positionCountersSql(this.counters, record.index);
      if (position) await this.client.query(position);
      this.copy = new OpenCopy(this.client, this.sql);
    }
    await this.copy.write(record.bytes);
    this.next = record.index + 1;
  }

  savepointWindows = 0;

  /**
   * Loads the window under a savepoint: kept if it loads, rolled back (and its failure returned) if
   * not. With `skippingSql` (ON_ERROR ignore), rows of values the types refuse are skipped, not failed.
   */
  async tryWindow(window: readonly RecordWithBytes[], skippingSql: string | undefined): Promise<WindowOutcome> {
    await this.drain();
    await this.close();
    // A window is a run of consecutive records: its bytes as they are, the counters set to its first
    // record (ON_ERROR ignore only without counters: a skipped row would shift them). The savepoint,
    // the counters and the COPY go in one round trip.
    const position = positionCountersSql(this.counters, window[0].index);
    const bytes = joinRecords(window);
    const sql = withStatementsBefore(['SAVEPOINT ploader_window', position], skippingSql ?? this.plainSql);
    const outcome = await windowCopy((notices) => copyFromBuffer(this.client, sql, bytes, notices), window.length);
    if (outcome.failure) {
      await this.client.query('ROLLBACK TO SAVEPOINT ploader_window');
      await this.client.query('RELEASE SAVEPOINT ploader_window');
      return outcome;
    }
    await this.client.query('RELEASE SAVEPOINT ploader_window');
    this.savepointWindows++;
    this.rows += outcome.skipped.rows;
    this.next = window[window.length - 1].index + 1;
    return outcome;
  }

  async finish(): Promise<number> {
    await this.drain();
    await this.close();
    return this.rows;
  }

  private async close(): Promise<void> {
    if (!this.copy) return;
    const copy = this.copy;
    this.copy = undefined;
    this.rows += await copy.end();
  }
}
