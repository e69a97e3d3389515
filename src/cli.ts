/**
 * The command line: argv → LoadOptions → load() → report. Flag names follow COPY's options and
 * psql's connection conventions; the flags themselves are in cli/flags.ts. No logic lives here:
 * options.ts checks everything. The library is imported after parsing, so --help and --version
 * start fast.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { EXIT, reportError } from './cli/error-output.ts';
import { EXAMPLES, FLAGS, GROUPS, optionalValue, repeatedFlag, withOptionalValues } from './cli/flags.ts';
import { parallelismWarnings } from './cli/warnings.ts';
import { PloaderError } from './errors.ts';
import { defaultTableName, parseByteSize, parseDuration, parseMaxErrors, type LoadOptions } from './options.ts';

const list = (value: string | undefined) => (value === undefined ? undefined : value.split(',').map((s) => s.trim()));
/** A whole number as a number; anything else as typed, for options.ts to refuse by its value. */
const integerOrAsGiven = (value: string | number | undefined) => (typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value);

type Argv = Record<string, unknown> & { files?: string[]; _: unknown[] };

function parseArguments(): Argv {
  const parser = yargs(withOptionalValues(hideBin(process.argv)))
    .scriptName('ploader')
    .usage('$0 [options] FILE...\n\nLoad CSV or text files into a PostgreSQL table in parallel, all or nothing (several files: as one load, in the order given).')
    .command('$0 [files..]', false)
    .positional('files', { type: 'string', array: true, describe: 'input files, loaded as one ("-" for standard input, alone)' });
  for (const flag of FLAGS) parser.option(flag.name, flag.definition);
  for (const group of GROUPS) parser.group(FLAGS.filter((f) => f.group === group).map((f) => f.name), `${group}:`);
  // Each example on a line of its own, whole (yargs' two-column examples cut long commands apart).
  parser.epilogue(`Examples, on the README's table votes:\n${EXAMPLES.map(([command, what]) => `  ${command}\n      ${what}`).join('\n')}`);
  return parser
    // An options file is a convenience, never required: its keys are the long flag names; flags on the command line win.
    .config('config', 'a JSON file of options (keys are the long flag names, e.g. {"workers": 8, "on-conflict": "skip"})')
    .strict()
    .exitProcess(false)
    .fail((message, error) => {
      throw new PloaderError('INVALID_OPTION', error?.message ?? message);
    })
    .version(ownVersion())
    .help()
    .wrap(Math.min(120, process.stdout.columns ?? 100))
    .parseSync() as Argv;
}

async function main(argv: Argv): Promise<number> {
  if (argv.help || argv.version) return EXIT.OK;
  const repeated = repeatedFlag(argv, hideBin(process.argv));
  if (repeated) throw new PloaderError('INVALID_OPTION', repeated);
  const flag = <T>(name: string) => argv[name] as T | undefined;

  // Imported only when asked for: the embedded server is an optional part.
  const embedding = flag<boolean>('embedded') || flag<boolean>('embedded-stop');
  const embeddedServer = embedding ? await import('./embedded/embedded-server.ts') : undefined;
  const embeddedDir = flag<string>('embedded-dir') === undefined ? embeddedServer?.defaultPersistentDir(process.cwd()) ?? '' : path.resolve(flag<string>('embedded-dir')!);
  if (embeddedServer && flag<boolean>('embedded-stop')) {
    process.stdout.write(`${(await embeddedServer.stopPersistentServer(embeddedDir)) ? 'stopped' : 'no server running in'} ${embeddedDir}\n`);
    return EXIT.OK;
  }
  if (flag('embedded') && flag('db')) throw new PloaderError('INVALID_OPTION', '--embedded and --db contradict each other: --embedded loads into a local server of its own');
  const embedded = embeddedServer && flag<boolean>('embedded') ? await embeddedServer.startPersistentServer(embeddedDir) : undefined;
  if (embedded) process.stderr.write(`${embedded.started ? 'started' : 'reusing'} the embedded PostgreSQL in ${embeddedDir}\n`);
  const db = embedded?.url ?? flag<string>('db');
  if (flag('cleanup')) return runCleanup(argv, db);

  // yargs drops a lone "-" (standard input, as psql and tar spell it) from the list of files.
  const files = (argv.files ?? []).map(String);
  if (process.argv.includes('-') && !files.includes('-')) files.push('-');
  if (files.length === 0 || files.includes('')) throw new PloaderError('INVALID_OPTION', 'name the file to load: ploader [options] FILE... (see --help)');

  const chunkSize = flag<string>('chunk-size');
  const maxErrors = flag<string | number>('max-errors');
  const options: LoadOptions = {
    ...(files.length === 1 ? { file: files[0] } : { files }),
    table: flag('table'),
    db,
    columns: list(flag('columns')),
    format: flag('format'),
    header: optionalValue(flag('header')) as LoadOptions['header'],
    create: optionalValue(flag('create')) as LoadOptions['create'],
    delimiter: flag('delimiter'),
    quote: flag('quote'),
    escape: flag('escape'),
    null: flag('null'),
    encoding: flag('encoding'),
    default: flag('default'),
    forceNull: list(flag('force-null')),
    forceNotNull: list(flag('force-not-null')),
    workers: integerOrAsGiven(flag('workers')) as number | undefined,
    chunkBytes: chunkSize === undefined ? undefined : parseByteSize('chunk-size', String(chunkSize)),
    maxErrors: maxErrors === undefined ? undefined : parseMaxErrors(String(maxErrors)),
    rejectFile: flag('reject-file'),
    onConflict: flag('on-conflict'),
    truncate: flag('truncate'),
    dryRun: flag('dry-run'),
    resume: flag('resume'),
    indexMemory: flag('index-memory'),
    publish: flag('publish'),
    lockWaitMs: flag('lock-wait') === undefined ? undefined : parseDuration('lock-wait', String(flag('lock-wait'))),
    stallTimeoutMs: flag('stall-timeout') === undefined ? undefined : parseDuration('stall-timeout', String(flag('stall-timeout'))),
  };
  for (const key of Object.keys(options) as Array<keyof LoadOptions>) if (options[key] === undefined) delete options[key];
  return runLoad(argv, options, embedded?.url);
}

async function runLoad(argv: Argv, given: LoadOptions, embeddedUrl: string | undefined): Promise<number> {
  const [{ load }, { chooseProgressMode, createProgressReporter }, { formatPlan, formatReport }, { resolveConnectionOf }] = await Promise.all([
    import('./load.ts'),
    import('./report/progress.ts'),
    import('./report/report.ts'),
    import('./db/connection.ts'),
  ]);
  const { host } = resolveConnectionOf(given.db);
  const warnings = parallelismWarnings({
    workers: typeof given.workers === 'number' ? given.workers : undefined,
    chunkBytes: given.chunkBytes,
    clientCores: availableParallelism(),
    serverLocal: ['localhost', '127.0.0.1', '::1'].includes(host) || host.startsWith('/'),
  });
  for (const warning of warnings) process.stderr.write(`warning: ${warning}\n`);

  const progress = createProgressReporter({
    output: process.stderr,
    mode: chooseProgressMode({ isTTY: process.stderr.isTTY === true, quiet: Boolean(argv.quiet), json: Boolean(argv.json) }),
  });
  const abort = new AbortController();
  const onSignal = (signal: string) => {
    if (abort.signal.aborted) {
      // The server rolls back what this process had open; a stage and its ledger may stay behind.
      process.stderr.write(`${signal} again: quitting at once. Nothing was published; a staged load may be left in the database: ploader --resume continues it, ploader --cleanup removes it\n`);
      process.exit(130);
    }
    process.stderr.write(`\n${signal}: cancelling the load (again to quit at once)...\n`);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let report;
  try {
    report = await load({ ...given, signal: abort.signal, onProgress: progress.onProgress });
  } catch (error) {
    if (embeddedUrl && error instanceof PloaderError && error.code === 'TARGET_INVALID') {
      process.stderr.write(`the embedded server is up: create the table with psql '${embeddedUrl}', then run this again (or add --create to make it from the file)\n`);
    }
    throw error;
  } finally {
    progress.stop(); // the bar's redraw timer would keep the process alive
  }
  for (const warning of report.warnings) process.stderr.write(`warning: ${warning}\n`);
  if (embeddedUrl) process.stderr.write(`look at the data: psql '${embeddedUrl}'   (stop the server: ploader --embedded-stop)\n`);
  if (argv.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(`${report.dryRun ? formatPlan(report) : formatReport(report)}\n`);
  return report.rejected > 0 ? EXIT.LOADED_WITH_REJECTS : EXIT.OK;
}

async function runCleanup(argv: Argv, db: string | undefined): Promise<number> {
  const table = argv.table as string | undefined;
  const file = argv.files?.[0];
  if (!table && !file) throw new PloaderError('INVALID_OPTION', '--cleanup needs --table (or the file whose name is the table)');
  const { cleanup } = await import('./stage/cleanup.ts');
  const dryRun = Boolean(argv['dry-run']);
  const result = await cleanup({ table: table ?? defaultTableName(file!), db, dryRun });
  if (argv.json) {
    process.stdout.write(`${JSON.stringify({ ...result, dryRun }, null, 2)}\n`);
    return EXIT.OK;
  }
  const verb = dryRun ? 'would drop' : 'dropped';
  process.stdout.write(
    `${result.dropped.length === 0 ? `nothing to clean up for ${result.table}` : `${verb} ${result.dropped.join(', ')}${dryRun ? ' (--dry-run: nothing was dropped)' : ''}`}\n` +
      result.active.map((stage) => `left ${stage} alone: a ploader is still loading into it\n`).join(''),
  );
  return EXIT.OK;
}

/** ploader's own version (yargs would report the package.json nearest to the current directory). */
function ownVersion(): string {
  // src/cli.ts and dist/cli.js both sit one level below the package root.
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

// --json and --debug shape the error output even when the arguments themselves are wrong.
const output = { json: process.argv.includes('--json'), debug: process.argv.includes('--debug'), stdout: process.stdout, stderr: process.stderr };
try {
  const code = await main(parseArguments());
  process.exit(code);
} catch (error) {
  process.exit(reportError(error, output));
}
