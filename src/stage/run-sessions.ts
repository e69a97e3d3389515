/**
 * The two sessions a run keeps open from start to end.
 *
 * - main: holds the run's advisory lock (run-identity.ts) and the DDL fence, one transaction open from
 *   before the stage is created until publish, holding ROW EXCLUSIVE on the target: the lock one COPY
 *   holds for its whole duration, so other sessions' reads and writes go on while ALTER TABLE, CREATE
 *   INDEX, DROP and TRUNCATE of the target wait for the load. The publish runs in that same transaction.
 *   Nothing else runs there: a failed statement would abort the fence.
 * - admin: everything else the main thread asks of the server (planning reads, stage DDL, progress,
 *   cancelling the run's other sessions), each statement in its own transaction.
 *
 * The main session is watched: a lost connection (pg_terminate_backend, a server restart) or a backend
 * that stops answering aborts the load within seconds instead of being found at publish time.
 */
import type pg from 'pg';
import { cancelSessions } from '../copy/run-identity.ts';
import { connect } from '../db/connection.ts';
import { lockTables, type LockWait } from '../db/lock-wait.ts';
import { qualified, type QualifiedName } from '../db/sql.ts';
import { PloaderError } from '../errors.ts';
import type { ResolvedLoadOptions } from '../options.ts';

/** How often the idle main session is asked `SELECT 1`, and how long it may take to answer. */
const HEARTBEAT_INTERVAL_MS = 5_000;
const HEARTBEAT_TIMEOUT_MS = 10_000;
/** After this long without an answer to ROLLBACK (a frozen backend), the connection is dropped instead. */
const CLOSE_GRACE_MS = 2_000;

export class RunSessions {
  private heartbeat: NodeJS.Timeout | undefined;
  private lostError: PloaderError | undefined;
  private fenced = false;

  readonly main: pg.Client;
  /** The main session's backend pid, to cancel its statement (a publish) from the admin session. */
  readonly mainPid: number;
  readonly admin: pg.Client;
  private readonly options: ResolvedLoadOptions;
  private readonly onLost: (error: PloaderError) => void;

  private constructor(opened: { main: pg.Client; mainPid: number; admin: pg.Client; options: ResolvedLoadOptions; onLost: (error: PloaderError) => void }) {
    ({ main: this.main, mainPid: this.mainPid, admin: this.admin, options: this.options, onLost: this.onLost } = opened);
    const lost = (why: string) => this.lose(new PloaderError('CONNECTION_FAILED', `ploader's main session to the server was lost (${why}): nothing was published — load again, or pass --resume to continue from the chunks already staged`));
    this.main.on('error', (error: Error) => lost(error.message));
    this.main.on('end', () => lost('the connection closed'));
  }

  /** Opens both sessions; `onLost` is called once if the main session is lost while the run needs it. */
  static async open(options: ResolvedLoadOptions, onLost: (error: PloaderError) => void): Promise<RunSessions> {
    const main = await connect(options.db, 'main');
    try {
      const { rows: [{ pid }] } = await main.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const admin = await connect(options.db, 'plan');
      return new RunSessions({ main, mainPid: pid, admin, options, onLost });
    } catch (error) {
      await main.end().catch(() => {});
      throw error;
    }
  }

  /**
   * Opens the fence: BEGIN, then ROW EXCLUSIVE on the target, waiting (visibly, bounded by --lock-wait)
   * while a DDL statement holds it. The target is named by oid-checked qualified name; a target that
   * is yet to be created (--create) has nothing to lock: BEGIN only.
   */
  async fence(target: QualifiedName | undefined, onWait: (wait: LockWait) => void): Promise<void> {
    // The fence may stay open for hours: a server or role setting must not end it as an idle transaction.
    await this.main.query('SET idle_in_transaction_session_timeout = 0');
    await this.main.query('BEGIN');
    this.fenced = true;
    if (target) await lockTables(this.main, this.admin, { tables: [qualified(target)], mode: 'ROW EXCLUSIVE', waitMs: this.options.lockWaitMs, signal: this.options.signal, onWait });
  }

  /** Asks the idle main session for a sign of life every few seconds (during the copy and the finalizer). */
  startHeartbeat(): void {
    this.stopHeartbeat();
    this.heartbeat = setInterval(() => {
      const timer = setTimeout(() => this.lose(new PloaderError('CONNECTION_FAILED', `ploader's main session stopped answering (no reply in ${HEARTBEAT_TIMEOUT_MS / 1000} s): nothing was published — check the server, then load again or pass --resume`)), HEARTBEAT_TIMEOUT_MS);
      this.main.query('SELECT 1').then(() => clearTimeout(timer), () => clearTimeout(timer));
    }, HEARTBEAT_INTERVAL_MS);
    this.heartbeat.unref();
  }

  stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  /** The reason the main session was lost, if it was. */
  get lost(): PloaderError | undefined {
    return this.lostError;
  }

  /** Cancels every statement of the run's sessions, the main session's included (e.g. a publish). */
  async cancelRun(runId: string): Promise<void> {
    await cancelSessions(this.admin, runId);
    await this.admin.query('SELECT pg_cancel_backend($1)', [this.mainPid]).catch(() => {});
  }

  /** Commits the fence transaction: the publish becomes visible. */
  async commit(): Promise<void> {
    await this.main.query('COMMIT');
    this.fenced = false;
  }

  /** Rolls the fence back (nothing published) and closes both sessions; never waits long on a frozen backend. */
  async close(): Promise<void> {
    this.stopHeartbeat();
    const main = this.main;
    main.removeAllListeners('end');
    const rollback = this.fenced && !this.lostError ? main.query('ROLLBACK').catch(() => {}) : Promise.resolve();
    const closed = rollback.then(() => main.end()).catch(() => {});
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, CLOSE_GRACE_MS).unref())]);
    // A backend that never answered: drop the socket; the server rolls back when it notices.
    (main as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    await this.admin.end().catch(() => {});
  }

  private lose(error: PloaderError): void {
    if (this.lostError) return;
    this.lostError = error;
    this.stopHeartbeat();
    this.onLost(error);
  }
}

