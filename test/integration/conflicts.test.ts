/**
 * --on-conflict: duplicate unique keys in the file (and against rows already in the target) are
 * refused with their input lines (error), keep the first (skip) or keep the last (update).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PloaderError } from '../../src/errors.ts';
import { load } from '../../src/load.ts';
import { useTestDatabase } from '../support/database.ts';
import { useTempDir } from '../support/fixtures.ts';

const db = useTestDatabase();
const write = useTempDir();

// 300 records, a quoted newline in every fifth; emails e7, e150 and e151 come back later in the file.
const records: Array<{ email: string; name: string; value: string; line: number; text: string }> = [];
let line = 1;
for (let i = 1; i <= 300; i++) {
  const email = i === 200 ? 'e7' : i === 250 ? 'e150' : i === 299 ? 'e7' : `e${i}`;
  const value = i % 5 === 0 ? `name ${i}\nsecond line` : `name ${i}`;
  const name = i % 5 === 0 ? `"${value}"` : value;
  const text = `${email},${name}\n`;
  records.push({ email, name, value, line, text });
  line += text.split('\n').length - 1;
}
const file = write('users.csv', records.map((r) => r.text).join(''));
const at = (n: number) => records[n - 1];

async function freshTarget(existing: string[] = []): Promise<void> {
  await db.client.query(`
    DROP TABLE IF EXISTS users;
    CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL UNIQUE, name text);
  `);
  for (const email of existing) await db.client.query(`INSERT INTO users (email, name) VALUES ($1, 'existing')`, [email]);
}

async function namesByEmail(): Promise<Record<string, string>> {
  const { rows } = await db.client.query('SELECT email, name FROM users');
  return Object.fromEntries(rows.map((r) => [r.email, r.name]));
}

const options = { file, table: 'users', columns: ['email', 'name'], workers: 2, chunkBytes: 1000 };

describe('--on-conflict', () => {
  it('error (the default): nothing loaded, the message names the input lines of each duplicate', async () => {
    await freshTarget();
    const failure = (await load({ ...options, db: db.url }).catch((e: unknown) => e)) as PloaderError;
    expect(failure).toBeInstanceOf(PloaderError);
    expect(failure.code).toBe('DUPLICATE_KEY');
    for (const n of [7, 200, 299, 150, 250]) expect(failure.message).toContain(`${file}:${at(n).line}: duplicate key (email)=(${at(n).email})`);
    const { rows } = await db.client.query(`SELECT (SELECT count(*)::int FROM users) AS n, (SELECT count(*)::int FROM pg_class WHERE relname LIKE 'ploader%') AS stages`);
    expect(rows[0]).toEqual({ n: 0, stages: 0 });
  });

  it('skip: keeps the first occurrence and sets the later ones aside with their lines', async () => {
    await freshTarget();
    const report = await load({ ...options, db: db.url, onConflict: 'skip', rejectFile: undefined });
    expect(report.rows).toBe(297);
    expect(report.rejected).toBe(3);
    const names = await namesByEmail();
    expect(names.e7).toBe('name 7');
    expect(names.e150).toBe('name 150\nsecond line');
    expect(readFileSync(`${file}.rejects`, 'utf8')).toBe([200, 250, 299].map((n) => at(n).text).join(''));
    const log = readFileSync(`${file}.rejects.log`, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log.map((r) => [r.line, r.record, r.sqlstate])).toEqual([200, 250, 299].map((n) => [at(n).line, n, '23505']));
    // The published table is the swapped stage: the locator column is gone from what users see.
    const { rows } = await db.client.query(`SELECT array_agg(attname::text ORDER BY attnum) AS cols FROM pg_attribute WHERE attrelid = 'users'::regclass AND attnum > 0 AND NOT attisdropped`);
    expect(rows[0].cols).toEqual(['id', 'email', 'name']);
  });

  it('update: keeps the last occurrence', async () => {
    await freshTarget();
    const report = await load({ ...options, db: db.url, onConflict: 'update' });
    expect(report.rows).toBe(297);
    const names = await namesByEmail();
    expect(names.e7).toBe(at(299).value);
    expect(names.e150).toBe(at(250).value);
  });

  it('skip when appending: rows already in the target win', async () => {
    await freshTarget(['e10', 'e20']);
    const report = await load({ ...options, db: db.url, onConflict: 'skip' });
    expect(report.strategy.publish).toBe('insert');
    expect(report.published).toBe('insert');
    expect(report.rows).toBe(295);
    const names = await namesByEmail();
    expect([names.e10, names.e20, names.e7]).toEqual(['existing', 'existing', 'name 7']);
    const { rows } = await db.client.query('SELECT count(*)::int AS n FROM users');
    expect(rows[0].n).toBe(297);
  });

  it('update when appending: existing rows take the file\'s values and keep their ids', async () => {
    await freshTarget(['e10']);
    const { rows: [before] } = await db.client.query(`SELECT id FROM users WHERE email = 'e10'`);
    await load({ ...options, db: db.url, onConflict: 'update' });
    const { rows: [after] } = await db.client.query(`SELECT id, name FROM users WHERE email = 'e10'`);
    expect(after).toEqual({ id: before.id, name: at(10).value });
    const { rows } = await db.client.query('SELECT count(*)::int AS n FROM users');
    expect(rows[0].n).toBe(297);
  });
});
