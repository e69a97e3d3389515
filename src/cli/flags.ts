/**
 * The command line's flags, each once: its yargs definition, its --help group, and the library option
 * it sets. From this table the CLI builds yargs, and rewrites library messages (`options.workers ...`)
 * into flag names (`--workers ...`): options.ts checks every value, in the library's words, and the
 * command line says them in its own.
 */
import type { Options } from 'yargs';
import { CREATE_VALUES, FORMATS, HEADER_VALUES, ON_CONFLICT_MODES, PUBLISH_CHOICES, type LoadOptions } from '../options.ts';

export const GROUPS = ['Input', 'Table and columns', 'COPY options', 'Parallelism', 'Bad rows', 'Recovery', 'Output', 'Connection'] as const;
export type Group = (typeof GROUPS)[number];

export interface Flag {
  name: string;
  group: Group;
  /** The LoadOptions key it sets, if it is one. */
  option?: keyof LoadOptions;
  /**
   * A switch that may take one of these words as its value (`--header`, `--header match`): given
   * alone it is `true`, and the argument after it stays an argument (see withOptionalValues).
   */
  optionalValues?: readonly string[];
  definition: Options;
}

export const FLAGS: readonly Flag[] = [
  { name: 'format', group: 'Input', option: 'format', definition: { type: 'string', choices: FORMATS, describe: 'COPY FORMAT (default: csv for .csv, binary for .bin/.pgcopy, else text)' } },
  {
    name: 'header',
    group: 'Input',
    option: 'header',
    optionalValues: HEADER_VALUES as string[],
    definition: { type: 'string', describe: 'the first line is a header: skip it; "--header match": and check that it names the columns in order, as COPY\'s HEADER MATCH; "--header names": take the columns from it, in any order' },
  },
  { name: 'table', group: 'Table and columns', option: 'table', definition: { alias: 't', type: 'string', describe: 'target table, schema-qualified allowed (default: the file name)' } },
  { name: 'columns', group: 'Table and columns', option: 'columns', definition: { type: 'string', describe: 'comma-separated columns in the file (others get defaults); default: all, or those without a default when line 1 has that many fields' } },
  {
    name: 'create',
    group: 'Table and columns',
    option: 'create',
    optionalValues: CREATE_VALUES as string[],
    definition: { type: 'string', describe: 'create the table from the file (names from the header or column1..N, types inferred); "--create if-missing": only when it does not exist' },
  },
  { name: 'truncate', group: 'Table and columns', option: 'truncate', definition: { type: 'boolean', describe: 'replace the rows of the target instead of appending' } },
  { name: 'delimiter', group: 'COPY options', option: 'delimiter', definition: { type: 'string', describe: 'COPY DELIMITER' } },
  { name: 'quote', group: 'COPY options', option: 'quote', definition: { type: 'string', describe: 'COPY QUOTE (csv)' } },
  { name: 'escape', group: 'COPY options', option: 'escape', definition: { type: 'string', describe: 'COPY ESCAPE (csv)' } },
  { name: 'null', group: 'COPY options', option: 'null', definition: { type: 'string', describe: 'COPY NULL string' } },
  { name: 'encoding', group: 'COPY options', option: 'encoding', definition: { type: 'string', describe: 'COPY ENCODING of the file' } },
  { name: 'default', group: 'COPY options', option: 'default', definition: { type: 'string', describe: 'COPY DEFAULT: this string means the column default (PostgreSQL 16+)' } },
  { name: 'force-null', group: 'COPY options', option: 'forceNull', definition: { type: 'string', describe: 'COPY FORCE_NULL columns, comma-separated (csv)' } },
  { name: 'force-not-null', group: 'COPY options', option: 'forceNotNull', definition: { type: 'string', describe: 'COPY FORCE_NOT_NULL columns, comma-separated (csv)' } },
  // A string, so that a wrong value is quoted back as typed (a number flag would say NaN).
  { name: 'workers', group: 'Parallelism', option: 'workers', definition: { alias: 'j', type: 'string', describe: 'parallel COPY sessions (default: CPU cores)' } },
  { name: 'chunk-size', group: 'Parallelism', option: 'chunkBytes', definition: { type: 'string', describe: 'bytes per chunk, e.g. 32MB (default: file size / (4 x workers), 1MB-64MB)' } },
  { name: 'index-memory', group: 'Parallelism', option: 'indexMemory', definition: { type: 'string', describe: "maintenance_work_mem for every index build (default: sized per build, at most the server's maintenance_work_mem)" } },
  { name: 'max-errors', group: 'Bad rows', option: 'maxErrors', definition: { type: 'string', describe: 'set aside up to N bad rows (or "all") instead of failing; default 0: all or nothing' } },
  { name: 'reject-file', group: 'Bad rows', option: 'rejectFile', definition: { type: 'string', describe: 'where set-aside rows go (default <file>.rejects, reasons in <file>.rejects.log)' } },
  { name: 'on-conflict', group: 'Bad rows', option: 'onConflict', definition: { type: 'string', choices: ON_CONFLICT_MODES, describe: 'duplicate unique keys: error (default), skip (keep the first), update (keep the last)' } },
  { name: 'publish', group: 'Table and columns', option: 'publish', definition: { type: 'string', choices: PUBLISH_CHOICES, describe: 'auto (default): swap the loaded table in when that is provably the same as loading into it; insert: always INSERT ... SELECT (old snapshots never see the rows); swap: fail unless it can swap' } },
  { name: 'stall-timeout', group: 'Recovery', option: 'stallTimeoutMs', definition: { type: 'string', describe: 'stop the load when a chunk\'s server session makes no progress this long, e.g. 30s, 10min (default 5min, 0: never); committed chunks are kept for --resume' } },
  { name: 'lock-wait', group: 'Recovery', option: 'lockWaitMs', definition: { type: 'string', describe: 'longest wait for a lock on the target, e.g. 30s, 10min (default 10min); then the load fails and a loaded stage is kept for --resume' } },
  { name: 'resume', group: 'Recovery', option: 'resume', definition: { type: 'boolean', describe: 'continue an interrupted load of this file from its committed chunks' } },
  { name: 'cleanup', group: 'Recovery', definition: { type: 'boolean', describe: 'remove what interrupted loads of --table left behind, then exit (with --dry-run: only list it)' } },
  { name: 'dry-run', group: 'Output', option: 'dryRun', definition: { type: 'boolean', describe: 'print the plan and load nothing' } },
  { name: 'json', group: 'Output', definition: { type: 'boolean', describe: 'print the report, and errors, as JSON on stdout' } },
  { name: 'quiet', group: 'Output', definition: { alias: 'q', type: 'boolean', describe: 'print nothing but warnings, errors and the report' } },
  { name: 'debug', group: 'Output', definition: { type: 'boolean', describe: 'on failure, also print the stack trace (for a bug report)' } },
  { name: 'db', group: 'Connection', option: 'db', definition: { alias: 'd', type: 'string', describe: 'a URL (postgres://user@host:5432/db?sslmode=require), key/value pairs ("host=h dbname=db") or a database name, as psql -d takes; what it leaves out comes from PG* variables and ~/.pgpass' } },
  { name: 'embedded', group: 'Connection', definition: { type: 'boolean', describe: 'load into a local embedded PostgreSQL (started or reused in --embedded-dir); prints its psql URL' } },
  { name: 'embedded-dir', group: 'Connection', definition: { type: 'string', describe: 'data directory of the --embedded server (default: .ploader/embedded, or under /var/tmp when the server cannot reach it)' } },
  { name: 'embedded-stop', group: 'Connection', definition: { type: 'boolean', describe: 'stop the --embedded server, then exit' } },
];

/** Examples for --help; each works on the README's seed table `votes` (test/integration/cli-help.test.ts runs them). */
export const EXAMPLES: ReadonlyArray<[command: string, what: string]> = [
  ['ploader votes.csv', 'load votes.csv into table votes: its 3 fields are the columns without a default (voteid is the serial\'s); connection from PG* variables'],
  ['ploader -d postgres://me@db.example.com/app -j 8 votes.csv', 'the same over 8 sessions, to the server a URL names'],
  ['ploader -t public.votes --truncate --columns username,link,score votes.csv', 'replace the rows of public.votes, the file\'s columns named'],
  ['ploader --max-errors 100 votes.csv', 'set up to 100 bad rows aside in votes.csv.rejects'],
  ['ploader --dry-run votes.csv', 'show the plan, load nothing'],
  ['ploader --create -t votes_copy votes.csv', 'create table votes_copy from the file (column1..3, types inferred) with its rows'],
  ['ploader --cleanup --dry-run -t votes', 'list what interrupted loads of votes left behind'],
];

const FLAG_OF_OPTION = new Map<string, string>(FLAGS.filter((f) => f.option).map((f) => [f.option as string, `--${f.name}`]));
FLAG_OF_OPTION.set('file', 'the FILE argument');
FLAG_OF_OPTION.set('files', 'the FILE arguments');

/** `options.workers must be ...` → `--workers must be ...`; names without a flag stay as they are. */
export function inFlagNames(message: string): string {
  return message.replace(/\boptions\.(\w+)/g, (whole, key: string) => FLAG_OF_OPTION.get(key) ?? whole);
}

/**
 * Switches with an optional value, spelled for yargs: `--header` alone becomes `--header=true`, so that
 * the argument after it (the file) is not taken for its value; `--header match` stays as it is.
 */
export function withOptionalValues(args: readonly string[]): string[] {
  const end = args.includes('--') ? args.indexOf('--') : args.length;
  return args.map((arg, i) => {
    const flag = i < end && FLAGS.find((f) => f.optionalValues && arg === `--${f.name}`);
    return flag && !flag.optionalValues!.includes(args[i + 1]) ? `${arg}=true` : arg;
  });
}

/** A switch's value as the library takes it: `true`/`false` for the bare switch, the word otherwise. */
export function optionalValue(value: unknown): unknown {
  return value === 'true' ? true : value === 'false' ? false : value;
}

/**
 * yargs turns a flag given twice into a list; a person meant one value. Names the first such flag,
 * with what was given, or undefined.
 */
export function repeatedFlag(argv: Record<string, unknown>, args: readonly string[]): string | undefined {
  for (const flag of FLAGS) {
    const value = argv[flag.name];
    if (Array.isArray(value) && !flag.optionalValues) return `--${flag.name} was given ${value.length} times (${value.map((v) => JSON.stringify(v)).join(', ')}): give it once`;
    // yargs keeps one value of a repeated boolean: count the switches as typed (before a lone --).
    if (flag.definition.type === 'boolean' || flag.optionalValues) {
      const spellings = [`--${flag.name}`, `--no-${flag.name}`, ...[flag.definition.alias ?? []].flat().map((a) => (a.length === 1 ? `-${a}` : `--${a}`))];
      const end = args.includes('--') ? args.indexOf('--') : args.length;
      const given = args.slice(0, end).filter((arg) => spellings.includes(arg.split('=')[0]));
      if (given.length > 1) return `--${flag.name} was given ${given.length} times (${given.join(', ')}): give it once`;
    }
  }
  return undefined;
}
