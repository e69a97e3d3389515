/**
 * Taking a table lock without holding up everyone else. A LOCK that waits sits in the table's lock
 * queue, and every later request that conflicts with it (for ACCESS EXCLUSIVE: every plain SELECT)
 * queues behind it. So the lock is asked for in short attempts (`lock_timeout`), with pauses in
 * between in which the queue drains, until it is granted or `waitMs` has passed. While it waits, the
 * caller is told who holds the table.
 * https://www.postgresql.org/docs/current/explicit-locking.html#LOCKING-TABLES
 */
import type pg from 'pg';
import { PloaderError, serverFields, throwIfAborted } from '../errors.ts';
import { SQLSTATE } from './sqlstate.ts';

/** One attempt: how long readers may queue behind the request at most. */
const LOCK_ATTEMPT_MS = 200;
/** Between attempts: long enough for the readers that queued to run and for new ones to start. */
const LOCK_PAUSE_MS = 800;
/** Of a blocker's query, what the progress line shows. */
const QUERY_TEXT_CHARS = 60;

export type LockMode = 'ROW EXCLUSIVE' | 'ACCESS EXCLUSIVE';

/** The modes each requested mode conflicts with (the table in the page above). */
const CONFLICTS: Record<LockMode, string[]> = {
  'ROW EXCLUSIVE': ['ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock'],
  'ACCESS EXCLUSIVE': ['AccessShareLock', 'RowShareLock', 'RowExclusiveLock', 'ShareUpdateExclusiveLock', 'ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock'],
};

export interface Blocker {
  pid: number;
  user: string | null;
  state: string | null;
  queryStart: string | null;
  query: string | null;
}

export interface LockWait {
  tables: readonly string[];
  mode: LockMode;
  waitedMs: number;
  blockers: Blocker[];
}

export interface LockRequest {
  /** Qualified, quoted names, locked in this order (a dependent view before its table: readers lock in that order too). */
  tables: readonly string[];
  mode: LockMode;
  /** Give up after this long (0: one attempt). */
  waitMs: number;
  signal: AbortSignal | undefined;
  onWait: (wait: LockWait) => void;
  /** Asked after each failed attempt: true stops the wait, and lockTables returns false (not locked). */
  giveWay?: (wait: LockWait) => Promise<boolean>;
}

/**
 * Locks `tables` in `client`'s open transaction; `observer` (another session) names the blockers.
 * Throws LOCK_TIMEOUT after `waitMs`, leaving the transaction as it was; returns false when
 * `giveWay` said to stop waiting, true once locked.
 */
export async function lockTables(client: pg.Client, observer: pg.Client, request: LockRequest): Promise<boolean> {
  const started = performance.now();
  const { rows: [self] } = await client.query<{ pid: number; timeout: string }>("SELECT pg_backend_pid() AS pid, current_setting('lock_timeout') AS timeout");
  for (;;) {
    // A savepoint per attempt: a lock_timeout error aborts only the attempt, not the caller's transaction.
    await client.query('SAVEPOINT ploader_lock');
    try {
      await client.query(`SET LOCAL lock_timeout = '${LOCK_ATTEMPT_MS}ms'`);
      await client.query(`LOCK TABLE ${request.tables.join(', ')} IN ${request.mode} MODE`);
      await client.query('RELEASE SAVEPOINT ploader_lock');
      // SET LOCAL outlives RELEASE: give the rest of the transaction the session's own lock_timeout back.
      await client.query("SELECT set_config('lock_timeout', $1, true)", [self.timeout]);
      return true;
    } catch (error) {
      // A deadlock is found at once when two sessions that each hold the table ask to upgrade (two
      // runs publishing): only this attempt is rolled back, and giveWay decides who waits.
      const sqlstate = serverFields(error)?.sqlstate;
      if (sqlstate !== SQLSTATE.LOCK_NOT_AVAILABLE && sqlstate !== SQLSTATE.DEADLOCK_DETECTED) throw error;
      await client.query('ROLLBACK TO SAVEPOINT ploader_lock');
    }
    const wait = { tables: request.tables, mode: request.mode, waitedMs: performance.now() - started, blockers: await findBlockers(observer, request, self.pid) };
    if (await request.giveWay?.(wait)) return false;
    if (wait.waitedMs >= request.waitMs) throw lockTimeout(wait);
    request.onWait(wait);
    await pause(LOCK_PAUSE_MS, request.signal);
    throwIfAborted(request.signal);
  }
}

async function findBlockers(observer: pg.Client, request: LockRequest, selfPid: number): Promise<Blocker[]> {
  const { rows } = await observer.query<Blocker>(
    `SELECT DISTINCT a.pid, a.usename AS "user", a.state, a.query_start::text AS "queryStart", left(a.query, ${QUERY_TEXT_CHARS}) AS query
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'relation' AND l.relation = ANY ($1::regclass[]) AND l.mode = ANY ($2) AND l.pid <> $3
      ORDER BY a.pid`,
    [request.tables, CONFLICTS[request.mode], selfPid],
  );
  return rows;
}

export function describeBlockers(blockers: readonly Blocker[]): string {
  if (blockers.length === 0) return 'no session holds it now';
  return blockers
    .map((b) => `pid ${b.pid}${b.user ? ` (${b.user})` : ''}, ${b.state ?? 'state unknown'}${b.queryStart ? ` since ${b.queryStart}` : ''}${b.query ? `: ${b.query}` : ''}`)
    .join('; ');
}

function lockTimeout(wait: LockWait): PloaderError {
  return new PloaderError(
    'LOCK_TIMEOUT',
    `gave up waiting ${Math.round(wait.waitedMs / 1000)} s for a ${wait.mode} lock on ${wait.tables.join(', ')} (held by ${describeBlockers(wait.blockers)}) — let those sessions finish, or raise --lock-wait`,
  );
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
