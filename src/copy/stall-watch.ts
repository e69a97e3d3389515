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
  /** The session still the longest: a stopped process, where others may only wait behind it (a lock it holds). */
  session: ChunkSession;
  stillMs: number;
  /** The other sessions still for the timeout too. */
  others: ChunkSession[];
}

export class StallWatch {
  private readonly last = new Map<number, { mark: string; since: number }>();

  constructor(private readonly timeoutMs: number) {}

  /** The sessions that have not moved for the timeout, the longest still first, given the sessions seen at `now` (ms). */
  observe(sessions: readonly ChunkSession[], now: number): Stall | undefined {
    const present = new Set<number>();
    const still: Array<{ session: ChunkSession; stillMs: number }> = [];
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
      else if (now - seen.since >= this.timeoutMs) still.push({ session, stillMs: now - seen.since });
    }
    for (const pid of this.last.keys()) if (!present.has(pid)) this.last.delete(pid);
    if (still.length === 0) return undefined;
    still.sort((a, b) => b.stillMs - a.stillMs);
    return { ...still[0], others: still.slice(1).map((s) => s.session) };
  }
}

/** How often the sessions are read: often enough to notice a stall soon after the timeout, rarely enough to cost nothing. */
export function stallPollMs(timeoutMs: number): number {
  return Math.max(100, Math.min(5000, Math.floor(timeoutMs / 4)));
}

export function describeStall(stall: Stall, timeoutMs: number): string {
  const { session } = stall;
  // A process that stopped holding a lock stops the sessions that wait for it: they are named after it.
  const others = stall.others.map((other) => `, nor did the one copying chunk ${other.chunk} (${describeSession(other)})`).join('');
  return (
    `the server session copying chunk ${session.chunk} (${describeSession(session)}) ` +
    `made no progress for ${formatSeconds(timeoutMs)} (--stall-timeout)${others}: the load was stopped and nothing was published; the chunks already ` +
    `committed are kept — have the server's administrator look at process ${session.pid} (pg_terminate_backend, or a restart), ` +
    `then run the same command with --resume`
  );
}

function describeSession(session: ChunkSession): string {
  const waiting = session.waitEvent ? `, waiting on ${session.waitEvent}` : '';
  return `pid ${session.pid}, ${session.state}${waiting}: ${session.query.trim().slice(0, 60)}`;
}

function formatSeconds(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`;
}
