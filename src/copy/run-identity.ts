/**
 * Run identity: how one load's sessions are named, found and cancelled. Every session of a run
 * carries `<PGAPPNAME or ploader> <role> <runId>` as its application_name (set in db/connection.ts);
 * this module is the only one that builds or matches that suffix.
 */
import type pg from 'pg';
import type { ChunkSession } from './stall-watch.ts';

/** application_name role of a run's session: `copy <runId>`, `finalize <runId>`. */
export function sessionRole(runId: string, what: string): string {
  return `${what} ${runId}`;
}

/** LIKE pattern matching every session of a run. */
export function runSessionPattern(runId: string): string {
  return `% ${runId}`;
}

/** Cancels the server-side statements of this run's other sessions (COPYs, index builds). */
export async function cancelSessions(client: pg.Client, runId: string): Promise<void> {
  await client
    .query(`SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name LIKE $1 AND pid <> pg_backend_pid()`, [runSessionPattern(runId)])
    .catch(() => {});
}

/** application_name role of the sessions that copy one chunk: `copy <chunk> <runId>`. */
export function chunkSessionRole(runId: string, chunk: number): string {
  return sessionRole(runId, `copy ${Math.trunc(chunk)}`);
}

/** SQL: the chunk number in an application_name that chunkSessionRole made, NULL in any other session's. */
function chunkOfSession(applicationName: string): string {
  return `substring(${applicationName} FROM ' copy (\\d+) [^ ]+$')::bigint`;
}

/** Cancels the statements of the sessions copying chunks after `chunk` (see chunkSessionRole). */
export async function cancelChunksAfter(client: pg.Client, runId: string, chunk: number): Promise<void> {
  await client
    .query(
      `SELECT pg_cancel_backend(pid) FROM pg_stat_activity
        WHERE application_name LIKE $1 AND ${chunkOfSession('application_name')} > $2`,
      [runSessionPattern(runId), chunk],
    )
    .catch(() => {});
}

/** The run's chunk sessions (see chunkSessionRole) as the server sees them now, for the stall watch. */
export async function chunkSessionsOfRun(client: pg.Client, runId: string): Promise<ChunkSession[]> {
  const { rows } = await client.query<{
    pid: number; chunk: string; state: string | null; wait_event: string | null; query_start: string | null; state_change: string | null; query: string; bytes: string | null; tuples: string | null;
  }>(
    `SELECT a.pid, ${chunkOfSession('a.application_name')} AS chunk, a.state, a.wait_event, a.query_start::text, a.state_change::text,
            a.query, p.bytes_processed::text AS bytes, p.tuples_processed::text AS tuples
       FROM pg_stat_activity a LEFT JOIN pg_stat_progress_copy p ON p.pid = a.pid
      WHERE a.application_name LIKE $1 AND ${chunkOfSession('a.application_name')} IS NOT NULL`,
    [runSessionPattern(runId)],
  );
  return rows.map((r) => ({
    pid: r.pid, chunk: Number(r.chunk), state: r.state ?? 'unknown', waitEvent: r.wait_event, queryStart: r.query_start, stateChange: r.state_change,
    query: r.query, bytes: r.bytes, tuples: r.tuples,
  }));
}

/** Bytes and rows of this run's COPYs still in progress (pg_stat_progress_copy, PostgreSQL 14+). */
export async function copyProgressOfRun(client: pg.Client, runId: string): Promise<{ bytes: number; rows: number } | undefined> {
  try {
    const { rows } = await client.query<{ bytes: string | null; tuples: string | null }>(
      `SELECT sum(p.bytes_processed) AS bytes, sum(p.tuples_processed) AS tuples
         FROM pg_stat_progress_copy p JOIN pg_stat_activity a ON a.pid = p.pid WHERE a.application_name LIKE $1`,
      [runSessionPattern(runId)],
    );
    return { bytes: Number(rows[0].bytes ?? 0), rows: Number(rows[0].tuples ?? 0) };
  } catch {
    return undefined; // progress is a nicety: never fail a load over it
  }
}

/**
 * ploader's key space for advisory locks (the first of the two int4 keys): 'pldr' in ASCII. The second
 * key is the run id. A run holds its lock, session-level, from before its stage exists until the stage
 * is published or dropped; "the run is active" means exactly "its lock is held".
 * https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS
 */
export const RUN_LOCK_SPACE = 0x706c6472;

/** The run id (8 hex digits) as the lock's second int4 key. */
export function runLockKey(runId: string): number {
  if (!/^[0-9a-f]{8}$/.test(runId)) throw new RangeError(`Expected a run id of 8 hex digits, got ${JSON.stringify(runId)}`);
  return Number.parseInt(runId, 16) | 0;
}

/** Takes the run's lock if no session holds it; false when another session does (the run is active). */
export async function tryLockRun(client: pg.Client, runId: string): Promise<boolean> {
  const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS locked', [RUN_LOCK_SPACE, runLockKey(runId)]);
  return rows[0].locked;
}

export async function unlockRun(client: pg.Client, runId: string): Promise<void> {
  await client.query('SELECT pg_advisory_unlock($1, $2)', [RUN_LOCK_SPACE, runLockKey(runId)]);
}

/** Run ids whose lock some session other than this one holds, among `runIds` (read from pg_locks, nothing taken). */
export async function activeRuns(client: pg.Client, runIds: readonly string[]): Promise<Set<string>> {
  if (runIds.length === 0) return new Set();
  // pg_locks shows the two-key form as classid = key1, objid = key2 (as an unsigned oid), objsubid = 2.
  const { rows } = await client.query<{ key: number }>(
    `SELECT objid::bigint AS key FROM pg_locks
      WHERE locktype = 'advisory' AND objsubid = 2 AND granted AND pid <> pg_backend_pid()
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND classid = $1::bigint`,
    [RUN_LOCK_SPACE],
  );
  const held = new Set(rows.map((r) => Number(r.key)));
  return new Set(runIds.filter((id) => held.has(runLockKey(id) >>> 0)));
}

/** The run ids whose lock one of `pids` holds: which blockers are other ploader runs. */
export async function runsHeldBy(client: pg.Client, pids: readonly number[]): Promise<string[]> {
  if (pids.length === 0) return [];
  const { rows } = await client.query<{ key: string }>(
    `SELECT objid::bigint::text AS key FROM pg_locks
      WHERE locktype = 'advisory' AND objsubid = 2 AND granted AND classid = $1::bigint AND pid = ANY ($2::int[])`,
    [RUN_LOCK_SPACE, pids],
  );
  return rows.map((r) => Number(r.key).toString(16).padStart(8, '0'));
}
