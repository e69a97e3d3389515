/**
 * The measurements behind src/finalize/index-schedule.ts: the votes table loaded once (one COPY into a
 * bare table, VACUUM FREEZE so no build pays for hint bits), then its three index builds
 *   --mode alone:      each build by itself at each maintenance_work_mem × parallel workers given;
 *   --mode schedules:  PK + 2 indexes under each schedule, interleaved by round:
 *                        old      cores + 1 sessions at once, 64MB, no parallel workers (ploader before);
 *                        ploader  the schedule index-schedule.ts makes from this table's facts;
 *                        lpt      longest first over as many sessions as cores, 64MB, no workers;
 *                        serial   one session, the server's own settings (what B's builds get).
 * Prints wall and server CPU seconds (postmaster and children, from /proc), the CPU floor (CPU / cores)
 * and wall / floor, and the CPU other processes on the host used meanwhile (noise).
 *
 *   npx tsx scripts/bench-index-builds.ts [--rows 3000000] [--pg-bin /usr/lib/postgresql/15/bin | --db URL]
 *       [--mode alone|schedules] [--memory 32MB,64MB,256MB] [--parallel 0,1] [--rounds 3] [--keep-files]
 */
import { availableParallelism } from 'node:os';
import type pg from 'pg';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { buildKeys, readIndexKeys, readServerLimits, sampleStage } from '../src/finalize/build-facts.ts';
import { scheduleIndexBuilds } from '../src/finalize/index-schedule.ts';
import { hostBusyCpuSeconds, serverCpuSeconds } from './bench/measurement.ts';
import { DEFAULT_BENCH_OPTIONS } from './bench/options.ts';
import { connectClient, createBenchDatabase, localPostmasterPid, openBenchServer, type ServerChoice } from './bench/server.ts';
import { median } from './bench/table.ts';
import { copyFile, copySql, discardWorkloadFile, prepareWorkload } from './bench/workloads.ts';

interface Build {
  label: string;
  sql: string;
  memory: string;
  workers: number | 'server';
}

const argv = await yargs(hideBin(process.argv))
  .option('rows', { type: 'number', default: 3_000_000 })
  .option('db', { type: 'string' })
  .option('pg-bin', { type: 'string' })
  .option('mode', { type: 'string', choices: ['alone', 'schedules'], default: 'schedules' })
  .option('memory', { type: 'string', default: '32MB,64MB,256MB', describe: '--mode alone: maintenance_work_mem values' })
  .option('parallel', { type: 'string', default: '0,1', describe: '--mode alone: max_parallel_maintenance_workers values' })
  .option('rounds', { type: 'number', default: 3 })
  .option('keep-files', { type: 'boolean', default: false })
  .option('file-dir', { type: 'string', default: DEFAULT_BENCH_OPTIONS.fileDir })
  .conflicts('db', 'pg-bin')
  .strict()
  .parse();

const BUILDS: Record<string, string> = {
  'index votes_pkey': 'CREATE UNIQUE INDEX votes_pkey ON votes (voteid)',
  'index votes_username_idx': 'CREATE INDEX votes_username_idx ON votes (username)',
  'index votes_link_idx': 'CREATE INDEX votes_link_idx ON votes (link)',
};
const cores = availableParallelism();
const log = (line: string) => console.log(line);

async function main(): Promise<void> {
  const workload = await prepareWorkload({ workload: 'votes', rows: argv.rows, bytes: 0, seed: 1, fileDir: argv['file-dir'], log });
  const choice: ServerChoice = argv.db ? { kind: 'db', url: argv.db } : argv['pg-bin'] ? { kind: 'pg-bin', binDir: argv['pg-bin'] } : { kind: 'embedded' };
  const server = await openBenchServer(choice, 'replica');
  try {
    const database = await createBenchDatabase(server);
    const control = await connectClient(database.url);
    try {
      const postmaster = await localPostmasterPid(control);
      await control.query(workload.tableDdl.replace('voteid serial PRIMARY KEY', 'voteid serial'));
      await copyFile(control, copySql(workload), workload.file);
      await control.query('VACUUM (FREEZE, ANALYZE) votes');
      const version = (await control.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0].v;
      const collation = (await control.query<{ c: string }>('SELECT datcollate AS c FROM pg_database WHERE datname = current_database()')).rows[0].c;
      log(`${server.label}: PostgreSQL ${version}, database collation ${collation}; ${workload.rows} rows; ${cores} cores`);
      const measure = async (label: string, sessions: Build[][]) => {
        await control.query('DROP INDEX IF EXISTS votes_pkey, votes_username_idx, votes_link_idx');
        await control.query('CHECKPOINT').catch(() => {});
        const cpu = serverCpuSeconds(postmaster);
        const host = hostBusyCpuSeconds();
        const started = performance.now();
        const spans: string[] = [];
        await Promise.all(sessions.map((builds) => runSession(database.url, builds, (build, from, to) => spans.push(`${build.label.replace('index votes_', '')} ${from.toFixed(1)}–${to.toFixed(1)}`), started)));
        const wallS = (performance.now() - started) / 1000;
        const serverCpuS = serverCpuSeconds(postmaster) - cpu;
        const otherS = hostBusyCpuSeconds() - host - serverCpuS;
        log(`${label.padEnd(44)} wall ${wallS.toFixed(2).padStart(6)}  CPU ${serverCpuS.toFixed(2).padStart(6)}  floor ${(serverCpuS / cores).toFixed(2).padStart(6)}  wall/floor ${(wallS / (serverCpuS / cores)).toFixed(2)}  other ${otherS.toFixed(1)}  [${spans.join(', ')}]`);
        return { label, wallS, serverCpuS };
      };
      const results: Array<{ label: string; wallS: number; serverCpuS: number }> = [];
      if (argv.mode === 'alone') {
        for (const label of Object.keys(BUILDS)) {
          for (const memory of argv.memory.split(',')) {
            for (const workers of argv.parallel.split(',').map(Number)) {
              for (let round = 0; round < argv.rounds; round++) results.push(await measure(`${label} ${memory} ${workers} workers`, [[{ label, sql: BUILDS[label], memory, workers }]]));
            }
          }
        }
      } else {
        const schedules = await candidateSchedules(control);
        for (let round = 0; round < argv.rounds; round++) {
          for (const [label, sessions] of Object.entries(schedules)) results.push(await measure(label, sessions));
        }
      }
      log('\nmedians:');
      for (const label of [...new Set(results.map((r) => r.label))]) {
        const mine = results.filter((r) => r.label === label);
        const wall = median(mine.map((r) => r.wallS));
        const cpu = median(mine.map((r) => r.serverCpuS));
        log(`${label.padEnd(44)} wall ${wall.toFixed(2).padStart(6)}  CPU ${cpu.toFixed(2).padStart(6)}  wall/floor ${(wall / (cpu / cores)).toFixed(2)}`);
      }
    } finally {
      await control.end();
      await database.drop();
    }
  } finally {
    await server.stop();
    if (!argv['keep-files']) await discardWorkloadFile(workload);
  }
}

/** Each session takes the next build of its own list; `onBuild` gets seconds since `t0`. */
async function runSession(url: string, builds: Build[], onBuild: (build: Build, from: number, to: number) => void, t0: number): Promise<void> {
  const client = await connectClient(url, 'bench index builds');
  try {
    for (const build of builds) {
      const from = (performance.now() - t0) / 1000;
      await client.query(`SET maintenance_work_mem = '${build.memory}'`);
      if (build.workers !== 'server') await client.query(`SET max_parallel_maintenance_workers = ${build.workers}`);
      await client.query(build.sql);
      onBuild(build, from, (performance.now() - t0) / 1000);
    }
  } finally {
    await client.end();
  }
}

/** The schedules compared, each as its sessions' build lists (a shared queue is simulated by the schedule's own order). */
async function candidateSchedules(control: pg.Client): Promise<Record<string, Build[][]>> {
  const labels = Object.keys(BUILDS);
  const at = (memory: string, workers: number | 'server') => (label: string): Build => ({ label, sql: BUILDS[label], memory, workers });
  // ploader's own: the facts it reads from the catalog and the (here: loaded) table, then its schedule.
  for (const sql of Object.values(BUILDS)) await control.query(sql); // the catalog facts are read from the indexes' definitions
  const oid = (await control.query<{ oid: number }>("SELECT 'votes'::regclass::oid::int AS oid")).rows[0].oid;
  const keys = await readIndexKeys(control, oid);
  const limits = await readServerLimits(control);
  const sample = await sampleStage(control, { schema: 'public', name: 'votes' }, ['voteid', 'username', 'link']);
  const schedule = scheduleIndexBuilds({
    builds: keys.map((k) => ({ label: `index ${k.index}`, keys: buildKeys(k, sample.widths) })),
    rows: sample.rows,
    cores,
    server: limits,
  });
  log(`ploader's schedule: ${schedule.builds.map((b) => `${b.order + 1}. ${b.label} ${Math.round(b.maintenanceWorkMemBytes / 2 ** 20)}MB ${b.parallelWorkers} workers (est. ${b.estimatedCpuS.toFixed(1)} CPU s)`).join('; ')}`);
  const ploader = roundRobin(
    schedule.builds.map((b) => ({ label: b.label, sql: BUILDS[b.label], memory: `${Math.round(b.maintenanceWorkMemBytes / 1024)}kB`, workers: b.parallelWorkers })),
    schedule.sessions,
    schedule.builds.map((b) => b.estimatedCpuS * (b.parallelWorkers > 0 ? 1 / (1 + b.parallelWorkers) : 1)),
  );
  const lptOrder = schedule.builds.map((b) => b.label);
  return {
    [`old: ${cores + 1} sessions, 64MB, 0 workers`]: labels.map((label) => [at('64MB', 0)(label)]),
    [`ploader: ${schedule.sessions} sessions, as scheduled`]: ploader,
    [`lpt: ${cores} sessions, 64MB, 0 workers`]: roundRobin(lptOrder.map(at('64MB', 0)), cores, schedule.builds.map((b) => b.estimatedCpuS)),
    'serial: server settings (B)': [labels.map(at(limits.maintenanceWorkMemBytes / 1024 + 'kB', 'server'))],
  };
}

/** A shared queue's assignment, predicted: each build to the session that frees first. */
function roundRobin(builds: Build[], sessions: number, seconds: number[]): Build[][] {
  const lists: Build[][] = Array.from({ length: sessions }, () => []);
  const busy = new Array<number>(sessions).fill(0);
  builds.forEach((build, i) => {
    const free = busy.indexOf(Math.min(...busy));
    lists[free].push(build);
    busy[free] += seconds[i];
  });
  return lists;
}

await main();
