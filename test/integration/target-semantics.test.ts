/**
 * What one COPY does to a target, ploader does too: row-level security refuses the load, triggers fire
 * row by row in file order, DDL from other sessions waits for the load instead of being undone, and
 * the table keeps its tablespace, persistence and statistics settings. Each case is compared with a
 * plain COPY into a twin, or with the target's state before.
 */
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { load, PloaderError } from '../../src/index.ts';
import { runCli, startCli } from '../support/cli.ts';
import { dropPloaderTables, ploaderRelations, tableFingerprint, useTestDatabase } from '../support/database.ts';
import { plainCopy, useTempDir } from '../support/fixtures.ts';

const db = useTestDatabase();
const write = useTempDir();
const COLUMNS = ['username', 'link', 'score'];
const file = write('votes.csv', Array.from({ length: 4_000 }, (_, i) => `user_${i % 97},link ${i},${(i % 7) - 3}\n`).join(''));

function urlAs(user: string, password: string): string {
  const url = new URL(db.url);
  url.username = user;
  url.password = password;
  return url.toString();
}

/**
 * A login role whose password is its name (roles are the server's, so it may be there from an earlier
 * run), or undefined when the test user may not create roles (then the test is skipped: the suite needs
 * only LOGIN and CREATEDB).
 */
async function loginRole(name: string): Promise<string | undefined> {
  const { rows: [me] } = await db.client.query('SELECT rolsuper OR rolcreaterole AS can FROM pg_roles WHERE rolname = current_user');
  if (!me.can) return undefined;
  await db.client.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${name}') THEN CREATE ROLE ${name} LOGIN; END IF; END $$`);
  await db.client.query(`ALTER ROLE ${name} LOGIN PASSWORD '${name}'`);
  return urlAs(name, name);
}

async function role(name: string): Promise<string | undefined> {
  const url = await loginRole(name);
  if (url) await db.client.query(`GRANT CREATE ON SCHEMA public TO ${name}`);
  return url;
}

describe('row-level security', () => {
  it('a forced policy that hides the rows: refused as COPY refuses it, and the hidden rows stay', async (context) => {
    const owner = await role('ploader_sem_rls_owner');
    if (!owner) return context.skip();
    await db.client.query(`
      DROP TABLE IF EXISTS secret;
      CREATE TABLE secret (username text, link text, score int);
      INSERT INTO secret SELECT 'hidden', 'row ' || i, i FROM generate_series(1, 1000) i;
      ALTER TABLE secret OWNER TO ploader_sem_rls_owner;
      ALTER TABLE secret ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
      CREATE POLICY nothing_visible ON secret USING (false) WITH CHECK (true);
    `);
    const before = await tableFingerprint(db.client, 'secret', COLUMNS);
    // One COPY as that role:
    const copier = new pg.Client(owner);
    await copier.connect();
    const copyError = await plainCopy(copier, 'COPY secret FROM STDIN (FORMAT csv)', file).catch((e: Error) => e);
    await copier.end();
    expect(copyError).toBeInstanceOf(Error);
    expect((copyError as Error).message).toMatch(/row-level security/);
    const error = await load({ file, table: 'secret', db: owner, columns: COLUMNS, workers: 2 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PloaderError);
    expect((error as PloaderError).code).toBe('TARGET_INVALID');
    expect((error as PloaderError).message).toMatch(/row-level security applies to the current user on "public"\."secret", and COPY FROM refuses such a table/);
    expect(await tableFingerprint(db.client, 'secret', COLUMNS)).toEqual(before);
    expect(before.rows).toBe(1000);
    expect(await ploaderRelations(db.client)).toEqual([]);
  });
});

describe('triggers', () => {
  const setup = (table: string) => `
    DROP TABLE IF EXISTS ${table}, ${table}_audit CASCADE;
    CREATE TABLE ${table} (voteid serial PRIMARY KEY, username text NOT NULL, link text NOT NULL, score int NOT NULL);
    CREATE TABLE ${table}_audit (id serial PRIMARY KEY, what text NOT NULL, voteid int, username text);
    CREATE OR REPLACE FUNCTION ${table}_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.score < -1 THEN RETURN NULL; END IF; NEW.username := upper(NEW.username); RETURN NEW; END $$;
    CREATE OR REPLACE FUNCTION ${table}_row_audit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO ${table}_audit (what, voteid, username) VALUES ('row', NEW.voteid, NEW.username); RETURN NULL; END $$;
    CREATE OR REPLACE FUNCTION ${table}_statement_audit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO ${table}_audit (what) VALUES ('statement'); RETURN NULL; END $$;
    CREATE TRIGGER rewrite BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION ${table}_rewrite();
    CREATE TRIGGER row_audit AFTER INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION ${table}_row_audit();
    CREATE TRIGGER statement_audit AFTER INSERT ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION ${table}_statement_audit();`;

  it('BEFORE and AFTER row triggers and a statement trigger give what one COPY gives, ids and order included', async () => {
    await db.client.query(setup('trig') + setup('trig_twin'));
    await plainCopy(db.client, 'COPY trig_twin (username, link, score) FROM STDIN (FORMAT csv)', file);
    const report = await load({ file, table: 'trig', db: db.url, columns: COLUMNS, workers: 2, chunkBytes: 4096 });
    expect(report.published).toBe('direct');
    expect(report.strategy.reason).toMatch(/the target has triggers \(rewrite, row_audit, statement_audit\) that must fire as one COPY fires them/);
    const all = ['voteid', ...COLUMNS];
    expect(await tableFingerprint(db.client, 'trig', all)).toEqual(await tableFingerprint(db.client, 'trig_twin', all));
    const audit = ['id', 'what', 'voteid', 'username'];
    expect(await tableFingerprint(db.client, 'trig_audit', audit)).toEqual(await tableFingerprint(db.client, 'trig_twin_audit', audit));
    const { rows: [counts] } = await db.client.query(`SELECT (SELECT count(*)::int FROM trig) AS rows, (SELECT count(*)::int FROM trig_audit WHERE what = 'statement') AS statements`);
    expect(counts.rows).toBeLessThan(4000);
    expect(counts.statements).toBe(1);
    expect(report.rows).toBe(counts.rows);
    expect(await ploaderRelations(db.client)).toEqual([]);
  });

  it('--max-errors with a trigger table is refused before anything is loaded, saying why', async () => {
    await db.client.query(setup('trig'));
    const error = await load({ file, table: 'trig', db: db.url, columns: COLUMNS, maxErrors: 10 }).catch((e: unknown) => e);
    expect((error as PloaderError).code).toBe('INVALID_OPTION');
    expect((error as PloaderError).message).toMatch(/--max-errors needs a staging table, and the target has triggers/);
    expect((await db.client.query('SELECT count(*)::int AS n FROM trig')).rows[0].n).toBe(0);
  });
});

describe('DDL from other sessions during the load', () => {
  it('ADD COLUMN, CREATE INDEX, ADD CHECK and RENAME COLUMN wait for the load and are all there afterwards', async () => {
    await dropPloaderTables(db.client);
    await db.client.query(`
      DROP TABLE IF EXISTS ddl, ddl_twin;
      CREATE OR REPLACE FUNCTION slow_ok(int) RETURNS boolean LANGUAGE sql AS 'SELECT pg_sleep(0.002) IS NOT NULL';
      CREATE TABLE ddl (username text NOT NULL, link text NOT NULL, score int NOT NULL CHECK (slow_ok(score)));
      CREATE TABLE ddl_twin (username text, link text, score int);
    `);
    await plainCopy(db.client, 'COPY ddl_twin FROM STDIN (FORMAT csv)', file);
    const loading = startCli(['--db', db.url, '--table', 'ddl', '--columns', COLUMNS.join(','), '--workers', '2', '--chunk-size', '8kB', file]);
    await loading.waitForStderr(/^load: \d+ chunks/m);
    // Independent of each other: they get the table in whatever order the lock manager wakes them.
    const statements = ['ALTER TABLE ddl ADD COLUMN extra int DEFAULT 7', 'CREATE INDEX ddl_link_idx ON ddl (link)', 'ALTER TABLE ddl ADD CONSTRAINT score_small CHECK (score < 100)', 'ALTER TABLE ddl RENAME COLUMN username TO name'];
    const sessions = await Promise.all(statements.map(async () => {
      const client = new pg.Client(db.url);
      client.on('error', () => {});
      await client.connect();
      return client;
    }));
    const ddl = Promise.allSettled(statements.map((sql, i) => sessions[i].query(sql)));
    // They wait for the load's lock, as they would for one COPY.
    let waiting = 0;
    let loadEnded = false;
    void loading.done.then(() => (loadEnded = true));
    while (!loadEnded && waiting < statements.length) {
      const { rows } = await db.client.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND (query LIKE 'ALTER TABLE ddl%' OR query LIKE 'CREATE INDEX ddl%')`);
      waiting = rows[0].n;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(waiting).toBe(statements.length);
    const loaded = await loading.done;
    const applied = await ddl;
    await Promise.all(sessions.map((s) => s.end()));
    expect(loaded.code, loaded.stderr).toBe(0);
    expect(applied.map((r) => r.status)).toEqual(statements.map(() => 'fulfilled'));
    expect(await tableFingerprint(db.client, 'ddl', ['name', 'link', 'score'])).toEqual(await tableFingerprint(db.client, 'ddl_twin', COLUMNS));
    const { rows: [facts] } = await db.client.query(`
      SELECT (SELECT count(*)::int FROM ddl WHERE extra = 7) AS extra,
             to_regclass('ddl_link_idx') IS NOT NULL AS index,
             EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'score_small') AS check_constraint`);
    expect(facts).toEqual({ extra: 4000, index: true, check_constraint: true });
    expect(await ploaderRelations(db.client)).toEqual([]);
  });
});

describe('properties a swap must keep', () => {
  it('an UNLOGGED target stays UNLOGGED, and its statistics targets and n_distinct stay set', async () => {
    await db.client.query(`
      DROP TABLE IF EXISTS props, props_twin;
      CREATE UNLOGGED TABLE props (username text NOT NULL, link text NOT NULL, score int NOT NULL);
      CREATE INDEX props_expr_idx ON props ((lower(username)));
      ALTER TABLE props ALTER COLUMN username SET STATISTICS 555, ALTER COLUMN link SET (n_distinct = -0.5);
      ALTER INDEX props_expr_idx ALTER COLUMN 1 SET STATISTICS 333;
      CREATE TABLE props_twin (username text, link text, score int);
    `);
    await plainCopy(db.client, 'COPY props_twin FROM STDIN (FORMAT csv)', file);
    const properties = async () =>
      (await db.client.query(`
        SELECT c.relpersistence AS persistence,
               (SELECT attstattarget FROM pg_attribute WHERE attrelid = c.oid AND attname = 'username') AS username_statistics,
               (SELECT attoptions FROM pg_attribute WHERE attrelid = c.oid AND attname = 'link') AS link_options,
               (SELECT attstattarget FROM pg_attribute WHERE attrelid = 'props_expr_idx'::regclass AND attnum = 1) AS index_statistics
          FROM pg_class c WHERE c.oid = 'props'::regclass`)).rows[0];
    const before = await properties();
    expect(before).toMatchObject({ persistence: 'u', username_statistics: 555, link_options: ['n_distinct=-0.5'], index_statistics: 333 });
    const report = await load({ file, table: 'props', db: db.url, columns: COLUMNS, workers: 2, chunkBytes: 8192 });
    expect(report.published).toBe('swap');
    expect(await properties()).toEqual(before);
    expect(await tableFingerprint(db.client, 'props', COLUMNS)).toEqual(await tableFingerprint(db.client, 'props_twin', COLUMNS));
    expect(await ploaderRelations(db.client)).toEqual([]);
  });

  it('a table and its index in their own tablespaces stay there', async (context) => {
    // A tablespace needs a directory the server's OS user owns: only possible for a server on this machine.
    const { rows: [server] } = await db.client.query(`SELECT current_setting('data_directory', true) AS dir, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser`);
    if (!server.superuser || !server.dir || process.getuid?.() !== 0) return context.skip();
    const dir = mkdtempSync(path.join(tmpdir(), 'ploader-ts-'));
    chmodSync(dir, 0o700);
    const { uid, gid } = await import('node:fs').then((fs) => fs.statSync(server.dir));
    chownSync(dir, uid, gid);
    const space = `ploader_ts_${process.pid}`;
    try {
      await db.client.query(`CREATE TABLESPACE ${space} LOCATION '${dir}'`);
      await db.client.query(`
        DROP TABLE IF EXISTS spaced;
        CREATE TABLE spaced (username text NOT NULL, link text NOT NULL, score int NOT NULL) TABLESPACE ${space};
        CREATE INDEX spaced_link_idx ON spaced (link) TABLESPACE ${space};
        CREATE INDEX spaced_score_idx ON spaced (score) WHERE score > 0;`);
      const report = await load({ file, table: 'spaced', db: db.url, columns: COLUMNS, workers: 2, chunkBytes: 8192 });
      expect(report.published).toBe('swap');
      const { rows } = await db.client.query(`
        SELECT c.relname, t.spcname FROM pg_class c LEFT JOIN pg_tablespace t ON t.oid = c.reltablespace
         WHERE c.relname IN ('spaced', 'spaced_link_idx', 'spaced_score_idx') ORDER BY 1`);
      expect(rows).toEqual([
        { relname: 'spaced', spcname: space },
        { relname: 'spaced_link_idx', spcname: space },
        { relname: 'spaced_score_idx', spcname: null },
      ]);
      expect((await db.client.query('SELECT count(*)::int AS n FROM spaced')).rows[0].n).toBe(4000);
    } finally {
      await db.client.query('DROP TABLE IF EXISTS spaced');
      await db.client.query(`DROP TABLESPACE IF EXISTS ${space}`);
      rmSync(dir, { recursive: true, force: true });
    }
    expect(await ploaderRelations(db.client)).toEqual([]);
  });

  it('without CREATE on the schema, the load goes straight into the target, as \\copy does', async (context) => {
    if (!(await loginRole('ploader_sem_inserter'))) return context.skip();
    await db.client.query(`
      REVOKE CREATE ON SCHEMA public FROM PUBLIC, ploader_sem_inserter;
      DROP TABLE IF EXISTS plain, plain_twin;
      CREATE TABLE plain (voteid serial PRIMARY KEY, username text NOT NULL, link text NOT NULL, score int NOT NULL);
      CREATE TABLE plain_twin (voteid serial PRIMARY KEY, username text NOT NULL, link text NOT NULL, score int NOT NULL);
      GRANT INSERT ON plain TO ploader_sem_inserter;
      GRANT USAGE ON SEQUENCE plain_voteid_seq TO ploader_sem_inserter;`);
    await plainCopy(db.client, 'COPY plain_twin (username, link, score) FROM STDIN (FORMAT csv)', file);
    const result = await runCli(['--json', '--db', urlAs('ploader_sem_inserter', 'ploader_sem_inserter'), '--table', 'plain', '--columns', COLUMNS.join(','), file]);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.published).toBe('direct');
    expect(report.strategy.reason).toMatch(/may not create tables in the target's schema/);
    const all = ['voteid', ...COLUMNS];
    expect(await tableFingerprint(db.client, 'plain', all)).toEqual(await tableFingerprint(db.client, 'plain_twin', all));
  });

  it('without TEMP on the database and without owning the target, the load works as \\copy does', async (context) => {
    if (!(await loginRole('ploader_sem_no_temp'))) return context.skip();
    const { rows: [{ name }] } = await db.client.query('SELECT current_database() AS name');
    await db.client.query(`
      REVOKE TEMP ON DATABASE "${name}" FROM PUBLIC, ploader_sem_no_temp;
      GRANT CREATE ON SCHEMA public TO ploader_sem_no_temp;
      DROP TABLE IF EXISTS no_temp, no_temp_twin, no_temp_plain;
      CREATE TABLE no_temp (voteid serial PRIMARY KEY, username text NOT NULL, link text NOT NULL, score int NOT NULL);
      CREATE TABLE no_temp_twin (voteid serial PRIMARY KEY, username text NOT NULL, link text NOT NULL, score int NOT NULL);
      GRANT SELECT, INSERT ON no_temp TO ploader_sem_no_temp;
      GRANT USAGE ON SEQUENCE no_temp_voteid_seq TO ploader_sem_no_temp;`);
    await plainCopy(db.client, 'COPY no_temp_twin (username, link, score) FROM STDIN (FORMAT csv)', file);
    try {
      const report = await load({ file, table: 'no_temp', db: urlAs('ploader_sem_no_temp', 'ploader_sem_no_temp'), columns: COLUMNS, workers: 2, chunkBytes: 8192 });
      // Ids in file order are numbered by per-session temporary sequences: without TEMP, one COPY gives them.
      expect(report.published).toBe('direct');
      expect(report.strategy.reason).toMatch(/may not create temporary tables in this database, which numbering voteid in file order across parallel sessions needs/);
      const withIds = ['voteid', ...COLUMNS];
      expect(await tableFingerprint(db.client, 'no_temp', withIds)).toEqual(await tableFingerprint(db.client, 'no_temp_twin', withIds));
      expect(await ploaderRelations(db.client)).toEqual([]);
      // Nothing to number: the stage needs no TEMP, and the load stays parallel.
      await db.client.query(`
        CREATE TABLE no_temp_plain (username text NOT NULL, link text NOT NULL, score int NOT NULL);
        GRANT SELECT, INSERT ON no_temp_plain TO ploader_sem_no_temp;`);
      const staged = await load({ file, table: 'no_temp_plain', db: urlAs('ploader_sem_no_temp', 'ploader_sem_no_temp'), workers: 2, chunkBytes: 8192 });
      expect(staged.published).toBe('insert');
      expect(await tableFingerprint(db.client, 'no_temp_plain', COLUMNS)).toEqual(await tableFingerprint(db.client, 'no_temp_twin', COLUMNS));
      expect(await ploaderRelations(db.client)).toEqual([]);
    } finally {
      await db.client.query(`GRANT TEMP ON DATABASE "${name}" TO PUBLIC`);
    }
  });
});
