/** The methods compared: B (\\copy), H (the hand recipe) and Pn (ploader), each run from an empty table and checked. */
import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import type { LoadReport } from '../../src/report/report.ts';
import type { RunnerMessage } from './load-runner.ts';
import { childProcessProbe, loadAverage, RunMeter, THIS_PROCESS, type PhaseMeasure } from './measurement.ts';
import { checkpointCounters, connectClient, walBytesSince, walPosition, type CheckpointCounters } from './server.ts';
import { copyFile, copySql, type Workload } from './workloads.ts';

/** The hand recipe's per-session settings: small sorts, no parallel workers (ploader's fixed schedule before index-schedule.ts). */
export const HAND_INDEX_SETTINGS = ["SET maintenance_work_mem = '64MB'", 'SET max_parallel_maintenance_workers = 0'];
const LOAD_RUNNER = fileURLToPath(new URL('./load-runner.ts', import.meta.url));
const MB = 1e6;
const STATS_WAIT_MS = 50;
const STATS_WAIT_ATTEMPTS = 100;

/** What every run of one benchmark shares. */
export interface BenchContext {
  workload: Workload;
  /** URL of the benchmark's database. */
  db: string;
  /** A session of the benchmark's own, for setup and checks between runs. */
  control: pg.Client;
  /** The server's postmaster when it runs on this host (its CPU is read from /proc), else undefined. */
  postmasterPid: number | undefined;
  walLevel: string;
  /** CHECKPOINT before each run needs superuser or pg_checkpoint; without, runs start on whatever the server had pending. */
  canCheckpoint: boolean;
  /** The rows' order-independent checksum as one COPY leaves them: set by the first B run, checked for every run. */
  checksum?: string;
}

export interface RunResult {
  workload: string;
  method: string;
  round: number;
  walLevel: string;
  rows: number;
  fileBytes: number;
  wallS: number;
  /** Seconds per phase as the method defines them (ploader: its report). */
  phasesS: Record<string, number>;
  /** Wall and CPU between phase marks (ploader: its progress events; the first segment holds preflight and split). */
  metered: PhaseMeasure[];
  serverCpuS: number;
  clientCpuS: number;
  /** CPU that neither the server nor the client used during the run: other load on the host, i.e. noise. */
  otherCpuS: number;
  /** B, H: the bench process, sampled; Pn: the ploader process's VmHWM. */
  peakRssMb: number;
  /** Pn: the ploader process's resident set before load() (modules loaded, no worker thread yet). */
  rssBeforeMb?: number;
  walBytes: number;
  checkpoints: CheckpointCounters;
  coreUtilisation: number;
  /** 1-minute load average of the host at the start and the end of the run. */
  loadAverage: { start: number; end: number };
  strategy?: { publish: string; reason: string };
  /** Pn: the index builds as ploader scheduled and timed them. */
  indexBuilds?: LoadReport['indexBuilds'];
  startedAt: string;
}

export async function runMethod(context: BenchContext, method: string, round: number): Promise<RunResult> {
  const { workload, control } = context;
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
  const checkpointsBefore = context.canCheckpoint ? await checkpointBeforeRun(control) : await checkpointCounters(control);
  const walStart = await walPosition(control);
  const startedAt = new Date().toISOString();
  const loadAtStart = loadAverage();
  let measured;
  let ploader: Awaited<ReturnType<typeof runPloader>> | undefined;
  if (method.startsWith('P')) {
    ploader = await runPloader(context, Number(method.slice(1)));
    measured = ploader.measured;
    if (ploader.report.rows !== workload.rows) throw new Error(`${method} round ${round}: load() reported ${ploader.report.rows} rows, the file holds ${workload.rows}`);
  } else {
    const meter = new RunMeter(context.postmasterPid, THIS_PROCESS, 'copy');
    await (method === 'B' ? runBaseline(context.db, workload, meter) : runHandRecipe(context.db, workload, meter));
    measured = meter.finish();
  }
  const loadAtEnd = loadAverage();
  const walBytes = await walBytesSince(control, walStart);
  const checkpointsAfter = await checkpointCounters(control);
  await checkTable(context, method === 'B' && context.checksum === undefined, `${method} round ${round}`);
  const report = ploader?.report;
  return {
    workload: workload.name,
    method,
    round,
    walLevel: context.walLevel,
    rows: workload.rows,
    fileBytes: workload.bytes,
    ...measured,
    phasesS: report ? Object.fromEntries(Object.entries(report.phases).map(([phase, ms]) => [phase, ms / 1000])) : Object.fromEntries(measured.metered.map((m) => [m.phase, m.wallS])),
    rssBeforeMb: ploader ? ploader.rssBeforeBytes / MB : undefined,
    walBytes,
    checkpoints: {
      count: checkpointsAfter.count - checkpointsBefore.count,
      writeS: checkpointsAfter.writeS - checkpointsBefore.writeS,
      syncS: checkpointsAfter.syncS - checkpointsBefore.syncS,
    },
    coreUtilisation: (measured.serverCpuS + measured.clientCpuS) / (measured.wallS * availableParallelism()),
    loadAverage: { start: loadAtStart, end: loadAtEnd },
    strategy: report ? { publish: report.strategy.publish, reason: report.strategy.reason } : undefined,
    indexBuilds: report?.indexBuilds,
    startedAt,
  };
}

/**
 * CHECKPOINT, so that no run pays for the dirty pages of the one before; returns the counters with it
 * counted. The checkpointer reports its statistics after the command returns: wait for them, or the
 * run would be charged with this checkpoint.
 */
async function checkpointBeforeRun(control: pg.Client): Promise<CheckpointCounters> {
  const before = await checkpointCounters(control);
  await control.query('CHECKPOINT');
  for (let attempt = 0; attempt < STATS_WAIT_ATTEMPTS; attempt++) {
    const after = await checkpointCounters(control);
    if (after.count > before.count) return after;
    await new Promise((resolve) => setTimeout(resolve, STATS_WAIT_MS));
  }
  throw new Error(`the CHECKPOINT before a run did not show in the server's checkpoint statistics within ${(STATS_WAIT_ATTEMPTS * STATS_WAIT_MS) / 1000} s`);
}

/**
 * `ploader --workers n` as a library call in a process of its own (load-runner.ts). The clock starts
 * when the runner is about to call load(): Node's and tsx's start-up are not ploader's to measure here.
 */
async function runPloader(context: BenchContext, workers: number) {
  const child = fork(LOAD_RUNNER, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    let meter: RunMeter | undefined;
    let rssBeforeBytes = NaN;
    const report = await new Promise<LoadReport>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code) => reject(new Error(`the ploader process exited (code ${code}) before its load finished`)));
      child.on('message', (message: RunnerMessage) => {
        if (message.kind === 'start') {
          rssBeforeBytes = message.rssBeforeBytes;
          meter = new RunMeter(context.postmasterPid, childProcessProbe(child.pid!), 'prepare+split');
        } else if (message.kind === 'phase') {
          if (meter && message.phase !== meter.currentPhase) meter.mark(message.phase);
        } else if (message.kind === 'done') {
          resolve(message.report);
        } else {
          reject(new Error(`ploader --workers ${workers} failed: ${message.message}`));
        }
      });
      const { workload, db } = context;
      child.send({ kind: 'load', options: { file: workload.file, table: workload.table, db, columns: workload.columns, format: 'csv', workers } });
    });
    // Read while the process lives: its CPU and VmHWM are gone with it.
    const measured = meter!.finish();
    return { report, measured, rssBeforeBytes };
  } finally {
    await stopChild(child);
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.removeAllListeners('exit');
  const exited = new Promise((resolve) => child.once('exit', resolve));
  if (child.connected) child.send({ kind: 'exit' });
  else child.kill();
  await exited;
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

/**
 * Throws when the run left anything but the complete, durable, indexed table, or rows other than
 * one COPY leaves: an order-independent checksum of the loaded columns (the serial key differs by
 * method), taken from the first B run (`reference`) and compared for every later run.
 */
async function checkTable(context: BenchContext, reference: boolean, what: string): Promise<void> {
  const { workload, control } = context;
  const { rows: [found] } = await control.query<{ rows: string; checksum: string; indexes: number; persistence: string; pk: number }>(
    `SELECT (SELECT count(*) FROM ${workload.table})::bigint AS rows,
            (SELECT sum(hashtextextended(t::text, 0))::text FROM (SELECT ${workload.columns.join(', ')} FROM ${workload.table}) t) AS checksum,
            (SELECT count(*) FROM pg_index WHERE indrelid = $1::regclass AND indisvalid)::int AS indexes,
            (SELECT relpersistence::text FROM pg_class WHERE oid = $1::regclass) AS persistence,
            (SELECT count(*) FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'p')::int AS pk`,
    [workload.table],
  );
  if (reference) context.checksum = found.checksum;
  const expectedIndexes = 1 + workload.indexDdl.length;
  const problems = [
    Number(found.rows) !== workload.rows && `${found.rows} rows, expected ${workload.rows}`,
    context.checksum !== undefined && found.checksum !== context.checksum && `rows checksum ${found.checksum}, one COPY left ${context.checksum}`,
    found.indexes !== expectedIndexes && `${found.indexes} valid indexes, expected ${expectedIndexes}`,
    found.persistence !== 'p' && `relpersistence '${found.persistence}', expected 'p' (logged)`,
    found.pk !== 1 && 'no primary key constraint',
  ].filter((p): p is string => typeof p === 'string');
  if (problems.length > 0) throw new Error(`${what} left a wrong ${workload.table}: ${problems.join('; ')}`);
}
