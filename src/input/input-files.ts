/**
 * The input files of a load, checked before anything is written: each readable, none the same file
 * as another under a second name (a link: its rows would load twice), and, when the header names the
 * columns (`--header match`, `--header names`), every file's header naming the same ones in the same
 * order. The files are loaded with one column list, as one COPY statement of each would be run.
 */
import path from 'node:path';
import { PloaderError } from '../errors.ts';
import type { ResolvedLoadOptions } from '../options.ts';
import { fieldSyntaxOf, type FieldValue } from './first-record.ts';
import { checkInputFile, checkInputUnchanged } from './input-file.ts';
import { firstRecordOf, readFileHead, type InputHead } from './input-head.ts';
import { syntaxOf } from './split.ts';

/** One input file: its name as given, and what the run ledger records of it (absolute path, size, mtime). */
export interface InputFile {
  file: string;
  identity: { file: string; size: number; mtimeMs: number };
}

/** Each file checked readable, in order; the same file twice (by device and inode) is refused. */
export async function inspectFiles(files: readonly string[]): Promise<InputFile[]> {
  const seen = new Map<string, string>();
  const inspected: InputFile[] = [];
  for (const file of files) {
    const { size, mtimeMs, inode } = await checkInputFile(file);
    const earlier = seen.get(inode);
    if (earlier !== undefined) {
      throw new PloaderError('INVALID_OPTION', `${file} is the same file as ${earlier} (a link to it): its rows would be loaded twice — name it once`, { position: { file } });
    }
    seen.set(inode, file);
    inspected.push({ file, identity: { file: path.resolve(file), size, mtimeMs } });
  }
  return inspected;
}

/** After the load: no file changed while it was read (a file still being written must not be half-loaded). */
export async function checkFilesUnchanged(files: readonly InputFile[]): Promise<void> {
  for (const { file, identity } of files) await checkInputUnchanged(file, identity);
}

/**
 * --header match or names over several files: each later file's header must equal the first's (of
 * the first file that is not empty), field for field; an empty file has none, and loads nothing, as
 * COPY with HEADER loads nothing from it.
 * A header in another order would need a column list of its own; ploader loads every file with one.
 */
export async function checkHeadersAgree(options: ResolvedLoadOptions, first: { file: string; head: InputHead | undefined }): Promise<void> {
  if (options.files.length < 2 || (options.headerMode !== 'match' && options.headerMode !== 'names')) return;
  const syntax = fieldSyntaxOf(options);
  const fields = firstRecordOf(first.head, syntax);
  if (!fields) return;
  for (const file of options.files.slice(options.files.indexOf(first.file) + 1)) {
    const header = firstRecordOf(await readFileHead(file, syntaxOf(options), 0), syntax);
    if (!header) continue;
    const difference = headerDifference({ file: first.file, fields }, header);
    if (difference === undefined) continue;
    throw new PloaderError(
      'TARGET_INVALID',
      `--header ${options.headerMode}: ${difference} — the files are loaded with one column list, so every header must name the same columns in the same order: reorder ${file}'s columns to match, or load it in a run of its own`,
      { position: { file, line: 1 } },
    );
  }
}

/**
 * Pure: how a header differs from the first file's (`header field 2 is "score", but a.csv's is
 * "link"`), or undefined when it is the same, field for field.
 */
export function headerDifference(first: { file: string; fields: readonly FieldValue[] }, other: readonly FieldValue[]): string | undefined {
  const show = (name: FieldValue) => (name === null ? 'NULL' : JSON.stringify(name));
  const index = other.findIndex((name, i) => i < first.fields.length && name !== first.fields[i]);
  if (index >= 0) return `header field ${index + 1} is ${show(other[index])}, but ${first.file}'s is ${show(first.fields[index])}`;
  if (other.length !== first.fields.length) return `the header has ${other.length} field${other.length === 1 ? '' : 's'}, ${first.file}'s ${first.fields.length}`;
  return undefined;
}
