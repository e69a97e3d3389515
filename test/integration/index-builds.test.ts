/**
 * The index builds on the stage: started longest first by the key types and collations the catalog
 * gives, each session's sort memory and parallel workers within what the server allows, and all of
 * it in the report and the progress events.
 */
import { describe, expect, it } from 'vitest';
import { load } from '../../src/load.ts';
import { parseByteSize, type ProgressEvent } from '../../src/options.ts';
import { useTestDatabase } from '../support/database.ts';
import { useTempDir } from '../support/fixtures.ts';

const db = useTestDatabase();
const write = useTempDir();
const rows = Array.from({ length: 3000 }, (_, i) => `${i},name number ${i % 700} of a longer text key,n${i % 97},${i % 5}\n`).join('');
const file = write('items.csv', rows);
const COLUMNS = ['id', 'wide_c', 'narrow', 'small'];

async function freshTable(narrowCollation: string): Promise<void> {
  await db.client.query(`
    DROP TABLE IF EXISTS items;
    CREATE TABLE items (id int PRIMARY KEY, wide_c text COLLATE "C" NOT NULL, narrow text COLLATE ${narrowCollation} NOT NULL, small int NOT NULL);
    CREATE INDEX items_wide_c_idx ON items (wide_c);
    CREATE INDEX items_narrow_idx ON items (narrow);
    CREATE INDEX items_small_part_idx ON items (small) WHERE small > 2;`);
}

async function hasCollation(name: string): Promise<boolean> {
  const { rows } = await db.client.query("SELECT 1 FROM pg_collation WHERE collname = $1 AND collprovider = 'c'", [name]);
  return rows.length > 0;
}

describe('index builds', () => {
  it('start with the text index under a libc collation, then by estimated cost, and report each build with its time and settings', async (context) => {
    if (!(await hasCollation('C.utf8'))) context.skip();
    await freshTable('"C.utf8"');
    const events: ProgressEvent[] = [];
    const report = await load({ file, table: 'items', db: db.url, columns: COLUMNS, workers: 2, onProgress: (e) => events.push(e) });
    expect(report.rows).toBe(3000);
    // strcoll on every comparison (no abbreviated keys) costs more than a wider key under C: it goes first.
    expect(report.indexBuilds?.map((b) => b.label)).toEqual(['index items_narrow_idx', 'index items_wide_c_idx', 'index items_pkey', 'index items_small_part_idx']);
    expect(report.indexBuilds?.map((b) => b.order)).toEqual([1, 2, 3, 4]);
    for (const build of report.indexBuilds!) {
      expect(build.ms).toBeGreaterThan(0);
      expect(build.maintenanceWorkMem).toMatch(/^\d+(MB|kB)$/);
    }
    const details = events.filter((e) => e.kind === 'phase' && e.phase === 'indexes').map((e) => (e as { detail?: string }).detail);
    expect(details[0]).toMatch(/^index items_narrow_idx \(1\/4: maintenance_work_mem \d+(MB|kB), (no parallel workers|\d parallel workers?)\)$/);
    const { rows: valid } = await db.client.query("SELECT count(*)::int AS n FROM pg_index WHERE indrelid = 'items'::regclass AND indisvalid");
    expect(valid[0].n).toBe(4);
  });

  it('never sets more sort memory, or more parallel workers, than the server allows', async () => {
    await freshTable('"C"');
    const name = new URL(db.url).pathname.slice(1);
    await db.client.query(`ALTER DATABASE "${name}" SET maintenance_work_mem = '40MB'`);
    try {
      const report = await load({ file, table: 'items', db: db.url, columns: COLUMNS, workers: 2 });
      expect(report.indexBuilds).toHaveLength(4);
      for (const build of report.indexBuilds!) {
        expect(parseByteSize('maintenanceWorkMem', build.maintenanceWorkMem)).toBeLessThanOrEqual(40 << 20);
        // 40MB cannot give two participants 32MB each: no build gets a worker.
        expect(build.parallelWorkers).toBe(0);
      }
      await freshTable('"C"');
      await db.client.query(`ALTER DATABASE "${name}" SET maintenance_work_mem = '1GB'`);
      await db.client.query(`ALTER DATABASE "${name}" SET max_parallel_maintenance_workers = 0`);
      const none = await load({ file, table: 'items', db: db.url, columns: COLUMNS, workers: 2 });
      expect(none.indexBuilds?.map((b) => b.parallelWorkers)).toEqual([0, 0, 0, 0]);
    } finally {
      await db.client.query(`ALTER DATABASE "${name}" RESET maintenance_work_mem`);
      await db.client.query(`ALTER DATABASE "${name}" RESET max_parallel_maintenance_workers`);
    }
  });

  it('uses --index-memory for every build when given', async () => {
    await freshTable('"C"');
    const report = await load({ file, table: 'items', db: db.url, columns: COLUMNS, workers: 2, indexMemory: '8MB' });
    expect(report.indexBuilds?.map((b) => b.maintenanceWorkMem)).toEqual(['8MB', '8MB', '8MB', '8MB']);
  });

  it('--dry-run shows the schedule without building anything', async () => {
    await freshTable('"C"');
    const report = await load({ file, table: 'items', db: db.url, columns: COLUMNS, workers: 2, dryRun: true });
    expect(report.plan?.indexBuilds?.map((b) => b.order)).toEqual([1, 2, 3, 4]);
    expect(report.plan?.indexBuilds?.every((b) => b.ms === undefined)).toBe(true);
    expect(report.indexBuilds).toBeUndefined();
  });
});
