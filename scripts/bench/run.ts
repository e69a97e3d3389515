/** One benchmark: every method `rounds` times, interleaved, on one server; the summary at the end. */
import { appendFile, mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { SQLSTATE } from '../../src/db/sqlstate.ts';
import { runMethod, type BenchContext, type RunResult } from './methods.ts';
import { waitForQuietHost } from './measurement.ts';
import { DEFAULT_BENCH_OPTIONS, type BenchOptions } from './options.ts';
import {
  connectClient, createBenchDatabase, describeTextCollations, localPostmasterPid, openBenchServer, SHOWN_SETTINGS, showSettings,
} from './server.ts';
import { formatPhases, formatSummary, type BenchHeader } from './table.ts';
import { discardWorkloadFile, prepareWorkload } from './workloads.ts';

const MB = 1e6;

export interface BenchResult {
  runs: RunResult[];
  header: BenchHeader;
  table: string;
}

/** Runs every method `rounds` times; throws (after stopping the server) when a run leaves a wrong table. */
export async function runBench(input: Partial<BenchOptions> = {}): Promise<BenchResult> {
  const options: BenchOptions = { ...DEFAULT_BENCH_OPTIONS, ...input };
  const { log } = options;
  const workload = await prepareWorkload(options);
  const server = await openBenchServer(options.server, options.walLevel, options.serverSettings);
  const runs: RunResult[] = [];
  try {
    const database = await createBenchDatabase(server);
    const db = database.url;
    const control = await connectClient(db);
    try {
      const settings = await showSettings(control);
      await control.query(workload.tableDdl);
      const header: BenchHeader = {
        server: server.label,
        settings,
        collations: await describeTextCollations(control, workload.table),
        host: `${availableParallelism()} cores, node ${process.version}`,
        input: `${workload.file}, ${workload.rows} rows, ${(workload.bytes / MB).toFixed(1)} MB`,
      };
      const context: BenchContext = {
        workload,
        db,
        control,
        postmasterPid: await localPostmasterPid(control),
        walLevel: settings.wal_level,
        canCheckpoint: await tryCheckpoint(control),
      };
      log(`server: ${header.server}`);
      log(`settings: ${SHOWN_SETTINGS.map((name) => `${name}=${settings[name]}`).join(' ')}`);
      log(`text columns: ${header.collations}`);
      log(`host: ${header.host}; input: ${header.input}`);
      if (context.postmasterPid === undefined) log('the server is not on this host: its CPU is not measured (n/a)');
      log(`each run: DROP + CREATE ${workload.table}${context.canCheckpoint ? ' and CHECKPOINT' : ' (no CHECKPOINT: not allowed for this role)'} (untimed), then the method; B's CREATE TABLE is timed`);
      const methods = ['B', ...options.workers.map((n) => `P${n}`), 'H'];
      await mkdir(path.dirname(options.out), { recursive: true });
      for (let round = 1; round <= options.rounds; round++) {
        const shift = (round - 1) % methods.length;
        for (const method of [...methods.slice(shift), ...methods.slice(0, shift)]) {
          if (options.quietWaitS > 0) await waitForQuietHost(options.quietWaitS, log);
          const result = await runMethod(context, method, round);
          runs.push(result);
          await appendFile(options.out, `${JSON.stringify({ ...result, header })}\n`);
          log(`round ${round} ${method.padEnd(3)} ${result.wallS.toFixed(2)} s  ${formatPhases(result.phasesS)}  (other load on the host: ${result.otherCpuS.toFixed(1)} CPU s, load average ${result.loadAverage.start.toFixed(2)} → ${result.loadAverage.end.toFixed(2)})`);
        }
      }
      const table = formatSummary(runs, methods, header);
      log('');
      log(table);
      log(`runs written to ${options.out}`);
      return { runs, header, table };
    } finally {
      await control.end();
      await database.drop();
    }
  } finally {
    await server.stop();
    if (!options.keepFiles) await discardWorkloadFile(workload);
  }
}

/** A CHECKPOINT before each run keeps one run's dirty pages out of the next; a role without the right does without. */
async function tryCheckpoint(control: BenchContext['control']): Promise<boolean> {
  try {
    await control.query('CHECKPOINT');
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === SQLSTATE.INSUFFICIENT_PRIVILEGE) return false;
    throw error;
  }
}
