/**
 * Run identity: how one load's sessions are named, found and cancelled. Every session of a run
 * carries `<PGAPPNAME or ploader> <role> <runId>` as its application_name (set in db/connection.ts);
 * this module is the only one that builds or matches that suffix.
 */
import type pg from 'pg';

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

/** Cancels the statements of the sessions copying chunks after `chunk` (see chunkSessionRole). */
export async function cancelChunksAfter(client: pg.Client, runId: string, chunk: number): Promise<void> {
  await client
    .query(
      `SELECT pg_cancel_backend(pid) FROM pg_stat_activity
        WHERE application_name LIKE $1 AND substring(application_name FROM ' copy (\\d+) [^ ]+$')::bigint > $2`,
      [runSessionPattern(runId), chunk],
    )
    .catch(() => {});
}

/** True when a session of the run, other than this one, is connected. */
export async function runHasSessions(client: pg.Client, runId: string): Promise<boolean> {
  const { rows } = await client.query('SELECT 1 FROM pg_stat_activity WHERE application_name LIKE $1 AND pid <> pg_backend_pid() LIMIT 1', [runSessionPattern(runId)]);
  return rows.length > 0;
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
