/**
 * The input file's identity: checked readable before anything is written, and unchanged after the
 * load (a file still being written must not be half-loaded).
 */
import { stat } from 'node:fs/promises';
import { PloaderError } from '../errors.ts';

export interface FileIdentity {
  size: number;
  mtimeMs: number;
}

/** What stat says of a file: its identity, and which file it is (`dev:ino`: the same file under two names). */
export interface FileStat extends FileIdentity {
  inode: string;
}

export async function checkInputFile(file: string): Promise<FileStat> {
  let info;
  try {
    info = await stat(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new PloaderError('INPUT_UNREADABLE', `cannot read ${file}: ${reason} — check the path`, { position: { file }, cause: error });
  }
  if (!info.isFile()) {
    throw new PloaderError('INPUT_UNREADABLE', `${file} is not a regular file (it is a ${info.isDirectory() ? 'directory' : 'special file'}) — name the file to load`, { position: { file } });
  }
  return { size: info.size, mtimeMs: info.mtimeMs, inode: `${info.dev}:${info.ino}` };
}

export async function checkInputUnchanged(file: string, before: FileIdentity): Promise<void> {
  const after = await checkInputFile(file);
  if (after.size !== before.size || after.mtimeMs !== before.mtimeMs) {
    throw new PloaderError(
      'INPUT_CHANGED',
      `${file} changed while it was being loaded (size ${before.size} → ${after.size} bytes): nothing was loaded — load it again once it is complete`,
      { position: { file } },
    );
  }
}
