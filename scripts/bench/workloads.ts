/** The benchmark's input: one generated file, reused while its marker says it is complete; and how it is COPYed. */
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { NASTY_COLUMNS, NASTY_INDEX_DDL, NASTY_TABLE_DDL, writeNastyFile } from '../nasty-data.ts';
import { VOTES_INDEX_DDL, VOTES_TABLE_DDL, writeVotesFile } from '../votes-data.ts';
import type { BenchOptions } from './options.ts';

export interface Workload {
  name: 'votes' | 'nasty';
  table: string;
  file: string;
  rows: number;
  bytes: number;
  columns: string[];
  /** CREATE TABLE with the primary key. */
  tableDdl: string;
  primaryKey: { constraint: string; columns: string };
  indexDdl: readonly string[];
}

export async function prepareWorkload(options: Pick<BenchOptions, 'workload' | 'rows' | 'bytes' | 'seed' | 'fileDir' | 'log'>): Promise<Workload> {
  await mkdir(options.fileDir, { recursive: true });
  const votes = options.workload === 'votes';
  const file = path.join(options.fileDir, votes ? `votes-${options.rows}-seed${options.seed}.csv` : `nasty-${options.bytes}-seed${options.seed}.csv`);
  let made = await readDoneMarker(file);
  if (made) {
    options.log(`reusing ${file}`);
  } else {
    const started = performance.now();
    made = votes
      ? { rows: options.rows, bytes: await writeVotesFile(file, { rows: options.rows, seed: options.seed }) }
      : await writeNastyFile(file, { bytes: options.bytes, seed: options.seed });
    // Written last: a file cut short by a crash is never reused.
    await writeFile(doneMarker(file), JSON.stringify(made));
    options.log(`generated ${file} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  return votes
    ? {
        name: 'votes', table: 'votes', file, ...made, columns: ['username', 'link', 'score'], tableDdl: VOTES_TABLE_DDL,
        primaryKey: { constraint: 'votes_pkey', columns: 'voteid' }, indexDdl: VOTES_INDEX_DDL,
      }
    : {
        name: 'nasty', table: 'nasty', file, ...made, columns: NASTY_COLUMNS, tableDdl: NASTY_TABLE_DDL,
        primaryKey: { constraint: 'nasty_pkey', columns: 'id' }, indexDdl: NASTY_INDEX_DDL,
      };
}

export async function discardWorkloadFile({ file }: Pick<Workload, 'file'>): Promise<void> {
  await rm(doneMarker(file), { force: true });
  await rm(file, { force: true });
}

function doneMarker(file: string): string {
  return `${file}.done.json`;
}

async function readDoneMarker(file: string): Promise<{ rows: number; bytes: number } | undefined> {
  try {
    const made = JSON.parse(await readFile(doneMarker(file), 'utf8')) as { rows: number; bytes: number };
    return (await stat(file)).size === made.bytes ? made : undefined;
  } catch {
    return undefined;
  }
}

export function copySql(workload: Workload): string {
  return `COPY ${workload.table} (${workload.columns.join(', ')}) FROM STDIN (FORMAT csv)`;
}

/** COPY of the byte range [start, end) of `file` (all of it by default); returns the server's row count. */
export async function copyFile(client: pg.Client, sql: string, file: string, range: { start: number; end?: number } = { start: 0 }): Promise<number> {
  const { start, end } = range;
  const copy = client.query(copyFrom(sql));
  await pipeline(createReadStream(file, { start, end: end === undefined ? undefined : end - 1, highWaterMark: 1 << 20 }), copy);
  return copy.rowCount ?? 0;
}

/** The offset just past the first LF at or after `offset` (a record start in a file without quoted newlines). */
export async function nextLineStart(file: string, offset: number): Promise<number> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(1 << 16);
    for (let position = offset; ; position += buffer.length) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) return position;
      const lf = buffer.subarray(0, bytesRead).indexOf(0x0a);
      if (lf >= 0) return position + lf + 1;
    }
  } finally {
    await handle.close();
  }
}
