/**
 * What the target looks like after a load: the swap keeps everything that hung on the table; an
 * append adds exactly the new rows; --truncate replaces the rows; --dry-run changes nothing.
 */
import { describe, expect, it } from 'vitest';
import { load } from '../../src/load.ts';
import { tableFingerprint, useTestDatabase } from '../support/database.ts';
import { useTempDir } from '../support/fixtures.ts';

const db = useTestDatabase();
const write = useTempDir();
const rows = Array.from({ length: 500 }, (_, i) => `user_${i % 50},"link ${i}\nline two",${i % 2 ? 1 : -1}\n`).join('');
const file = write('votes.csv', rows);
const COLUMNS = ['username', 'link', 'score'];

async function catalogSnapshot() {
  const { client } = db;
  const q = async (sql: string) => (await client.query(sql)).rows;
  return {
    indexes: await q(`SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS def FROM pg_index WHERE indrelid = 'app.votes'::regclass ORDER BY 1`),
    constraints: await q(`SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'app.votes'::regclass ORDER BY 1`),
    referencing: await q(`SELECT conname, conrelid::regclass::text AS t, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE confrelid = 'app.votes'::regclass ORDER BY 1`),
    triggers: await q(`SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'app.votes'::regclass AND NOT tgisinternal ORDER BY 1`),
    table: await q(`SELECT relname, relpersistence, pg_get_userbyid(relowner) AS owner, relacl::text AS acl, obj_description(oid, 'pg_class') AS comment, reloptions FROM pg_class WHERE oid = 'app.votes'::regclass`),
    // User-visible columns (a swapped-in stage that checked duplicate keys keeps a dropped locator column).
    columnComments: await q(`SELECT attname, col_description(attrelid, attnum) AS comment FROM pg_attribute WHERE attrelid = 'app.votes'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`),
    sequenceOwner: await q(`SELECT pg_get_serial_sequence('app.votes', 'voteid') AS seq`),
    view: await q(`SELECT pg_get_viewdef('app.vote_totals'::regclass) AS def`),
    leftovers: await q(`SELECT relname FROM pg_class WHERE relname LIKE 'ploader%'`),
  };
}

describe('publishing into an empty target (swap)', () => {
  it('keeps indexes, constraints, triggers, grants, comments, owner, views and foreign keys, and is logged', async () => {
    const { client } = db;
    await client.query(`
      DROP SCHEMA IF EXISTS app CASCADE; CREATE SCHEMA app;
      CREATE TABLE app.users (name text PRIMARY KEY);
      INSERT INTO app.users SELECT 'user_' || g FROM generate_series(0, 49) g;
      CREATE TABLE app.votes (
        voteid serial PRIMARY KEY,
        username text NOT NULL REFERENCES app.users (name),
        link text NOT NULL,
        score int NOT NULL CHECK (score IN (-1, 1)),
        UNIQUE (link)
      ) WITH (fillfactor = 90);
      CREATE INDEX votes_username_idx ON app.votes (username);
      CREATE INDEX votes_partial_idx ON app.votes (score) WHERE score > 0;
      CREATE TABLE app.flags (voteid int REFERENCES app.votes (voteid));
      CREATE VIEW app.vote_totals AS SELECT username, sum(score) AS total FROM app.votes GROUP BY username;
      CREATE VIEW app.top_users AS SELECT * FROM app.vote_totals WHERE total > 0;
      CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
      CREATE TRIGGER votes_touch BEFORE UPDATE ON app.votes FOR EACH ROW EXECUTE FUNCTION app.touch();
      CREATE TRIGGER votes_off AFTER DELETE ON app.votes FOR EACH ROW EXECUTE FUNCTION app.touch();
      ALTER TABLE app.votes DISABLE TRIGGER votes_off;
      -- Grants to PUBLIC: a role of its own would need CREATEROLE of whoever runs the tests.
      GRANT SELECT, INSERT ON app.votes TO PUBLIC;
      GRANT UPDATE (score) ON app.votes TO PUBLIC;
      COMMENT ON TABLE app.votes IS 'one row per vote';
      COMMENT ON COLUMN app.votes.link IS 'the voted link';
      COMMENT ON INDEX app.votes_username_idx IS 'by user';
    `);
    const before = await catalogSnapshot();

    const report = await load({ file, table: 'app.votes', db: db.url, columns: COLUMNS, workers: 2, chunkBytes: 2048 });

    expect(report.strategy.publish).toBe('swap');

    expect(report.published).toBe('swap');
    expect(report.rows).toBe(500);
    const after = await catalogSnapshot();
    expect(after).toEqual(before);
    expect(after.table[0].relpersistence).toBe('p');
    expect(after.table[0].acl).toMatch(/[{,]=ar\//); // PUBLIC's SELECT, INSERT survived the swap
    const { rows: [counts] } = await client.query(
      `SELECT (SELECT count(*)::int FROM app.votes) AS votes, (SELECT count(*)::int FROM app.top_users) AS top_users,
              (SELECT has_column_privilege('public', 'app.votes', 'score', 'UPDATE')) AS column_grant`,
    );
    expect(counts).toEqual({ votes: 500, top_users: expect.any(Number), column_grant: true });
    // The foreign key from app.flags now checks against the loaded rows.
    await client.query('INSERT INTO app.flags VALUES (1)');
    await expect(client.query('INSERT INTO app.flags VALUES (100000)')).rejects.toThrow(/foreign key/);
    // And the sequence carries on after the loaded ids.
    const { rows: [next] } = await client.query(`INSERT INTO app.votes (username, link, score) VALUES ('user_1', 'new', 1) RETURNING voteid`);
    expect(next.voteid).toBe(501);
  });
});

describe('appending to a target that holds rows', () => {
  it('adds exactly the new rows and leaves the old ones untouched', async () => {
    const { client } = db;
    await client.query(`
      DROP TABLE IF EXISTS plain_votes;
      CREATE TABLE plain_votes (voteid serial PRIMARY KEY, username text NOT NULL, link text NOT NULL, score int NOT NULL);
      CREATE INDEX plain_votes_link_idx ON plain_votes (link);
      INSERT INTO plain_votes (username, link, score) SELECT 'old_' || g, 'old link', 1 FROM generate_series(1, 100) g;
    `);
    const old = await tableFingerprint(client, 'plain_votes', ['voteid', 'username', 'link', 'score']);

    const report = await load({ file, table: 'plain_votes', db: db.url, columns: COLUMNS, workers: 2, chunkBytes: 4096 });

    expect(report.strategy.publish).toBe('insert');

    expect(report.published).toBe('insert');
    expect(report.rows).toBe(500);
    const { rows } = await client.query(`SELECT count(*)::int AS n, count(*) FILTER (WHERE username LIKE 'old_%')::int AS old, max(voteid) AS max FROM plain_votes`);
    expect(rows[0]).toEqual({ n: 600, old: 100, max: 600 });
    expect(await tableFingerprint(client, "(SELECT * FROM plain_votes WHERE voteid <= 100) o", ['voteid', 'username', 'link', 'score'])).toEqual(old);
  });

  it('replaces the rows with --truncate', async () => {
    const { client } = db;
    const report = await load({ file, table: 'plain_votes', db: db.url, columns: COLUMNS, workers: 2, truncate: true });
    expect(report.strategy.publish).toBe('swap');
    expect(report.published).toBe('swap');
    const { rows } = await client.query(`SELECT count(*)::int AS n, count(*) FILTER (WHERE username LIKE 'old_%')::int AS old FROM plain_votes`);
    expect(rows[0]).toEqual({ n: 500, old: 0 });
    const { rows: indexes } = await client.query(`SELECT indexrelid::regclass::text AS name FROM pg_index WHERE indrelid = 'plain_votes'::regclass ORDER BY 1`);
    expect(indexes.map((r) => r.name)).toEqual(['plain_votes_link_idx', 'plain_votes_pkey']);
  });
});

describe('--dry-run', () => {
  it('prints the plan and loads nothing', async () => {
    const { client } = db;
    await client.query('DROP TABLE IF EXISTS dry; CREATE TABLE dry (voteid serial PRIMARY KEY, username text, link text, score int)');
    const report = await load({ file, table: 'dry', db: db.url, columns: COLUMNS, workers: 2, chunkBytes: 4096, dryRun: true });
    expect(report.dryRun).toBe(true);
    expect(report.plan?.chunks.length).toBeGreaterThan(1);
    expect(report.plan?.copySql).toMatch(/^COPY "public"\."ploader_dry_[0-9a-f]{8}" \("username", "link", "score"\) FROM STDIN \(FORMAT csv\)$/);
    expect(report.plan?.steps.indexes.map((s) => s.sql)).toEqual([expect.stringMatching(/^CREATE UNIQUE INDEX .* USING btree \(voteid\)$/)]);
    const { rows } = await client.query(`SELECT (SELECT count(*)::int FROM dry) AS n, (SELECT count(*)::int FROM pg_class WHERE relname LIKE 'ploader%') AS stages`);
    expect(rows[0]).toEqual({ n: 0, stages: 0 });
  });
});
