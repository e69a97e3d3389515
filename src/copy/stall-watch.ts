/**
 * The load phase's watchdog. A chunk session whose server process stops (SIGSTOP, a disk that hangs,
 * a COMMIT waiting for a synchronous standby that is gone) never fails by itself: TCP keepalives are
 * answered by a live kernel, and the statement never ends. So the pool reads the run's chunk sessions
 * (copy/run-identity.ts chunkSessionsOfRun) every few seconds, and a session whose statement, state,
 * bytes and rows have not moved for the stall timeout stops the load, its committed chunks kept for
 * `--resume`. Pure: the pool feeds it what the server says and the time.
 */

/** One chunk session as pg_stat_activity and pg_stat_progress_copy show it. */
export interface ChunkSession {
  pid: number;
  chunk: number;
  state: string;
  waitEvent: string | null;
  /** When its statement started, and when its state last changed (as the server prints them). */
  queryStart: string | null;
  stateChange: string | null;
  query: string;
  /** COPY progress, null when no COPY is running. */
  bytes: string | null;
  tuples: string | null;
}

export interface Stall {
  session: ChunkSession;
  stillMs: number;
}

export class StallWatch {
  private readonly last = new Map<number, { mark: string; since: number }>();

  constructor(private readonly timeoutMs: number) {}

  /** The first session that has not moved for the timeout, given the sessions seen at `now` (ms). */
  observe(sessions: readonly ChunkSession[], now: number): Stall | undefined {
    const present = new Set<number>();
    let stall: Stall | undefined;
    for (const session of sessions) {
      present.add(session.pid);
      // Idle: between statements, the worker's turn (it reads the file or has finished).
      if (session.state === 'idle') {
        this.last.delete(session.pid);
        continue;
      }
      const mark = [session.state, session.queryStart, session.stateChange, session.bytes, session.tuples].join('|');
      const seen = this.last.get(session.pid);
      if (!seen || seen.mark !== mark) this.last.set(session.pid, { mark, since: now });
      else if (!stall && now - seen.since >= this.timeoutMs) stall = { session, stillMs: now - seen.since };
    }
    for (const pid of this.last.keys()) if (!present.has(pid)) this.last.delete(pid);
    return stall;
  }
}

/** How often the sessions are read: often enough to notice a stall soon after the timeout, rarely enough to cost nothing. */
export function stallPollMs(timeoutMs: number): number {
  return Math.max(100, Math.min(5000, Math.floor(timeoutMs / 4)));
}

export function describeStall(stall: Stall, timeoutMs: number): string {
  const { session } = stall;
  const waiting = session.waitEvent ? `, waiting on ${session.waitEvent}` : '';
  return (
    `the server session copying chunk ${session.chunk} (pid ${session.pid}, ${session.state}${waiting}: ${session.query.trim().slice(0, 60)}) ` +
    `made no progress for ${formatSeconds(timeoutMs)} (--stall-timeout): the load was stopped and nothing was published; the chunks already ` +
    `committed are kept — have the server's administrator look at process ${session.pid} (pg_terminate_backend, or a restart), ` +
    `then run the same command with --resume`
  );
}

function formatSeconds(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`;
}
