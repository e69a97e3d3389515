/**
 * Serial and identity ids in file order (issue 11 item 3): every row gets exactly the id one plain
 * COPY of the file gives it, compared row by row with a twin table, at 1, 2 and 3 workers and chunk
 * sizes from one byte up; also with an identity column stepping by 3, a target that already holds
 * rows, a gzip stream, a role that cannot lock the sequence, and bad rows set aside.
 */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { load } from '../../src/load.ts';
import { useTestDatabase } from '../support/database.ts';
import { plainCopy, useTempDir } from '../support/fixtures.ts';

const db = useTestDatabase();
const write = useTempDir();
const COLUMNS = ['username', 'link', 'score'];

/** 3,000 records, a quoted newline in every fifth. */
const records = Array.from({ length: 3000 }, (_, i) => (i % 5 === 0 ? `u${i},"multi\nline ${i}",1\n` : `u${i},link ${i},-1\n`));
const file = write('votes.csv', records.join(''));

async function freshPair(ddl: (name: string) => string, existing = 0): Promise<void> {
  await db.client.query(`DROP TABLE IF EXISTS votes, twin; ${ddl('votes')}; ${ddl('twin')};`);
  for (const table of ['votes', 'twin']) {
    if (existing > 0) await db.client.query(`INSERT INTO ${table} (username, link, score) SELECT 'old' || g, 'old', 1 FROM generate_series(1, ${existing}) g`);
  }
}

/** Every row of both tables in id order: they must be the same list. */
async function expectSameIds(id: string, source = file): Promise<void> {
  await plainCopy(db.client, `COPY twin (${COLUMNS.join(', ')}) FROM STDIN (FORMAT csv)`, source);
  const rows = async (table: string) => (await db.client.query(`SELECT ${id}::text AS id, username, link FROM ${table} ORDER BY ${id}`)).rows;
  const [loaded, copied] = [await rows('votes'), await rows('twin')];
  expect(loaded.length).toBe(copied.length);
  expect(loaded).toEqual(copied);
  const last = async (table: string) => (await db.client.query(`SELECT last_value::text AS v FROM ${(await db.client.query(`SELECT pg_get_serial_sequence('${table}', '${id}') AS s`)).rows[0].s}`)).rows[0].v;
  expect(await last('votes')).toBe(await last('twin'));
}

const serial = (name: string) => `CREATE TABLE ${name} (voteid serial PRIMARY KEY, username text NOT NULL, link text NOT NULL, score int NOT NULL)`;
const identity = (name: string) => `CREATE TABLE ${name} (voteid bigint GENERATED ALWAYS AS IDENTITY (START WITH 10 INCREMENT BY 3) PRIMARY KEY, username text NOT NULL, link text NOT NULL, score int NOT NULL)`;

describe('ids in file order, row by row as one COPY gives them', () => {
  it.each([
    { workers: 1, chunkBytes: undefined },
    { workers: 2, chunkBytes: 4096 },
    { workers: 3, chunkBytes: 700 },
    // A chunk per record: the first 80 records only, to keep connections few.
    { workers: 3, chunkBytes: 1, source: write('first-80.csv', records.slice(0, 80).join('')) },
  ])('serial, $workers workers, chunks of $chunkBytes bytes', async ({ workers, chunkBytes, source = file }) => {
    await freshPair(serial);
    // Both sequences past their start, at the same point, as after earlier loads.
    await db.client.query(`SELECT setval('votes_voteid_seq', 41), setval('twin_voteid_seq', 41)`);
    const report = await load({ file: source, table: 'votes', db: db.url, columns: COLUMNS, workers, chunkBytes });
    expect(report.rows).toBeGreaterThan(0);
    await expectSameIds('voteid', source);
  });

  it.each([{ workers: 2, chunkBytes: 2048 }, { workers: 3, chunkBytes: 5000 }])('identity ALWAYS, increment 3, $workers workers, chunks of $chunkBytes', async ({ workers, chunkBytes }) => {
    await freshPair(identity);
    await load({ file, table: 'votes', db: db.url, columns: COLUMNS, workers, chunkBytes });
    await expectSameIds('voteid');
  });

  it('a target that already holds rows: the new ids follow the old ones in file order', async () => {
    await freshPair(serial, 25);
    const report = await load({ file, table: 'votes', db: db.url, columns: COLUMNS, workers: 3, chunkBytes: 3000 });
    expect(report.strategy.publish).toBe('insert');
    await expectSameIds('voteid');
  });

  it('a gzip stream: ids reserved batch by batch, still in file order', async () => {
    await freshPair(serial);
    const gz = write('votes.csv.gz', gzipSync(records.join('')));
    await load({ file: gz, table: 'votes', db: db.url, columns: COLUMNS, workers: 3, chunkBytes: 4096 });
    await expectSameIds('voteid');
  });

  it('a role that does not own the sequence draws the ids one by one, in file order, and says so', async (context) => {
    const { rows: [me] } = await db.client.query('SELECT rolsuper OR rolcreaterole AS can FROM pg_roles WHERE rolname = current_user');
    // The suite needs only LOGIN and CREATEDB: without CREATEROLE there is no second role to load as.
    if (!me.can) return context.skip();
    await freshPair(serial, 3);
    await db.client.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ploader_ids_inserter') THEN CREATE ROLE ploader_ids_inserter LOGIN; END IF; END $$`);
    // Roles are shared by every database of the server: set the password this test uses, whatever it was.
    await db.client.query(`ALTER ROLE ploader_ids_inserter LOGIN PASSWORD 'ploader_ids_inserter'`);
    await db.client.query(`GRANT USAGE, CREATE ON SCHEMA public TO ploader_ids_inserter; GRANT SELECT, INSERT ON votes TO ploader_ids_inserter; GRANT USAGE ON SEQUENCE votes_voteid_seq TO ploader_ids_inserter`);
    const url = new URL(db.url);
    url.username = 'ploader_ids_inserter';
    url.password = 'ploader_ids_inserter';
    const report = await load({ file, table: 'votes', db: url.toString(), columns: COLUMNS, workers: 2, chunkBytes: 5000 });
    expect(report.warnings.join('\n')).toMatch(/ids of column "voteid" were drawn one by one from "public"\."votes_voteid_seq" \(the current role does not own it/);
    await expectSameIds('voteid');
  });

  it('a bad row set aside keeps its id unused: the kept rows have the ids of the file with that row fixed', async () => {
    await freshPair(serial);
    const bad = [...records];
    bad[1234] = 'u1234,link,notanumber\n';
    const dirty = write('dirty.csv', bad.join(''));
    const report = await load({ file: dirty, table: 'votes', db: db.url, columns: COLUMNS, workers: 3, chunkBytes: 4096, maxErrors: 10 });
    expect(report.rejected).toBe(1);
    // The twin takes the clean file; the one record ploader set aside is the only difference.
    await plainCopy(db.client, `COPY twin (${COLUMNS.join(', ')}) FROM STDIN (FORMAT csv)`, file);
    await db.client.query(`DELETE FROM twin WHERE username = 'u1234'`);
    const rows = async (table: string) => (await db.client.query(`SELECT voteid, username, link FROM ${table} ORDER BY voteid`)).rows;
    expect(await rows('votes')).toEqual(await rows('twin'));
  });

  it('long good runs between bad rows go as COPYs of their own bytes, the ids still those of the file', async () => {
    await freshPair(serial);
    const bad = [...records];
    for (const at of [700, 701, 1500, 2999]) bad[at] = `u${at},link,notanumber\n`;
    const dirty = write('dirty-runs.csv', bad.join(''));
    // One chunk per worker: runs of hundreds of records before, between and after the bad rows.
    const report = await load({ file: dirty, table: 'votes', db: db.url, columns: COLUMNS, workers: 1, maxErrors: 10 });
    expect(report.rejected).toBe(4);
    await plainCopy(db.client, `COPY twin (${COLUMNS.join(', ')}) FROM STDIN (FORMAT csv)`, file);
    await db.client.query(`DELETE FROM twin WHERE username IN ('u700', 'u701', 'u1500', 'u2999')`);
    const rows = async (table: string) => (await db.client.query(`SELECT voteid, username, link, score FROM ${table} ORDER BY voteid`)).rows;
    expect(await rows('votes')).toEqual(await rows('twin'));
  });
});
