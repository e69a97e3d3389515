/**
 * What a process may leave in the temp dir: throwaway servers (`ploader-pg-<pid>-*`), initdb password
 * directories (`ploader-pw-<pid>-*`), the demo's sample directory. Tests look for them by owner pid.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export function leftoversOf(pid: number, dir = tmpdir()): string[] {
  return readdirSync(dir).filter((name) => name.startsWith(`ploader-pg-${pid}-`) || name.startsWith(`ploader-pw-${pid}-`));
}

/** The postmaster pid of the throwaway server a process runs, read from its data directory. */
export function postmasterOf(pid: number, dir = tmpdir()): number | undefined {
  for (const name of readdirSync(dir).filter((n) => n.startsWith(`ploader-pg-${pid}-`))) {
    try {
      return Number(readFileSync(path.join(dir, name, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch {
      // not started yet
    }
  }
  return undefined;
}

/** Alive and not a zombie (a container's PID 1 may be slow to reap). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

export async function waitUntilGone(pid: number, timeoutMs = 10_000): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
    if (!processAlive(pid)) return true;
  }
  return !processAlive(pid);
}
