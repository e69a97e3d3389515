/** One benchmark: every method `rounds` times, interleaved, on one server; the summary at the end. */
import { appendFile, mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { runMethod, type RunResult } from './methods.ts';
import { waitForQuietHost } from './measurement.ts';
import { DEFAULT_BENCH_OPTIONS, type BenchOptions } from './options.ts';
import { connectClient, createBenchDatabase, SHOWN_SETTINGS, showSettings, startBenchServer } from './server.ts';
import { formatPhases, formatSummary } from './table.ts';
import { discardWorkloadFile, prepareWorkload } from './workloads.ts';

const MB = 1e6;

export interface BenchResult {
  runs: RunResult[];
  settings: Record<string, string>;
  table: string;
}

/** Runs every method `rounds` times; throws (after stopping the server) when a run leaves a wrong table. */
export async function runBench(input: Partial<BenchOptions> = {}): Promise<BenchResult> {
  const options: BenchOptions = { ...DEFAULT_BENCH_OPTIONS, ...input };
  const { log } = options;
  const workload = await prepareWorkload(options);
  const server = await startBenchServer(options.walLevel);
  const runs: RunResult[] = [];
  try {
    const db = await createBenchDatabase(server);
    const control = await connectClient(db);
    try {
      const settings = await showSettings(control);
      log(`server: ${SHOWN_SETTINGS.map((name) => `${name}=${settings[name]}`).join(' ')}`);
      log(`host: ${availableParallelism()} cores, node ${process.version}; input: ${workload.file}, ${workload.rows} rows, ${(workload.bytes / MB).toFixed(1)} MB`);
      log(`each run: DROP + CREATE ${workload.table} and CHECKPOINT (untimed), then the method; B's CREATE TABLE is timed`);
      const methods = ['B', ...options.workers.map((n) => `P${n}`), 'H'];
      await mkdir(path.dirname(options.out), { recursive: true });
      for (let round = 1; round <= options.rounds; round++) {
        const shift = (round - 1) % methods.length;
        for (const method of [...methods.slice(shift), ...methods.slice(0, shift)]) {
          if (options.quietWaitS > 0) await waitForQuietHost(options.quietWaitS, log);
          const result = await runMethod(method, round, workload, server, db, control, options.walLevel);
          runs.push(result);
          await appendFile(options.out, `${JSON.stringify({ ...result, settings })}\n`);
          log(`round ${round} ${method.padEnd(3)} ${result.wallS.toFixed(2)} s  ${formatPhases(result.phasesS)}  (other load on the host: ${result.otherCpuS.toFixed(1)} CPU s)`);
        }
      }
      const table = formatSummary(runs, methods);
      log('');
      log(table);
      log(`runs written to ${options.out}`);
      return { runs, settings, table };
    } finally {
      await control.end();
    }
  } finally {
    await server.stop();
    if (!options.keepFiles) await discardWorkloadFile(workload);
  }
}
