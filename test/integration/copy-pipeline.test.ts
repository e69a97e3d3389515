/**
 * copyPipeline against a real server: several COPYs in one write, each answered on its own, a failing
 * one failing alone, NOTICEs given to the COPY that raised them, and a session killed mid-pipeline
 * answering every COPY left with an error instead of hanging.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyPipeline, type PipelinedOutcome } from '../../src/copy/copy-stream.ts';
import { useTestDatabase } from '../support/database.ts';

const db = useTestDatabase();
let client: pg.Client;

beforeAll(async () => {
  await db.client.query(`CREATE TABLE piped (n int CHECK (n > 0));
    CREATE FUNCTION piped_notice() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.n = 99 THEN PERFORM pg_sleep(30); END IF;
      IF NEW.n >= 100 THEN RAISE NOTICE 'row %', NEW.n; END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER piped_notice BEFORE INSERT ON piped FOR EACH ROW EXECUTE FUNCTION piped_notice()`);
  client = new pg.Client({ connectionString: db.url, application_name: 'ploader_pipeline_test' });
  await client.connect();
});

afterAll(async () => {
  await client?.end().catch(() => {});
});

const sql = 'COPY piped (n) FROM STDIN';
const sqlstate = (outcome: PipelinedOutcome) => ('error' in outcome ? (outcome.error as { code?: string }).code : undefined);

describe('copyPipeline', () => {
  it('answers each COPY: a failing one fails alone, the ones after it load', async () => {
    // The pipelined path, not the one-by-one fallback for a node-postgres without the field it uses.
    expect('_activeQuery' in client).toBe(true);
    await db.client.query('TRUNCATE piped');
    const notices = [[], [], [], [], []] as string[][];
    const outcomes = await copyPipeline(client, [
      { sql, data: Buffer.from('1\n2\n3\n'), notices: notices[0] },
      { sql, data: [Buffer.from('4\n'), Buffer.from('x\n5\n')], notices: notices[1] },
      { sql, data: Buffer.from('100\n101\n'), notices: notices[2] },
      { sql, data: Buffer.from('6\n-7\n'), notices: notices[3] },
      { sql: `SELECT 1; ${sql}`, data: Buffer.from('102\n'), notices: notices[4] },
    ]);
    expect(outcomes.map((o) => ('rows' in o ? o.rows : sqlstate(o)))).toEqual([3, '22P02', 2, '23514', 1]);
    expect((outcomes[1] as { error: { where?: string } }).error.where).toMatch(/line 2/);
    expect(notices).toEqual([[], [], ['row 100', 'row 101'], [], ['row 102']]);
    // Only the COPYs that loaded left rows; the session goes on as usual.
    const { rows } = await client.query<{ n: number }>('SELECT n FROM piped ORDER BY n');
    expect(rows.map((r) => r.n)).toEqual([1, 2, 3, 100, 101, 102]);
  });

  it('rolls back per COPY inside a transaction, as the probe does', async () => {
    await db.client.query('TRUNCATE piped');
    await client.query('BEGIN; SAVEPOINT probe');
    const reset = `ROLLBACK TO SAVEPOINT probe; ${sql}`;
    const outcomes = await copyPipeline(client, [
      { sql: reset, data: Buffer.from('1\n0\n') },
      { sql: reset, data: Buffer.from('2\n3\n') },
      { sql: reset, data: Buffer.from('4\n\\N\n5\n') },
    ]);
    expect(outcomes.map((o) => ('rows' in o ? o.rows : sqlstate(o)))).toEqual(['23514', 2, 3]);
    await client.query('ROLLBACK');
    expect((await db.client.query('SELECT count(*)::int AS n FROM piped')).rows[0].n).toBe(0);
  });

  it('answers every COPY left with an error when the session is killed mid-pipeline', async () => {
    const victim = new pg.Client({ connectionString: db.url, application_name: 'ploader_pipeline_victim' });
    await victim.connect();
    victim.on('error', () => {});
    const piped = copyPipeline(victim, [
      { sql, data: Buffer.from('1\n') },
      { sql, data: Buffer.from('99\n') },
      { sql, data: Buffer.from('2\n') },
    ]);
    // Wait until the second COPY sleeps in its trigger, then end the session from outside.
    for (let i = 0; i < 100; i++) {
      const { rows } = await db.client.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'ploader_pipeline_victim' AND wait_event = 'PgSleep'");
      if (rows[0].n > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await db.client.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'ploader_pipeline_victim'");
    const outcomes = await piped;
    expect(outcomes[0]).toEqual({ rows: 1 });
    expect('error' in outcomes[1] && 'error' in outcomes[2]).toBe(true);
    expect(sqlstate(outcomes[1])).toBe('57P01');
    await victim.end().catch(() => {});
  });
});
