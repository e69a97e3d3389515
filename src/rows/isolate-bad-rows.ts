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
 *   which only good records reach the chunk's COPY, which then never fails on a row. Those good
 *   records are queued on the chunk's session while the next window is probed.
 *   A window that fails names its first bad record: those before it are good (loaded by a COPY of
 *   their own), it is set aside, the rest go into the next window. `--max-errors all` thus holds for
 *   any number of bad rows.
 *
 * Each record is parsed by the server at most twice (checked, then loaded; once when a savepoint
 * window holds it and loads). Windows grow while they load and shrink to twice the good run before the
 * last bad row when they fail (a running mean of the good runs): the bytes sent past a bad row, which the
 * server discards unread, stay within one window (at most MAX_WINDOW_BYTES).
 */
import type pg from 'pg';
import { copyFromBuffer, OpenCopy, withStatementsBefore } from '../copy/copy-stream.ts';
import { PloaderError, serverFields, type ServerErrorFields } from '../errors.ts';
import type { RecordSyntax } from '../input/scan/record-syntax.ts';
import { INPUT_VALUE_ERRORS, isRowError } from '../db/sqlstate.ts';
import { chunkRecordBatches, joinRecords, type ChunkBytes, type RecordWithBytes } from './chunk-records.ts';
import { parseCopyContext, parseSkipNotice } from './line-mapping.ts';
import type { SoftErrorSkipping } from './numbering.ts';
import { positionCountersSql, withCounterValues, type CounterInjection, type RecordCounter } from './record-counters.ts';

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
/** Settled records are dropped from the window queue once this many, and at least half of it, are. */
const COMPACT_AFTER_RECORDS = 4096;
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
    const windows = new ProbeWindows(records, good, rest);
    // The first bad row decides whether windows start with ON_ERROR ignore: is it one it would skip?
    const kinds = INPUT_VALUE_ERRORS.has(first.reason.sqlstate ?? '') ? { skipped: 1, failed: 0 } : { skipped: 0, failed: 1 };
    for (let window = await windows.next(); window.length > 0; window = await windows.next()) {
      if (window[0].stray && !windows.primer) {
        // No good record before it to start the probe's stream with: see strayReason.
        context.reject(window[0], strayReason(window[0], context.syntax));
        windows.failedAt(window, 0, new Set());
        continue;
      }
      // A long clean stretch is checked by loading it (one parse instead of two) while the
      // transaction's subtransactions stay few; short windows, where bad rows are dense, by the probe.
      const inMain = windows.size >= MAIN_WINDOW_BYTES && loader.savepointWindows < MAX_SAVEPOINT_WINDOWS && !window[0].stray;
      const primer = inMain ? undefined : windows.primer;
      // ON_ERROR ignore pays while most bad rows are ones it skips (measured: 1.6× faster when all
      // are type errors, 1.5× slower when three in four are not, as the windows it lets grow then
      // fail later); so it is used while the rows it skipped are at least as many as the failures.
      const skipping = context.skipping && kinds.skipped >= kinds.failed ? context.skipping : undefined;
      let outcome: WindowOutcome;
      if (inMain) outcome = await loader.tryWindow(window, skipping?.mainSql);
      else {
        probe ??= await openProbeTransaction(context);
        outcome = await probeWindow(probe, primer, window, skipping?.probeSql);
      }
      const { failure } = outcome;
      const failedAt = failure ? windowRecordAt(window, primer, failure.serverLine) : window.length;
      if (failure && failedAt < 0) throw failure.error;
      // Rows the server skipped (ON_ERROR ignore) are set aside with the error their value gave.
      const skipped = await skippedRecords(outcome.skipped, window, primer, failedAt);
      // A failed probe window leaves the probe's transaction aborted until its next window's rollback.
      if (!inMain && failure && skipped.length > 0) await probe!.client.query(PROBE_RESET);
      const reasons = await describeSkips(inMain ? main : probe!.client, skipped, context.skipping?.types ?? {});
      skipped.forEach((skip, i) => context.reject(window[skip.at], reasons[i]));
      kinds.skipped += skipped.length;
      if (failure) kinds.failed++;
      const skippedAt = new Set(skipped.map((skip) => skip.at));
      // What a loaded window held is in the stage already; a probed one's good records go there now.
      if (!inMain || failure) await loader.addGood(window.slice(0, failedAt), skippedAt);
      if (!failure) {
        windows.loaded(window, skippedAt);
        continue;
      }
      context.reject(window[failedAt], failure.reason);
      windows.failedAt(window, failedAt, skippedAt);
    }
    return await loader.finish();
  } finally {
    await records.return?.(undefined);
    await probe?.client.end().catch(() => {});
  }
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

/** The probe's windows: records not yet checked, in order, and the last good record to prime a window with. */
class ProbeWindows {
  /**
   * Records read and not yet settled: pending[head...] are checked next. A failed window's tail goes
   * back by moving `head` (no copying per bad row: with 1 % bad rows that copying was a seventh of a
   * worker's CPU); what is settled is dropped now and then.
   */
  private pending: RecordWithBytes[] = [];
  private head = 0;
  private exhausted = false;
  private windowBytes = FIRST_WINDOW_BYTES;
  /** Running mean of the good runs between bad rows, in bytes (-1 before the first). */
  private meanGoodBytes = -1;

  constructor(
    private readonly records: AsyncIterator<RecordWithBytes[]>,
    public primer: RecordWithBytes | undefined,
    read: RecordWithBytes[],
  ) {
    this.pending = read;
  }

  get size(): number {
    return this.windowBytes;
  }

  /** The last good record before `end`: the next probe stream starts with it. */
  private keepPrimer(window: readonly RecordWithBytes[], end: number, skipped: ReadonlySet<number>): void {
    for (let i = end - 1; i >= 0; i--) {
      if (!skipped.has(i)) {
        this.primer = window[i];
        return;
      }
    }
  }

  async next(): Promise<RecordWithBytes[]> {
    if (this.head >= COMPACT_AFTER_RECORDS && this.head * 2 >= this.pending.length) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
    let end = this.head;
    let bytes = 0;
    while (bytes < this.windowBytes) {
      if (end === this.pending.length) {
        if (this.exhausted) break;
        const next = await this.records.next();
        if (next.done) {
          this.exhausted = true;
          break;
        }
        for (const record of next.value) this.pending.push(record);
        continue;
      }
      bytes += this.pending[end].bytes.length;
      end++;
    }
    const window = this.pending.slice(this.head, end);
    this.head = end;
    return window;
  }

  loaded(window: RecordWithBytes[], skipped: ReadonlySet<number>): void {
    this.keepPrimer(window, window.length, skipped);
    let bytes = 0;
    for (const record of window) bytes += record.bytes.length;
    // A window that loads is a good run at least that long.
    if (this.meanGoodBytes >= 0) this.meanGoodBytes = (1 - GAP_WEIGHT) * this.meanGoodBytes + GAP_WEIGHT * bytes;
    this.windowBytes = Math.min(MAX_WINDOW_BYTES, Math.max(this.windowBytes, bytes) * 2);
  }

  /** Record `at` was bad: those before it were good (but the skipped ones), those after it are checked again. */
  failedAt(window: RecordWithBytes[], at: number, skipped: ReadonlySet<number>): void {
    this.keepPrimer(window, at, skipped);
    // The window is the last records next() handed out: those after the bad one are checked again.
    this.head -= window.length - at - 1;
    let goodBytes = 0;
    for (let i = 0; i < at; i++) goodBytes += window[i].bytes.length;
    // Twice the usual distance between bad rows (a running mean of the good runs, so one bad row
    // right after another does not shrink the window to a record): about one bad row per window,
    // and the bytes sent past it (the server discards them unread) stay within the window.
    this.meanGoodBytes = this.meanGoodBytes < 0 ? goodBytes : (1 - GAP_WEIGHT) * this.meanGoodBytes + GAP_WEIGHT * goodBytes;
    this.windowBytes = Math.min(MAX_WINDOW_BYTES, Math.max(1, Math.round(2 * this.meanGoodBytes)));
  }
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

/** One probe COPY of the window, primed with a good record so the stream's line end is the chunk's. */
async function probeWindow(
  probe: { client: pg.Client; copySql: string },
  primer: RecordWithBytes | undefined,
  window: readonly RecordWithBytes[],
  skippingSql: string | undefined,
): Promise<WindowOutcome> {
  const parts = primer ? [primer.bytes, joinRecords(window)] : [joinRecords(window)];
  const sql = withStatementsBefore([PROBE_RESET], skippingSql ?? probe.copySql);
  return windowCopy((notices) => copyFromBuffer(probe.client, sql, parts, notices), window.length + (primer ? 1 : 0));
}

/** Runs a window's COPY; a row's fault comes back as its failure, anything else is thrown. */
async function windowCopy(copy: (notices: string[]) => Promise<number>, sent: number): Promise<WindowOutcome> {
  const notices: string[] = [];
  let rows = 0;
  try {
    rows = await copy(notices);
    return { skipped: { notices, rows, sent } };
  } catch (error) {
    const server = serverFields(error);
    const at = parseCopyContext(server?.where);
    if (!server || !isRowError(server.sqlstate) || !at) throw error;
    return { failure: { serverLine: at.line, reason: reasonOf(error, server, at.column), error }, skipped: { notices, rows: -1, sent } };
  }
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
async function skippedRecords(
  skipped: WindowOutcome['skipped'],
  window: readonly RecordWithBytes[],
  primer: RecordWithBytes | undefined,
  failedAt: number,
): Promise<SkippedRecord[]> {
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
