/** `npm run bench -- ...`: flags to BenchOptions. */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { parseByteSize } from '../../src/options.ts';
import { DEFAULT_BENCH_OPTIONS, type BenchOptions, type WalLevel } from './options.ts';
import { runBench } from './run.ts';

export async function main(): Promise<void> {
  const argv = await yargs(hideBin(process.argv))
    .option('rows', { type: 'number', default: DEFAULT_BENCH_OPTIONS.rows, describe: 'rows of votes data' })
    .option('bytes', { type: 'string', default: '1GB', describe: 'size of the nasty file (--workload nasty)' })
    .option('seed', { type: 'number', default: DEFAULT_BENCH_OPTIONS.seed, describe: 'PRNG seed of the generated file' })
    .option('rounds', { type: 'number', default: DEFAULT_BENCH_OPTIONS.rounds, describe: 'rounds; every method runs once per round, order rotated' })
    .option('db', { type: 'string', describe: 'run on this server (a database ploader_bench is created and dropped on it) instead of the embedded one' })
    .option('pg-bin', { type: 'string', describe: 'run on a throwaway cluster made with the PostgreSQL binaries in this directory (e.g. /usr/lib/postgresql/15/bin), locale C.UTF-8' })
    .option('server-setting', { type: 'string', array: true, default: [] as string[], describe: 'name=value for a server the benchmark starts (repeatable), e.g. max_wal_size=1GB' })
    .option('wal-level', { type: 'string', choices: ['replica', 'minimal'], default: DEFAULT_BENCH_OPTIONS.walLevel, describe: 'for a server the benchmark starts' })
    .option('workers', { type: 'string', default: DEFAULT_BENCH_OPTIONS.workers.join(','), describe: 'ploader worker counts, one method each' })
    .option('workload', { type: 'string', choices: ['votes', 'nasty'], default: DEFAULT_BENCH_OPTIONS.workload })
    .option('out', { type: 'string', default: DEFAULT_BENCH_OPTIONS.out, describe: 'JSON lines, one per run' })
    .option('keep-files', { type: 'boolean', default: false, describe: 'keep the generated file for the next run' })
    .option('quiet-wait', { type: 'number', default: 0, describe: 'seconds to wait, before each run, for other load on the host to settle' })
    .option('file-dir', { type: 'string', default: DEFAULT_BENCH_OPTIONS.fileDir, describe: 'where the generated file goes' })
    .conflicts('db', 'pg-bin')
    .strict()
    .parse();
  const serverSettings = Object.fromEntries(
    argv['server-setting'].map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) throw new Error(`--server-setting must be name=value, got ${JSON.stringify(pair)}`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
  const server: BenchOptions['server'] = argv.db ? { kind: 'db', url: argv.db } : argv['pg-bin'] ? { kind: 'pg-bin', binDir: argv['pg-bin'] } : { kind: 'embedded' };
  if (server.kind === 'db' && (argv['server-setting'].length > 0 || argv['wal-level'] !== DEFAULT_BENCH_OPTIONS.walLevel)) {
    throw new Error('--server-setting and --wal-level apply to a server the benchmark starts; with --db the server keeps its own settings (they are printed)');
  }
  const workers = argv.workers.split(',').map(Number);
  if (workers.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--workers must be a comma-separated list of positive integers, got ${JSON.stringify(argv.workers)}`);
  if (!Number.isInteger(argv.rounds) || argv.rounds < 1) throw new Error(`--rounds must be a positive integer, got ${argv.rounds}`);
  await runBench({
    rows: argv.rows,
    bytes: parseByteSize('bytes', argv.bytes),
    seed: argv.seed,
    rounds: argv.rounds,
    server,
    walLevel: argv['wal-level'] as WalLevel,
    serverSettings,
    workers,
    workload: argv.workload as BenchOptions['workload'],
    out: argv.out,
    keepFiles: argv['keep-files'],
    fileDir: argv['file-dir'],
    quietWaitS: argv['quiet-wait'],
    log: (line) => console.log(line),
  });
}
