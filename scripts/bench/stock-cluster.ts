/**
 * `--pg-bin DIR`: a throwaway cluster made with the PostgreSQL binaries in DIR (e.g. Debian's
 * /usr/lib/postgresql/15/bin), so the benchmark runs on the server users have rather than the
 * embedded one. initdb with `--locale=C.UTF-8`, the libc collation stock Debian clusters get;
 * password (scram) auth over TCP, as a remote server would ask.
 *
 * PostgreSQL refuses to run as root, so as root initdb and pg_ctl run as the `postgres` OS user and
 * the data directory goes under /var/tmp, which that user can reach. The directory is removed by
 * `stop()`, and on exit and Ctrl-C (an immediate shutdown, synchronously, from the exit handler).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chownSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import { findFreePort, type ServerSettings } from '../../src/embedded/embedded-server.ts';

const SUPERUSER = 'postgres';
const PASSWORD = 'ploader-bench';
const PARENT_DIR = '/var/tmp';
/** What stock Debian clusters are initialised with (`pg_createcluster` takes the system locale, C.UTF-8 on a minimal system). */
export const STOCK_LOCALE = 'C.UTF-8';

export interface StockCluster {
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

export async function startStockCluster(binDir: string, settings: ServerSettings): Promise<StockCluster> {
  for (const tool of ['initdb', 'pg_ctl', 'postgres']) {
    if (!existsSync(path.join(binDir, tool))) {
      throw new Error(`--pg-bin ${binDir} holds no ${tool}: give the directory of a PostgreSQL installation's binaries, e.g. /usr/lib/postgresql/15/bin`);
    }
  }
  const owner = clusterOwner();
  const dataDir = path.join(PARENT_DIR, `ploader-bench-pg-${process.pid}-${randomBytes(4).toString('hex')}`);
  const port = await findFreePort();
  let stopped = false;
  const removeNow = () => {
    if (stopped) return;
    stopped = true;
    if (existsSync(path.join(dataDir, 'postmaster.pid'))) run(owner, path.join(binDir, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], false);
    rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  };
  // 'exit' runs synchronous work only, so the shutdown is synchronous too; a signal becomes an exit.
  const onSignal = () => process.exit(130);
  process.once('exit', removeNow);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    mkdirSync(dataDir, { mode: 0o700 });
    const pwfile = `${dataDir}.pw`;
    writeFileSync(pwfile, PASSWORD, { mode: 0o600 });
    if (owner) {
      chownSync(dataDir, owner.uid, owner.gid);
      chownSync(pwfile, owner.uid, owner.gid);
    }
    try {
      run(owner, path.join(binDir, 'initdb'), ['-D', dataDir, '-U', SUPERUSER, `--pwfile=${pwfile}`, '--auth=scram-sha-256', '--encoding=UTF8', `--locale=${STOCK_LOCALE}`]);
    } finally {
      rmSync(pwfile, { force: true });
    }
    // Settings go into postgresql.conf (later lines win), not through pg_ctl -o, which passes them through a shell.
    const conf = { listen_addresses: '127.0.0.1', unix_socket_directories: dataDir, port, ...settings };
    appendFileSync(path.join(dataDir, 'postgresql.conf'), Object.entries(conf).map(([name, value]) => `${name} = ${confValue(value)}\n`).join(''));
    run(owner, path.join(binDir, 'pg_ctl'), ['-D', dataDir, '-l', path.join(dataDir, 'server.log'), '-w', 'start']);
  } catch (error) {
    removeNow();
    throw error;
  }
  return {
    url: `postgres://${SUPERUSER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    dataDir,
    async stop() {
      process.removeListener('exit', removeNow);
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      if (stopped) return;
      run(owner, path.join(binDir, 'pg_ctl'), ['-D', dataDir, '-m', 'fast', '-w', 'stop'], false);
      removeNow();
    },
  };
}

function clusterOwner(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  try {
    return { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) };
  } catch {
    throw new Error('--pg-bin as root needs an OS user "postgres" to run the server as (PostgreSQL refuses root): create it, or run the benchmark as another user');
  }
}

function run(owner: { uid: number; gid: number } | undefined, command: string, args: string[], check = true): void {
  const result = spawnSync(command, args, { ...owner, cwd: PARENT_DIR, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (check && result.status !== 0) {
    throw new Error(`${path.basename(command)} ${args[args.length - 1]} failed (exit ${result.status}): ${(result.stderr || result.stdout || String(result.error)).trim()}`);
  }
}

/** A postgresql.conf value: a quoted string, with quotes doubled. */
function confValue(value: string | number | boolean): string {
  return `'${String(value).replace(/'/g, "''")}'`;
}
