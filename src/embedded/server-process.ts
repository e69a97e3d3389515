/**
 * Running the PostgreSQL binaries: initdb with a password file nobody else can read (removed in
 * every path), and the postmaster itself, waited for until it says it is ready. Children run in a
 * process group of their own, so a Ctrl-C in the terminal reaches only ploader, which then stops
 * them in order instead of the server dropping the sessions of a load in flight (57P01).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PloaderError } from '../errors.ts';
import { cleanUpOnExit } from './exit-cleanup.ts';
import type { ServerAccount } from './server-account.ts';

export const SUPERUSER = 'postgres';
/** Names of what a process leaves in the temp dir while it runs: `<prefix><owner pid>-<random>`. */
export const PASSWORD_DIR_PREFIX = 'ploader-pw-';
const READY_TIMEOUT_MS = 60_000;
/** postmaster.pid's 8th line is the postmaster's status; pg_ctl -w waits for the same word. */
const PID_FILE_STATUS_LINE = 7;

export interface ServerFiles {
  binDir: string;
  dataDir: string;
  account: ServerAccount | undefined;
}

function childOptions(account: ServerAccount | undefined) {
  // cwd '/': the server's OS user may not be able to enter ours (initdb fails on getcwd otherwise).
  return { ...(account ? { uid: account.uid, gid: account.gid } : {}), cwd: '/', detached: true, env: { ...process.env, LC_ALL: 'C' } };
}

export async function initDataDir(files: ServerFiles, password: string): Promise<void> {
  const pwDir = mkdtempSync(path.join(tmpdir(), `${PASSWORD_DIR_PREFIX}${process.pid}-`)); // 0700
  const forgetPwDir = cleanUpOnExit(() => rmSync(pwDir, { recursive: true, force: true }));
  try {
    const pwFile = path.join(pwDir, 'password');
    writeFileSync(pwFile, `${password}\n`, { mode: 0o600, flag: 'wx' });
    if (files.account) {
      chownSync(pwDir, files.account.uid, files.account.gid);
      chownSync(pwFile, files.account.uid, files.account.gid);
    }
    const args = ['-D', files.dataDir, '--auth=scram-sha-256', `--username=${SUPERUSER}`, `--pwfile=${pwFile}`, '--encoding=UTF8', '--locale=C'];
    await runToEnd(spawn(path.join(files.binDir, 'initdb'), args, { ...childOptions(files.account), stdio: ['ignore', 'ignore', 'pipe'] }), 'initdb');
  } finally {
    rmSync(pwDir, { recursive: true, force: true });
    forgetPwDir();
  }
}

/** Starts the postmaster and resolves once it accepts connections; it is killed if it does not get there. */
export async function startPostmaster(files: ServerFiles, args: string[], onLog: (line: string) => void): Promise<ChildProcess> {
  const child = spawn(path.join(files.binDir, 'postgres'), ['-D', files.dataDir, ...args], { ...childOptions(files.account), stdio: ['ignore', 'ignore', 'pipe'] });
  const forget = cleanUpOnExit(() => killNow(child.pid));
  const log = collectLog(child, onLog);
  let exited: string | undefined;
  child.once('error', (error) => (exited = error.message));
  child.once('exit', (code, signal) => (exited ??= `it exited (${signal ?? `code ${code}`})`));
  try {
    for (const deadline = Date.now() + READY_TIMEOUT_MS; ; await sleep(25)) {
      if (exited !== undefined) throw new Error(`${exited}${log.tail()}`);
      if (postmasterStatus(files.dataDir, child.pid) === 'ready') break;
      if (Date.now() > deadline) throw new Error(`it was not ready after ${READY_TIMEOUT_MS / 1000} s${log.tail()}`);
    }
  } catch (error) {
    killNow(child.pid);
    throw new PloaderError('EMBEDDED_SERVER_FAILED', `the embedded PostgreSQL did not start: ${(error as Error).message}`);
  } finally {
    forget();
  }
  child.unref(); // a host that forgets stop() still ends; its exit clean-up kills the server
  return child;
}

/** Stops a postmaster started by `startPostmaster`: fast shutdown, then a kill if it hangs. */
export async function stopPostmaster(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.ref(); // keep the process alive until the server is down
  child.kill('SIGINT'); // fast shutdown: roll back sessions, checkpoint, exit
  const stopped = await Promise.race([exited.then(() => true), sleep(30_000, undefined, { ref: false }).then(() => false)]);
  if (!stopped) {
    child.kill('SIGKILL');
    await exited;
  }
}

function postmasterStatus(dataDir: string, pid: number | undefined): string | undefined {
  try {
    const lines = readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
    return Number(lines[0]) === pid ? lines[PID_FILE_STATUS_LINE]?.trim() : undefined;
  } catch {
    return undefined;
  }
}

/** The postmaster pid of a data directory, from postmaster.pid. */
export function readPostmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A child killed but not yet reaped is a zombie: dead for our purposes.
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no /proc (macOS): kill(0) is all we know
  }
}

/**
 * Kills a process at once and waits (briefly, synchronously: this runs at exit) until it is gone, so
 * that removing its directory afterwards does not race with its last writes.
 */
export function killNow(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return; // already gone
  }
  const waitMs = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 100 && isAlive(pid); i++) Atomics.wait(waitMs, 0, 0, 10);
}

function collectLog(child: ChildProcess, onLog: (line: string) => void) {
  let recent = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    recent = (recent + text).slice(-2000);
    for (const line of text.trimEnd().split('\n')) onLog(line);
  });
  (child.stderr as { unref?: () => void } | null)?.unref?.();
  return { tail: () => (recent.trim() ? `: ${recent.trim().split('\n').slice(-5).join(' / ')}` : '') };
}

async function runToEnd(child: ChildProcess, name: string): Promise<void> {
  const forget = cleanUpOnExit(() => killNow(child.pid));
  const log = collectLog(child, () => {});
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('error', (error) => reject(new PloaderError('EMBEDDED_SERVER_FAILED', `could not run ${name}: ${error.message}`)));
      child.once('close', (code, signal) =>
        code === 0 ? resolve() : reject(new PloaderError('EMBEDDED_SERVER_FAILED', `${name} failed (${signal ?? `exit ${code}`})${log.tail()}`)),
      );
    });
  } finally {
    forget();
  }
}
