/**
 * Proves the harness end to end: a real server, this file's own database, rows sent through
 * pg-copy-streams, and the count and checksum read back.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import { describe, expect, it } from 'vitest';
import { tableFingerprint, useTestDatabase } from '../support/database.ts';

const db = useTestDatabase();

describe('test harness', () => {
  it('runs on a real PostgreSQL server in a database of its own', async () => {
    const { rows } = await db.client.query('SELECT current_database() AS name, version() AS version');
    expect(rows[0].name).toMatch(/^ploader_test_/);
    expect(rows[0].version).toMatch(/^PostgreSQL \d+/);
  });

  it('COPYs rows through pg-copy-streams and reads back the count and checksum', async () => {
    await db.client.query('CREATE TABLE votes (id int primary key, username text not null, score int)');
    const lines = Array.from({ length: 1000 }, (_, i) => `${i}\tuser_${i % 37}\t${i % 2 ? 1 : -1}\n`);
    const copy = db.client.query(copyFrom('COPY votes (id, username, score) FROM STDIN'));
    await pipeline(Readable.from(lines), copy);
    expect(copy.rowCount).toBe(1000);

    const loaded = await tableFingerprint(db.client, 'votes', ['id', 'username', 'score']);
    await db.client.query('CREATE TABLE expected AS SELECT g AS id, \'user_\' || (g % 37) AS username, CASE WHEN g % 2 = 1 THEN 1 ELSE -1 END AS score FROM generate_series(0, 999) g');
    const expected = await tableFingerprint(db.client, 'expected', ['id', 'username', 'score']);
    expect(loaded).toEqual(expected);
    expect(loaded.rows).toBe(1000);
  });
});
