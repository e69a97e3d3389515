/** The methods compared: B (\\copy), H (the hand recipe) and Pn (ploader), each run from an empty table and checked. */
import { availableParallelism } from 'node:os';
import type pg from 'pg';
import type { EmbeddedServer } from '../../src/embedded/embedded-server.ts';
import { load } from '../../src/load.ts';
import { RunMeter, type PhaseMeasure } from './measurement.ts';
import type { WalLevel } from './options.ts';
import { connectClient, walBytesSince, walPosition } from './server.ts';
import { copyFile, copySql, type Workload } from './workloads.ts';

export const HAND_INDEX_SETTINGS = ["SET maintenance_work_mem = '64MB'", 'SET max_parallel_maintenance_workers = 0'];

export interface RunResult {
  workload: string;
  method: string;
  round: number;
  walLevel: WalLevel;
  rows: number;
  fileBytes: number;
  wallS: number;
  /** Seconds per phase as the method defines them (ploader: its report). */
  phasesS: Record<string, number>;
  /** Wall and CPU between phase marks (ploader: its progress events; the first segment holds preflight and split). */
  metered: PhaseMeasure[];
  serverCpuS: number;
  clientCpuS: number;
  /** CPU that neither the server nor this process used during the run: other load on the host, i.e. noise. */
  otherCpuS: number;
  peakRssMb: number;
  walBytes: number;
  coreUtilisation: number;
  strategy?: { publish: string; reason: string };
  startedAt: string;
}

export async function runMethod(
  method: string,
  round: number,
  workload: Workload,
  server: EmbeddedServer,
  db: string,
  control: pg.Client,
  walLevel: WalLevel,
): Promise<RunResult> {
  const t = workload.table;
  await control.query(`DROP TABLE IF EXISTS ${t}`);
  if (method === 'H') {
    await control.query(workload.tableDdl);
    await control.query(`ALTER TABLE ${t} DROP CONSTRAINT ${workload.primaryKey.constraint}`);
  } else if (method.startsWith('P')) {
    // ploader loads into an existing table and rebuilds its indexes, read from the catalog, after the load.
    await control.query(workload.tableDdl);
    for (const ddl of workload.indexDdl) await control.query(ddl);
  }
  await control.query('CHECKPOINT');
  const walStart = await walPosition(control);
  const startedAt = new Date().toISOString();
  const meter = new RunMeter(server.dataDir, method.startsWith('P') ? 'prepare+split' : 'copy');
  let phasesS: Record<string, number> | undefined;
  let strategy: RunResult['strategy'];
  if (method === 'B') {
    await runBaseline(db, workload, meter);
  } else if (method === 'H') {
    await runHandRecipe(db, workload, meter);
  } else {
    const report = await load({
      file: workload.file,
      table: t,
      db,
      columns: workload.columns,
      format: 'csv',
      workers: Number(method.slice(1)),
      onProgress: (event) => {
        if (event.kind === 'phase' && event.phase !== meter.currentPhase) meter.mark(event.phase);
      },
    });
    phasesS = Object.fromEntries(Object.entries(report.phases).map(([phase, ms]) => [phase, ms / 1000]));
    strategy = { publish: report.strategy.publish, reason: report.strategy.reason };
    if (report.rows !== workload.rows) throw new Error(`${method} round ${round}: load() reported ${report.rows} rows, the file holds ${workload.rows}`);
  }
  const measured = meter.finish();
  const walBytes = await walBytesSince(control, walStart);
  await checkTable(control, workload, `${method} round ${round}`);
  return {
    workload: workload.name,
    method,
    round,
    walLevel,
    rows: workload.rows,
    fileBytes: workload.bytes,
    ...measured,
    phasesS: phasesS ?? Object.fromEntries(measured.metered.map((m) => [m.phase, m.wallS])),
    walBytes,
    coreUtilisation: (measured.serverCpuS + measured.clientCpuS) / (measured.wallS * availableParallelism()),
    strategy,
    startedAt,
  };
}

/** What `psql \copy` gives: one session, the table with its PK, one COPY, then each index in turn. */
async function runBaseline(db: string, workload: Workload, meter: RunMeter): Promise<void> {
  const client = await connectClient(db, 'bench B');
  try {
    await client.query(workload.tableDdl);
    await copyFile(client, copySql(workload), workload.file);
    meter.mark('indexes');
    for (const ddl of workload.indexDdl) await client.query(ddl);
  } finally {
    await client.end();
  }
}

/**
 * The best recipe by hand, without atomicity: one COPY into the bare table, then the PK's unique index
 * and the other indexes built at once in three sessions (CREATE INDEX takes a SHARE lock, so they do
 * not block each other; ADD PRIMARY KEY would take ACCESS EXCLUSIVE), then the PK adopts its index.
 */
async function runHandRecipe(db: string, workload: Workload, meter: RunMeter): Promise<void> {
  const client = await connectClient(db, 'bench H');
  try {
    await copyFile(client, copySql(workload), workload.file);
    meter.mark('indexes');
    const { constraint, columns } = workload.primaryKey;
    await runInSessions(db, [`CREATE UNIQUE INDEX ${constraint} ON ${workload.table} (${columns})`, ...workload.indexDdl], 3, HAND_INDEX_SETTINGS);
    await client.query(`ALTER TABLE ${workload.table} ADD CONSTRAINT ${constraint} PRIMARY KEY USING INDEX ${constraint}`);
  } finally {
    await client.end();
  }
}



/** Runs `statements` over `sessions` connections, each taking the next statement when free. */
export async function runInSessions(db: string, statements: readonly string[], sessions: number, setup: readonly string[]): Promise<void> {
  const queue = [...statements];
  const session = async (n: number) => {
    const client = await connectClient(db, `bench session ${n}`);
    try {
      for (const sql of setup) await client.query(sql);
      for (let sql = queue.shift(); sql !== undefined; sql = queue.shift()) await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await Promise.all(Array.from({ length: Math.min(sessions, statements.length) }, (_, n) => session(n)));
}

/** Throws when the run left anything but the complete, durable, indexed table. */
async function checkTable(client: pg.Client, workload: Workload, what: string): Promise<void> {
  const { rows: [found] } = await client.query<{ rows: string; indexes: number; persistence: string; pk: number }>(
    `SELECT (SELECT count(*) FROM ${workload.table})::bigint AS rows,
            (SELECT count(*) FROM pg_index WHERE indrelid = $1::regclass AND indisvalid)::int AS indexes,
            (SELECT relpersistence::text FROM pg_class WHERE oid = $1::regclass) AS persistence,
            (SELECT count(*) FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'p')::int AS pk`,
    [workload.table],
  );
  const expectedIndexes = 1 + workload.indexDdl.length;
  const problems = [
    Number(found.rows) !== workload.rows && `${found.rows} rows, expected ${workload.rows}`,
    found.indexes !== expectedIndexes && `${found.indexes} valid indexes, expected ${expectedIndexes}`,
    found.persistence !== 'p' && `relpersistence '${found.persistence}', expected 'p' (logged)`,
    found.pk !== 1 && 'no primary key constraint',
  ].filter((p): p is string => typeof p === 'string');
  if (problems.length > 0) throw new Error(`${what} left a wrong ${workload.table}: ${problems.join('; ')}`);
}
