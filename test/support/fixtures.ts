/**
 * Small nasty input files, written to a temp dir per test file, and a plain-COPY oracle to compare with.
 */
import { mkdtempSync, writeFileSync, createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { afterAll } from 'vitest';
import { rmSync } from 'node:fs';

export function useTempDir(): (name: string, content: string | Buffer) => string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ploader-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return (name, content) => {
    const file = path.join(dir, name);
    writeFileSync(file, content);
    return file;
  };
}

/** Loads `file` with one plain COPY — what ploader's result must equal. */
export async function plainCopy(client: pg.Client, sql: string, file: string): Promise<number> {
  const copy = client.query(copyFrom(sql));
  await pipeline(createReadStream(file), copy);
  return copy.rowCount ?? 0;
}
