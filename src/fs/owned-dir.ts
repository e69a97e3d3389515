/**
 * Directories ploader keeps under a shared temp dir (/tmp is writable by everyone): it only uses one
 * that this user owns and nobody else can write to, so another local user cannot plant the files a
 * root process would then run (the PostgreSQL binaries, the development worker bundle).
 */
import { chmodSync, lstatSync, mkdirSync } from 'node:fs';

/** Creates `dir` with `mode` if missing; throws unless it is this user's own and writable only by it. */
export function ensureOwnedDir(dir: string, mode: number): void {
  try {
    mkdirSync(dir, { mode });
    chmodSync(dir, mode); // mkdir's mode is filtered by the umask
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  checkOwnedDir(dir);
}

export function checkOwnedDir(dir: string): void {
  const stat = lstatSync(dir);
  const uid = process.getuid?.() ?? stat.uid;
  if (!stat.isDirectory() || stat.uid !== uid || (stat.mode & 0o022) !== 0) {
    throw new Error(`${dir} is not a directory of this user's own (owner uid ${stat.uid}, mode ${(stat.mode & 0o7777).toString(8)}): remove it and try again`);
  }
}
