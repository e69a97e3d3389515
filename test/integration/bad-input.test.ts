/**
 * Bad input and environment: each gets a clear error before anything is written, and the target
 * is left as it was.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PloaderError } from '../../src/errors.ts';
import { load } from '../../src/load.ts';
import { tableFingerprint, useTestDatabase } from '../support/database.ts';
import { useTempDir } from '../support/fixtures.ts';

const db = useTestDatabase();
const write = useTempDir();
const file = write('votes.csv', Array.from({ length: 2000 }, (_, i) => `user_${i},link ${i},1\n`).join(''));
const COLUMNS = ['username', 'link', 'score'];

async function fresh(check = ''): Promise<{ rows: number; checksum: string }> {
  await db.client.query(`
    DROP TABLE IF EXISTS votes;
    CREATE OR REPLACE FUNCTION slow_ok(int) RETURNS boolean LANGUAGE sql AS 'SELECT pg_sleep(0.001) IS NOT NULL';
    CREATE TABLE votes (voteid serial PRIMARY KEY, username text NOT NULL, link text NOT NULL, score int NOT NULL ${check});
    INSERT INTO votes (username, link, score) VALUES ('kept', 'kept', 1);
  `);
  return tableFingerprint(db.client, 'votes', ['voteid', 'username', 'link', 'score']);
}

async function expectUntouched(before: { rows: number; checksum: string }): Promise<void> {
  expect(await tableFingerprint(db.client, 'votes', ['voteid', 'username', 'link', 'score'])).toEqual(before);
  const { rows } = await db.client.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE 'ploader%' AND relkind = 'r'`);
  expect(rows[0].n).toBe(0);
}

async function failure(promise: Promise<unknown>): Promise<PloaderError> {
  const error = await promise.catch((e: unknown) => e);
  expect(error).toBeInstanceOf(PloaderError);
  return error as PloaderError;
}

describe('bad input', () => {
  it('a directory instead of a file', async () => {
    const before = await fresh();
    const dir = write('a-directory.csv', '').replace(/a-directory\.csv$/, 'dir.csv');
    mkdirSync(dir);
    const error = await failure(load({ file: dir, table: 'votes', db: db.url, columns: COLUMNS }));
    expect(error.code).toBe('INPUT_UNREADABLE');
    expect(error.message).toMatch(/is not a regular file \(it is a directory\)/);
    await expectUntouched(before);
  });

  it('an unknown column, naming the columns there are', async () => {
    const before = await fresh();
    const error = await failure(load({ file, table: 'votes', db: db.url, columns: ['username', 'lnk', 'score'] }));
    expect(error.code).toBe('TARGET_INVALID');
    expect(error.message).toMatch(/column "lnk" does not exist in "public"\."votes" — its columns are "voteid", "username", "link", "score"/);
    await expectUntouched(before);
  });

  it('no INSERT privilege on the table', async () => {
    const before = await fresh();
    // A superuser passes every privilege check: it tries as a role of its own with SELECT only. Any other
    // user (who may lack CREATEROLE) revokes INSERT from itself, which an owner may do.
    const { rows: [me] } = await db.client.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_roles WHERE rolname = current_user');
    const url = new URL(db.url);
    if (me.rolsuper) {
      await db.client.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ploader_reader') THEN CREATE ROLE ploader_reader LOGIN PASSWORD 'reader'; END IF; END $$`);
      await db.client.query('GRANT SELECT ON votes TO ploader_reader');
      url.username = 'ploader_reader';
      url.password = 'reader';
    } else {
      await db.client.query('REVOKE INSERT ON votes FROM CURRENT_USER');
    }
    const error = await failure(load({ file, table: 'votes', db: url.toString(), columns: COLUMNS }));
    expect(error.code).toBe('TARGET_INVALID');
    expect(error.message).toMatch(/permission denied: the current user may not INSERT into votes — ask its owner \(\w+\) to GRANT INSERT/);
    await expectUntouched(before);
  });

  it('a file that grows while it is being loaded: nothing is published', async () => {
    const before = await fresh('CHECK (slow_ok(score))');
    const growing = write('growing.csv', Array.from({ length: 2000 }, (_, i) => `user_${i},link ${i},1\n`).join(''));
    const loading = load({
      file: growing,
      table: 'votes',
      db: db.url,
      columns: COLUMNS,
      workers: 2,
      chunkBytes: 4096,
      onProgress: (event) => {
        if (event.kind === 'chunk' && event.chunk === 0) appendFileSync(growing, 'late,row,1\n');
      },
    });
    const error = await failure(loading);
    expect(error.code).toBe('INPUT_CHANGED');
    expect(error.message).toMatch(/changed while it was being loaded .* load it again once it is complete/);
    await expectUntouched(before);
  });
});
