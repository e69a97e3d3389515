/**
 * The one options object: `LoadOptions` (what a caller may give), `ResolvedLoadOptions` (everything
 * filled in), and `resolveLoadOptions()`, the only place input is checked. The CLI and the library
 * both come through here; nothing after this re-validates.
 */
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { PloaderError } from './errors.ts';
import type { CopyStatementOptions } from './db/sql.ts';

/** How a swapped-in stage becomes durable: chosen from wal_level (`auto`), or forced (benchmarks). */
export type Durability = 'auto' | 'logged-stage' | 'set-logged';
export const DURABILITY_MODES: readonly Durability[] = ['auto', 'logged-stage', 'set-logged'];

/**
 * How the rows are published: `auto` swaps the stage in when that is provably the same as loading into
 * the target (an empty target, or --truncate), else INSERT ... SELECT; `insert` never swaps (strict
 * snapshot semantics: a transaction that began before the publish never sees the rows, as after COPY);
 * `swap` refuses to load when a swap is not possible.
 */
export type PublishChoice = 'auto' | 'swap' | 'insert';
export const PUBLISH_CHOICES: readonly PublishChoice[] = ['auto', 'swap', 'insert'];

/**
 * How long a lock on the target may be waited for, in short attempts (db/lock-wait.ts): the fence at the
 * start (only DDL holds it up) and the publish (a swap needs every reader gone for a moment). Ten
 * minutes: an overnight load should outwait a long report query, but not a session left idle in a
 * transaction for hours; when it gives up, the stage is kept and --resume publishes it later.
 */
export const DEFAULT_LOCK_WAIT_MS = 10 * 60_000;

/**
 * How long a chunk's server session may show no progress (same statement, state, bytes and rows)
 * before the load stops (copy/stall-watch.ts). Five minutes: a COPY moves its byte counter many times a
 * second, and a COMMIT takes milliseconds, so only a stopped process, a hung disk or a COMMIT waiting
 * for a synchronous standby that is gone stays still that long; 0 never stops.
 */
export const DEFAULT_STALL_TIMEOUT_MS = 5 * 60_000;

/**
 * Default chunk size of a file (plan/chunks.ts defaultChunkBytes): the data split into
 * CHUNKS_PER_WORKER chunks per worker, within these bounds. Four per worker: a worker that finishes
 * early takes another chunk (rows differ in cost: a chunk of long rows or of bad rows takes longer),
 * while each chunk costs one connection's transaction, one ledger row and one progress line. The
 * floor keeps that cost small beside the chunk's COPY on small files; the ceiling bounds what
 * `--resume` copies again after an interruption (at most one chunk per worker) and what a dirty
 * chunk's isolation re-reads.
 */
export const CHUNKS_PER_WORKER = 4;
export const MIN_DEFAULT_CHUNK_BYTES = 1 << 20;
export const MAX_DEFAULT_CHUNK_BYTES = 64 << 20;

/**
 * Batch size of a stream (standard input, .gz) without --chunk-size: the batches in flight (two per
 * worker, copy/copy-pool.ts IN_FLIGHT_PER_WORKER) are held in memory, so 8 MiB keeps 8 workers under
 * ~130 MB of buffered input while each batch is still large beside its per-chunk cost.
 */
export const DEFAULT_STREAM_BATCH_BYTES = 8 << 20;

/** What to do with rows whose unique key repeats: fail, keep the first, or keep the last (see rows/conflicts.ts). */
export type OnConflict = 'error' | 'skip' | 'update';
export const ON_CONFLICT_MODES: readonly OnConflict[] = ['error', 'skip', 'update'];

export type CopyFormat = 'csv' | 'text' | 'binary';

/**
 * The first record is a header. `true`: skipped (COPY's HEADER). `'match'`: skipped once its names
 * equal the column list, in order (COPY's HEADER MATCH). `'names'`: the column list is read from it,
 * by name, in any order; table columns it does not name get their defaults.
 */
export type HeaderOption = boolean | 'match' | 'names';
/** What is done with a header: the named forms of HeaderOption (`true` is `skip`). */
export type HeaderMode = 'skip' | 'match' | 'names';
export const HEADER_VALUES: readonly HeaderOption[] = ['match', 'names'];

/**
 * `true`: the target must not exist; it is created from the file (names from the header or
 * `column1..N`, types inferred from a sample) and appears with its rows at publish. `'if-missing'`:
 * created when it does not exist, else loaded into as it is.
 */
export type CreateOption = boolean | 'if-missing';
export const CREATE_VALUES: readonly CreateOption[] = ['if-missing'];
export const FORMATS: readonly CopyFormat[] = ['csv', 'text', 'binary'];

/** COPY's own options (delimiter, quote, escape, null, encoding, forceNull, forceNotNull) keep COPY's meanings. */
export interface LoadOptions extends Omit<CopyStatementOptions, 'format'> {
  /** The input file (or `files`: exactly one of the two). */
  file?: string;
  /**
   * Several input files of the same layout, loaded as one: their records in this order, as one `\copy`
   * of each in turn would leave them, in one atomic load. Each file's header (`header`) is its own.
   */
  files?: string[];
  /** Target table as an SQL name (`votes`, `public.votes`, `"My Table"`). Default: the file's base name. */
  table?: string;
  /** Connection URL (`postgres://user@host:5432/db?sslmode=require`). Default: the PG* environment variables. */
  db?: string;
  /**
   * Columns present in the file, in order. Omitted table columns get their defaults. Default: read
   * from the header with `header: 'names'`; else, from the first record's field count, every column
   * (as COPY) or, when that is the count, the columns without a default (serial, identity, DEFAULT).
   */
  columns?: string[];
  /** COPY FORMAT. Default: `csv` for a `.csv` file, `binary` for `.bin`/`.pgcopy`, `text` (COPY's default) otherwise. */
  format?: CopyFormat;
  /** The first record is a header: skipped (`true`), checked (`'match'`) or the column list (`'names'`); see HeaderOption. */
  header?: HeaderOption;
  /** Create the target from the file (see CreateOption). Default `false`: the target must exist. */
  create?: CreateOption;
  /** Parallel COPY sessions. Default: the host's cores. */
  workers?: number;
  /** Target size of one chunk of the input in bytes. Default: sized for load balance, see `defaultChunkBytes`. */
  chunkBytes?: number;
  /**
   * Bad rows to set aside before the load fails (`Infinity` for all). Default 0: all or nothing.
   * Set-aside rows go to `rejectFile` as their original bytes, with a `.log` of why.
   */
  maxErrors?: number;
  /** Where set-aside rows go. Default: `<file>.rejects` beside the input. */
  rejectFile?: string;
  /** What to do with rows whose unique key repeats (in the file, or against the target's rows). Default `error`. */
  onConflict?: OnConflict;
  /** Replace the target's rows instead of appending to them (atomically). */
  truncate?: boolean;
  /** Print the plan, load nothing. */
  dryRun?: boolean;
  /** Continue an interrupted load of this file into this table from its committed chunks; fails, loading nothing, when there is none. */
  resume?: boolean;
  /**
   * How a swapped-in stage becomes durable: `auto` (a LOGGED stage, measured cheapest under every
   * wal_level), or forced for measurements (`set-logged`: an UNLOGGED stage, SET LOGGED before the builds).
   */
  durability?: Durability;
  /**
   * maintenance_work_mem for every index-build session (and its parallel workers), overriding the
   * finalizer's sizing. Default: sized per build from the stage's rows and key widths, never above the
   * server's own maintenance_work_mem (src/finalize/index-schedule.ts).
   */
  indexMemory?: string;
  /** Publish by swap or by insert; default `auto` (see PublishChoice). */
  publish?: PublishChoice;
  /** Longest wait for a lock on the target, in ms. Default 10 minutes. */
  lockWaitMs?: number;
  /** Longest time a chunk's server session may make no progress, in ms; then the load stops, its committed chunks kept for --resume. Default 5 minutes; 0: never. */
  stallTimeoutMs?: number;
  /** Called with progress events; see progress.ts. */
  onProgress?: (event: ProgressEvent) => void;
  /** Cancels the load; it then behaves as on SIGINT: nothing is left behind. */
  signal?: AbortSignal;
}

/** Finer byte counts during the load phase, about every 250 ms, read from pg_stat_progress_copy. */
export interface BytesEvent {
  kind: 'bytes';
  doneBytes: number;
  totalBytes: number;
  /** Rows sent so far (committed or in flight). */
  rows?: number;
}

export type ProgressEvent =
  | { kind: 'phase'; phase: string; detail?: string }
  /** A chunk committed: `file` and `line` say where in the input it starts. */
  | { kind: 'chunk'; chunk: number; file?: string; line?: number; rows: number; bytes: number; doneBytes: number; totalBytes: number }
  | BytesEvent;

export interface ResolvedLoadOptions {
  /** The first (often the only) input file: it names the table and the reject file by default. */
  file: string;
  /** Every input file, in load order (`[file]` for one). */
  files: string[];
  table: string;
  db: string | undefined;
  columns: string[] | undefined;
  format: CopyFormat;
  /** The first record is a header, and is skipped. */
  header: boolean;
  /** What the header is for, when there is one. */
  headerMode: HeaderMode | undefined;
  create: CreateOption;
  delimiter: string | undefined;
  quote: string | undefined;
  escape: string | undefined;
  null: string | undefined;
  encoding: string | undefined;
  default: string | undefined;
  forceNull: string[];
  forceNotNull: string[];
  workers: number;
  chunkBytes: number | undefined;
  maxErrors: number;
  rejectFile: string;
  onConflict: OnConflict;
  truncate: boolean;
  dryRun: boolean;
  resume: boolean;
  durability: Durability;
  /** Undefined: sized per build by the finalizer. */
  indexMemory: string | undefined;
  publish: PublishChoice;
  lockWaitMs: number;
  stallTimeoutMs: number;
  onProgress: (event: ProgressEvent) => void;
  signal: AbortSignal | undefined;
}

export const MAX_WORKERS = 256;

const KNOWN_OPTIONS = new Set([
  'file', 'files', 'table', 'db', 'columns', 'format', 'header', 'create', 'delimiter', 'quote', 'escape', 'null', 'encoding', 'default',
  'forceNull', 'forceNotNull', 'workers', 'chunkBytes', 'maxErrors', 'rejectFile', 'onConflict', 'truncate', 'dryRun', 'resume', 'durability', 'indexMemory', 'publish', 'lockWaitMs', 'stallTimeoutMs', 'onProgress', 'signal',
]);

function invalid(message: string): PloaderError {
  return new PloaderError('INVALID_OPTION', message);
}

function received(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function checkSingleByte(name: string, value: string | undefined): void {
  if (value === undefined) return;
  if (Buffer.byteLength(value) !== 1) {
    throw invalid(`options.${name} must be a single one-byte character, got ${received(value)}`);
  }
  if (value === '\n' || value === '\r') throw invalid(`options.${name} cannot be a newline or carriage return`);
}

export function resolveLoadOptions(options: LoadOptions): ResolvedLoadOptions {
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw invalid(`unknown option ${received(key)}`);
  }
  const files = resolveFiles(options);
  const file = files[0];
  const format = options.format ?? formatOfFiles(files);
  if (!FORMATS.includes(format)) {
    throw invalid(`options.format must be one of ${FORMATS.join(', ')}, got ${received(format)}`);
  }
  if (format === 'binary') {
    for (const name of ['header', 'delimiter', 'quote', 'escape', 'null', 'encoding', 'default', 'forceNull', 'forceNotNull'] as const) {
      if (options[name] !== undefined && options[name] !== false) throw invalid(`options.${name} does not apply to format "binary"`);
    }
    // Bad-row isolation and duplicate lines find records with the CSV/text rules.
    if ((options.maxErrors ?? 0) > 0) throw invalid('options.maxErrors is not supported with format "binary": a bad tuple fails the load');
    if (options.onConflict !== undefined && options.onConflict !== 'error') throw invalid(`options.onConflict ${options.onConflict} is not supported with format "binary"`);
  }
  if (file === '-' || file.toLowerCase().endsWith('.gz')) {
    // Streams are cut into batches as they are read: nothing to resume from, no byte ranges to re-read.
    if (format === 'binary') throw invalid(`options.format "binary" cannot be read from a stream (${file}): decompress it to a file first`);
    if (options.resume) throw invalid(`options.resume needs a file; ${file === '-' ? 'standard input' : file} is read as a stream`);
    if (options.onConflict !== undefined && options.onConflict !== 'error') throw invalid(`options.onConflict ${options.onConflict} needs a file; ${file} is read as a stream`);
    if (file === '-' && options.table === undefined) throw invalid('options.table is required when reading standard input');
  }
  const table = options.table ?? defaultTableName(file);
  if (table === '') throw invalid('options.table must not be empty');

  checkSingleByte('delimiter', options.delimiter);
  if (format === 'csv') {
    checkSingleByte('quote', options.quote);
    checkSingleByte('escape', options.escape);
    const delimiter = options.delimiter ?? ',';
    const quote = options.quote ?? '"';
    if (delimiter === quote) throw invalid(`options.delimiter and options.quote must differ, both are ${received(quote)}`);
  } else if (format === 'text') {
    for (const name of ['quote', 'escape', 'forceNull', 'forceNotNull'] as const) {
      if (options[name] !== undefined) throw invalid(`options.${name} is only available with format "csv"`);
    }
    if (options.delimiter === '\\') throw invalid('options.delimiter cannot be a backslash in format "text"');
  }
  if (options.null !== undefined && /[\r\n]/.test(options.null)) {
    throw invalid('options.null cannot contain a newline or carriage return');
  }
  if (options.columns !== undefined) {
    if (!Array.isArray(options.columns) || options.columns.length === 0 || options.columns.some((c) => typeof c !== 'string' || c === '')) {
      throw invalid('options.columns must be a non-empty list of column names');
    }
    const seen = new Set<string>();
    for (const column of options.columns) {
      if (seen.has(column)) throw invalid(`options.columns names ${received(column)} twice`);
      seen.add(column);
    }
  }

  const headerMode = resolveHeaderMode(options);
  const create = options.create ?? false;
  if (![true, false, ...CREATE_VALUES].includes(create)) throw invalid(`options.create must be true, false or "if-missing", got ${received(create)}`);
  if (create !== false && format === 'binary') throw invalid('options.create needs format "csv" or "text": types are inferred from the values as written');

  const workers = options.workers ?? Math.min(availableParallelism(), MAX_WORKERS);
  if (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS) {
    throw invalid(`options.workers must be an integer from 1 to ${MAX_WORKERS}, got ${received(options.workers)}`);
  }
  if (options.chunkBytes !== undefined && (!Number.isSafeInteger(options.chunkBytes) || options.chunkBytes < 1)) {
    throw invalid(`options.chunkBytes must be a positive integer, got ${received(options.chunkBytes)}`);
  }
  const maxErrors = options.maxErrors ?? 0;
  if (maxErrors !== Infinity && (!Number.isSafeInteger(maxErrors) || maxErrors < 0)) {
    throw invalid(`options.maxErrors must be a non-negative integer or Infinity ("all"), got ${received(options.maxErrors)}`);
  }
  const onConflict = options.onConflict ?? 'error';
  if (!ON_CONFLICT_MODES.includes(onConflict)) {
    throw invalid(`options.onConflict must be one of ${ON_CONFLICT_MODES.join(', ')}, got ${received(onConflict)}`);
  }
  if (options.rejectFile !== undefined && maxErrors === 0 && onConflict === 'error') {
    throw invalid('options.rejectFile needs options.maxErrors or options.onConflict skip|update: without them the first bad row fails the load and nothing is rejected');
  }
  const durability = options.durability ?? 'auto';
  if (!DURABILITY_MODES.includes(durability)) throw invalid(`options.durability must be one of ${DURABILITY_MODES.join(', ')}, got ${received(durability)}`);
  const publish = options.publish ?? 'auto';
  if (!PUBLISH_CHOICES.includes(publish)) throw invalid(`options.publish must be one of ${PUBLISH_CHOICES.join(', ')}, got ${received(publish)}`);
  const lockWaitMs = options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS;
  if (!Number.isSafeInteger(lockWaitMs) || lockWaitMs < 0) throw invalid(`options.lockWaitMs must be a non-negative number of milliseconds, got ${received(options.lockWaitMs)}`);
  const stallTimeoutMs = options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
  if (!Number.isSafeInteger(stallTimeoutMs) || stallTimeoutMs < 0) {
    throw invalid(`options.stallTimeoutMs must be a non-negative number of milliseconds, got ${received(options.stallTimeoutMs)}`);
  }
  // No default here: the finalizer sizes each build's memory from the stage (src/finalize/index-schedule.ts).
  const indexMemory = options.indexMemory;
  if (indexMemory !== undefined && !/^\d+\s*(kB|MB|GB)$/.test(indexMemory)) {
    throw invalid(`options.indexMemory must be a size such as "64MB", got ${received(indexMemory)}`);
  }

  return {
    file,
    files,
    table,
    db: options.db,
    columns: options.columns,
    format,
    header: headerMode !== undefined,
    headerMode,
    create,
    delimiter: options.delimiter,
    quote: format === 'csv' ? options.quote : undefined,
    escape: format === 'csv' ? options.escape : undefined,
    null: options.null,
    encoding: options.encoding,
    default: options.default,
    forceNull: options.forceNull ?? [],
    forceNotNull: options.forceNotNull ?? [],
    workers,
    chunkBytes: options.chunkBytes,
    maxErrors,
    rejectFile: options.rejectFile ?? `${file}.rejects`,
    onConflict,
    truncate: options.truncate ?? false,
    dryRun: options.dryRun ?? false,
    resume: options.resume ?? false,
    durability,
    indexMemory,
    publish,
    lockWaitMs,
    stallTimeoutMs,
    onProgress: options.onProgress ?? (() => {}),
    signal: options.signal,
  };
}

function resolveHeaderMode(options: LoadOptions): HeaderMode | undefined {
  const header = options.header ?? false;
  if (![true, false, ...HEADER_VALUES].includes(header)) {
    throw invalid(`options.header must be true (skip it), "match" (check its names) or "names" (map columns by them), got ${received(header)}`);
  }
  if (header === 'names' && options.columns !== undefined) {
    throw invalid('options.columns and options.header "names" contradict each other: with "names" the header gives the column list — drop one of them');
  }
  return header === false ? undefined : header === true ? 'skip' : header;
}

/**
 * `file` or `files`, exactly one, as a list. A stream (standard input, .gz) is read once as it comes,
 * so it is loaded alone; the same file twice is refused: it would load its rows twice, which is
 * surely a slip of a glob or a list (load it twice with two runs if that is meant).
 */
function resolveFiles(options: LoadOptions): string[] {
  if (options.file !== undefined && options.files !== undefined) throw invalid('options.file and options.files contradict each other: give one file as `file`, or several as `files`');
  if (options.files === undefined) {
    if (typeof options.file !== 'string' || options.file === '') throw invalid('options.file must name the input file');
    return [options.file];
  }
  if (!Array.isArray(options.files) || options.files.length === 0 || options.files.some((f) => typeof f !== 'string' || f === '')) {
    throw invalid(`options.files must be a non-empty list of input files, got ${Array.isArray(options.files) ? JSON.stringify(options.files) : received(options.files)}`);
  }
  const files = options.files;
  if (files.length > 1) {
    const stream = files.find((f) => f === '-' || f.toLowerCase().endsWith('.gz'));
    if (stream !== undefined) {
      throw invalid(`options.files: ${stream === '-' ? 'standard input ("-")' : stream} is read as a stream, which is loaded on its own — load it in a run of its own${stream === '-' ? '' : ', or decompress it to a file first'}`);
    }
    const seen = new Map<string, string>();
    for (const f of files) {
      const earlier = seen.get(path.resolve(f));
      if (earlier !== undefined) throw invalid(`options.files names ${f}${earlier === f ? '' : ` (that is ${earlier})`} twice: its rows would be loaded twice — name each file once (load it again in a run of its own if that is meant)`);
      seen.set(path.resolve(f), f);
    }
  }
  return [...files];
}

/** The format the files' names say; files whose names say different formats need options.format. */
function formatOfFiles(files: readonly string[]): CopyFormat {
  const format = formatFromExtension(files[0]);
  const other = files.find((f) => formatFromExtension(f) !== format);
  if (other !== undefined) {
    throw invalid(`options.files: ${files[0]} would be read as ${format} and ${other} as ${formatFromExtension(other)} (by their names) — give options.format`);
  }
  return format;
}

function formatFromExtension(file: string): CopyFormat {
  const extension = path.extname(file.toLowerCase().replace(/\.gz$/, ''));
  return extension === '.csv' ? 'csv' : extension === '.bin' || extension === '.pgcopy' ? 'binary' : 'text';
}

/** `data/votes.csv` → `votes`, as mysqlimport and pgloader name a table after its file. */
export function defaultTableName(file: string): string {
  const base = path.basename(file);
  const dot = base.indexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}

const SIZE_UNITS: Record<string, number> = { '': 1, B: 1, KB: 1 << 10, MB: 1 << 20, GB: 1 << 30 };

/** `64MB`, `512kB`, `1048576` → bytes (binary units, as PostgreSQL reads memory sizes). */
export function parseByteSize(name: string, text: string): number {
  const match = /^\s*(\d+)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = match?.[2].toUpperCase() ?? '';
  if (!match || !(unit in SIZE_UNITS)) {
    throw invalid(`--${name} must be a size such as 32MB, 512kB or a number of bytes, got ${received(text)}`);
  }
  return Number(match[1]) * SIZE_UNITS[unit];
}

/** `--max-errors 10` → 10, `--max-errors all` → Infinity. */
export function parseMaxErrors(text: string): number {
  if (text.trim().toLowerCase() === 'all') return Infinity;
  if (!/^\s*\d+\s*$/.test(text)) throw invalid(`--max-errors must be a number of rows or "all", got ${received(text)}`);
  return Number(text);
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, min: 60_000, h: 3_600_000 };

/** `30s`, `10min`, `1h`, `500ms` → milliseconds (PostgreSQL's own time units); a bare number is seconds. */
export function parseDuration(name: string, text: string): number {
  const match = /^\s*(\d+)\s*(ms|s|min|h)?\s*$/.exec(text);
  if (!match) throw invalid(`--${name} must be a duration such as 30s, 10min or 1h, got ${received(text)}`);
  return Number(match[1]) * DURATION_UNITS[match[2] ?? 's'];
}
