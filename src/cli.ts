/**
 * The command line: argv → LoadOptions → load() → report. Flag names follow COPY's options and
 * psql's connection conventions. No logic lives here; options.ts checks everything.
 */
import path from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { redact } from './db/connection.ts';
import { PloaderError, formatPosition } from './errors.ts';
import { load } from './load.ts';
import { cleanup } from './stage/cleanup.ts';
import { defaultTableName, parseByteSize, parseMaxErrors, type LoadOptions } from './options.ts';
import { chooseProgressMode, createProgressReporter } from './report/progress.ts';
import { formatPlan, formatReport } from './report/report.ts';

export const EXIT = { OK: 0, FAILED: 1, USAGE: 2, LOADED_WITH_REJECTS: 3 } as const;

const list = (value: string | undefined) => (value === undefined ? undefined : value.split(',').map((s) => s.trim()));

async function main(): Promise<number> {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('ploader')
    .usage('$0 [options] <file>\n\nLoad a CSV or text file into a PostgreSQL table in parallel, all or nothing.')
    .command('$0 [file]', false)
    .positional('file', { type: 'string', describe: 'input file' })
    .option('db', { alias: 'd', type: 'string', describe: 'connection URL (default: PG* environment variables)' })
    .option('table', { alias: 't', type: 'string', describe: 'target table, schema-qualified allowed (default: the file name)' })
    .option('columns', { type: 'string', describe: 'comma-separated columns in the file (others get defaults)' })
    .option('format', { type: 'string', choices: ['csv', 'text', 'binary'], describe: 'COPY FORMAT (default: csv for .csv, binary for .bin/.pgcopy, else text)' })
    .option('header', { type: 'boolean', describe: 'skip the first line (a header)' })
    .option('delimiter', { type: 'string', describe: 'COPY DELIMITER' })
    .option('quote', { type: 'string', describe: 'COPY QUOTE (csv)' })
    .option('escape', { type: 'string', describe: 'COPY ESCAPE (csv)' })
    .option('null', { type: 'string', describe: 'COPY NULL string' })
    .option('encoding', { type: 'string', describe: 'COPY ENCODING of the file' })
    .option('default', { type: 'string', describe: 'COPY DEFAULT: this string means the column default (PostgreSQL 16+)' })
    .option('force-null', { type: 'string', describe: 'COPY FORCE_NULL columns, comma-separated (csv)' })
    .option('force-not-null', { type: 'string', describe: 'COPY FORCE_NOT_NULL columns, comma-separated (csv)' })
    .option('workers', { alias: 'j', type: 'number', describe: 'parallel COPY sessions (default: CPU cores)' })
    .option('chunk-size', { type: 'string', describe: 'bytes per chunk, e.g. 32MB (default: file size / (4 x workers), 1MB-64MB)' })
    .option('max-errors', { type: 'string', describe: 'set aside up to N bad rows (or "all") instead of failing; default 0: all or nothing' })
    .option('reject-file', { type: 'string', describe: 'where set-aside rows go (default <file>.rejects, reasons in <file>.rejects.log)' })
    .option('on-conflict', { type: 'string', choices: ['error', 'skip', 'update'], describe: 'duplicate unique keys: error (default), skip (keep the first), update (keep the last)' })
    .option('truncate', { type: 'boolean', describe: 'replace the rows of the target instead of appending' })
    .option('index-memory', { type: 'string', describe: 'maintenance_work_mem for every index build (default: sized per build, at most the server\'s maintenance_work_mem)' })
    .option('resume', { type: 'boolean', describe: 'continue an interrupted load of this file from its committed chunks' })
    .option('cleanup', { type: 'boolean', describe: 'remove what interrupted loads of --table left behind, then exit' })
    .option('embedded', { type: 'boolean', describe: 'load into a local embedded PostgreSQL (started or reused in --embedded-dir); prints its psql URL' })
    .option('embedded-dir', { type: 'string', default: '.ploader/embedded', describe: 'data directory of the --embedded server' })
    .option('embedded-stop', { type: 'boolean', describe: 'stop the --embedded server, then exit' })
    .option('dry-run', { type: 'boolean', describe: 'print the plan and load nothing' })
    .option('json', { type: 'boolean', describe: 'print the report as JSON' })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'print nothing but errors and the report' })
    // An options file is a convenience, never required: its keys are the long flag names; flags on the command line win.
    .config('config', 'a JSON file of options (keys are the long flag names, e.g. {"workers": 8, "on-conflict": "skip"})')
    .example('$0 --workers 8 votes.csv', 'load votes.csv into table votes')
    .example('$0 -d postgres://me@db/app -t public.votes --header --truncate votes.csv', 'replace the rows of public.votes')
    .strict()
    .exitProcess(false)
    .fail((message, error) => {
      throw new PloaderError('INVALID_OPTION', error?.message ?? message);
    })
    .version()
    .help()
    .parse();
  if (argv.help || argv.version) return EXIT.OK;
  const embeddedDir = path.resolve(argv['embedded-dir']);
  // Imported only when asked for: the embedded server's package installs process exit hooks.
  const { startPersistentServer, stopPersistentServer } = argv.embedded || argv['embedded-stop'] ? await import('./embedded/embedded-server.ts') : ({} as typeof import('./embedded/embedded-server.ts'));
  if (argv['embedded-stop']) {
    process.stdout.write(`${(await stopPersistentServer(embeddedDir)) ? 'stopped' : 'no server running in'} ${embeddedDir}\n`);
    return EXIT.OK;
  }
  if (argv.embedded && argv.db) throw new PloaderError('INVALID_OPTION', '--embedded and --db contradict each other: --embedded loads into a local server of its own');
  const embedded = argv.embedded ? await startPersistentServer(embeddedDir) : undefined;
  if (embedded) process.stderr.write(`${embedded.started ? 'started' : 'reusing'} the embedded PostgreSQL in ${embeddedDir}\n`);
  const db = embedded?.url ?? argv.db;
  if (argv.cleanup) {
    if (!argv.table && !argv.file) throw new PloaderError('INVALID_OPTION', '--cleanup needs --table (or the file whose name is the table)');
    const result = await cleanup({ table: argv.table ?? defaultTableName(argv.file as string), db });
    process.stdout.write(
      `${result.dropped.length === 0 ? `nothing to clean up for ${result.table}` : `dropped ${result.dropped.join(', ')}`}\n` +
        result.active.map((stage) => `left ${stage} alone: a ploader is still loading into it\n`).join(''),
    );
    return EXIT.OK;
  }
  // yargs hands a lone "-" (standard input, as psql and tar spell it) over as an empty string.
  const file = argv.file === '' && process.argv.includes('-') ? '-' : argv.file;
  if (!file) throw new PloaderError('INVALID_OPTION', 'name the file to load: ploader [options] <file> (see --help)');

  const progress = createProgressReporter({
    output: process.stderr,
    mode: chooseProgressMode({ isTTY: process.stderr.isTTY === true, quiet: Boolean(argv.quiet), json: Boolean(argv.json) }),
  });
  const abort = new AbortController();
  const onSignal = (signal: string) => {
    if (abort.signal.aborted) process.exit(130);
    process.stderr.write(`\n${signal}: cancelling the load (again to quit at once)...\n`);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const options: LoadOptions = {
    file,
    table: argv.table,
    db,
    columns: list(argv.columns),
    format: argv.format as LoadOptions['format'],
    header: argv.header,
    delimiter: argv.delimiter,
    quote: argv.quote,
    escape: argv.escape,
    null: argv.null,
    encoding: argv.encoding,
    default: argv.default,
    forceNull: list(argv['force-null']),
    forceNotNull: list(argv['force-not-null']),
    workers: argv.workers,
    chunkBytes: argv['chunk-size'] === undefined ? undefined : parseByteSize('chunk-size', argv['chunk-size']),
    maxErrors: argv['max-errors'] === undefined ? undefined : parseMaxErrors(argv['max-errors']),
    rejectFile: argv['reject-file'],
    onConflict: argv['on-conflict'] as LoadOptions['onConflict'],
    truncate: argv.truncate,
    dryRun: argv['dry-run'],
    resume: argv.resume,
    indexMemory: argv['index-memory'],
    signal: abort.signal,
    onProgress: progress.onProgress,
  };
  for (const key of Object.keys(options) as Array<keyof LoadOptions>) if (options[key] === undefined) delete options[key];
  let report;
  try {
    report = await load(options);
  } catch (error) {
    if (embedded && error instanceof PloaderError && error.code === 'TARGET_INVALID') {
      process.stderr.write(`the embedded server is up: create the table with psql '${embedded.url}', then run this again\n`);
    }
    throw error;
  } finally {
    progress.stop(); // the bar's redraw timer would keep the process alive
  }
  for (const warning of report.warnings) process.stderr.write(`warning: ${warning}\n`);
  if (embedded) process.stderr.write(`look at the data: psql '${embedded.url}'   (stop the server: ploader --embedded-stop)\n`);
  if (argv.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(`${report.dryRun ? formatPlan(report) : formatReport(report)}\n`);
  return report.rejected > 0 ? EXIT.LOADED_WITH_REJECTS : EXIT.OK;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof PloaderError) {
      process.stderr.write(`ploader: ${redact(`${formatPosition(error.position)}${error.message}`)}\n`);
      process.exit(error.code === 'INVALID_OPTION' ? EXIT.USAGE : EXIT.FAILED);
    }
    process.stderr.write(`ploader: ${redact(error instanceof Error ? (error.stack ?? error.message) : String(error))}\n`);
    process.exit(EXIT.FAILED);
  },
);
