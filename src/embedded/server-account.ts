/**
 * The OS account the embedded server runs as. PostgreSQL refuses to run as root, so as root it runs
 * as `postgres` (created as a system account when missing, as the PostgreSQL packages do); as anyone
 * else it runs as the invoking user, who needs nothing special.
 */
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import { PloaderError } from '../errors.ts';

export interface ServerAccount {
  name: string;
  uid: number;
  gid: number;
}

const SERVER_USER = 'postgres';

/** undefined: the server runs as this process's own user. */
export function serverAccount(): ServerAccount | undefined {
  if (userInfo().uid !== 0) return undefined;
  const found = lookUp(SERVER_USER);
  if (found) return found;
  try {
    execFileSync('groupadd', ['--system', SERVER_USER], { stdio: 'pipe' });
    execFileSync('useradd', ['--system', '--gid', SERVER_USER, '--no-create-home', '--shell', '/usr/sbin/nologin', SERVER_USER], { stdio: 'pipe' });
  } catch (error) {
    const reason = (error as { stderr?: Buffer }).stderr?.toString().trim() || (error as Error).message;
    throw new PloaderError('EMBEDDED_SERVER_FAILED', `PostgreSQL does not run as root, and the OS user ${SERVER_USER} to run it as could not be created (${reason}): create it (useradd --system ${SERVER_USER}), or run as another user`);
  }
  const created = lookUp(SERVER_USER);
  if (!created) throw new PloaderError('EMBEDDED_SERVER_FAILED', `the OS user ${SERVER_USER} was created but cannot be found: check /etc/passwd`);
  return created;
}

function lookUp(name: string): ServerAccount | undefined {
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, name], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim());
    return { name, uid: id('-u'), gid: id('-g') };
  } catch {
    return undefined;
  }
}

/** Whether the account can enter `dir`: every directory on the way must let it search (x). */
export function reachableBy(account: ServerAccount | undefined, dir: string): boolean {
  return blockingDir(account, dir) === undefined;
}

/** The first directory on the way to `dir` that the account cannot enter, if any. */
export function blockingDir(account: ServerAccount | undefined, dir: string): string | undefined {
  if (account === undefined) return undefined;
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    const stat = statSync(at, { throwIfNoEntry: false });
    if (stat) {
      const searchBit = stat.uid === account.uid ? 0o100 : stat.gid === account.gid ? 0o010 : 0o001;
      if ((stat.mode & searchBit) === 0) return at;
    }
    if (at === path.dirname(at)) return undefined;
  }
}
