/**
 * Pure: which index build runs when, with how much sort memory and how many parallel maintenance
 * workers. Facts in (rows, each build's key types and collations, the server's limits, the cores),
 * a schedule out; finalize.ts reads the facts and runs it.
 *
 * Measured on this project's 2-core machine (scripts/bench-index-builds.ts; README "How the
 * finalizer chooses"):
 * - A build's CPU is its sort: rows × log2(rows) × a per-comparison cost set by the key's type and
 *   collation. Text under a libc collation other than C (e.g. C.UTF-8, en_US.UTF-8) compares with
 *   strcoll and gets no abbreviated keys: ~5× an int4 key; under C, ICU or the builtin provider text
 *   sorts on abbreviated keys, ~2× an int4 key.
 * - One session more than there are cores: the builds then share the cores to the end instead of
 *   leaving one idle while the last runs alone (PostgreSQL 15, C.UTF-8, 7.5M votes, VACUUM FROZEN,
 *   3 rounds, medians: PK + 2 text indexes in 3 sessions at once 11.12 s wall for 21.8 s of server CPU,
 *   1.02× the CPU floor; longest first over 2 sessions 11.88 s, 22.1 s, 1.08×; serially with the
 *   server's parallel workers, as B builds them, 11.45 s, 20.4 s, 1.12×). A core still left idle at
 *   the end (fewer builds than sessions) is given to the build running alone as a parallel worker.
 * - Sort memory beyond what one merge pass needs made builds slower, not faster (64MB against
 *   256MB: 3.0 s against 4.1 s of CPU for a text index of 3M rows on PostgreSQL 15): quicksorting
 *   runs that fit the CPU caches better beats fewer, larger runs.
 */

export type KeyKind =
  /** Fixed-width, by-value keys (int, bigint, date, timestamp, float, bool, oid). */
  | 'fixed'
  /** Text-like keys that sort on abbreviated keys: C/POSIX or builtin collation, ICU; and bytea, uuid, numeric. */
  | 'abbreviated'
  /** Text under a libc collation other than C/POSIX: strcoll on every comparison. */
  | 'libc-collated'
  /** Anything else: expressions, arrays, composite, json, geometric types (a guess between the others). */
  | 'other';

export interface BuildKey {
  kind: KeyKind;
  /** Average stored width in bytes (pg_column_size), for the sort's memory and the comparison's length. */
  widthBytes: number;
}

export interface IndexBuild {
  label: string;
  /** Key columns in order (an expression index: one 'other' key). */
  keys: BuildKey[];
  /** A partial index sorts only its rows; unknown selectivity counts as all rows. */
  rowFraction?: number;
}

export interface ServerLimits {
  /** The server's maintenance_work_mem, bytes: the most one build is given (what the server allows one maintenance operation). */
  maintenanceWorkMemBytes: number;
  /** The server's max_parallel_maintenance_workers, capped by its max_parallel_workers: the most workers one build is given. */
  maxParallelWorkers: number;
}

export interface ScheduleInput {
  builds: IndexBuild[];
  rows: number;
  cores: number;
  server: ServerLimits;
  /** `--index-memory`: the user's maintenance_work_mem for every build, overriding the sizing (still per participant rules apply). */
  memoryOverrideBytes?: number;
}

export interface ScheduledBuild {
  label: string;
  /** 0-based position in the start order (longest first). */
  order: number;
  /** Estimated CPU seconds on one core of this project's reference machine: only their ratios matter. */
  estimatedCpuS: number;
  parallelWorkers: number;
  /** maintenance_work_mem of the build's session, bytes (shared by the leader and its workers). */
  maintenanceWorkMemBytes: number;
}

export interface IndexSchedule {
  sessions: number;
  builds: ScheduledBuild[];
  /** Estimated wall seconds of the index phase, and its floor: total estimated CPU / cores. */
  estimatedWallS: number;
  floorS: number;
}

const KB = 1024;
const MB = 1024 * KB;
/** Per-comparison cost, in µs at log2(rows) = 1, by key kind: fitted to single builds on PostgreSQL 15 and 18 (README). */
const COMPARISON_US: Record<KeyKind, number> = { fixed: 0.008, abbreviated: 0.016, 'libc-collated': 0.045, other: 0.03 };
/** Each further key column is compared only on ties of the ones before it. */
const LATER_KEY_SHARE = 0.25;
/** Text comparisons grow with the length compared: per byte beyond 16, relative to the base cost. */
const WIDTH_SHARE_PER_BYTE = 1 / 64;
/** A sort tuple: SortTuple (24 bytes) + the index tuple's header (8) + alignment and palloc overhead, beyond the key bytes. */
const SORT_TUPLE_OVERHEAD_BYTES = 48;
/** PostgreSQL sizes its merge buffers at 256kB per input run (tuplesort.c MERGE_BUFFER_SIZE). */
const MERGE_BUFFER_BYTES = 256 * KB;
/** Enough memory for the runs to merge in one pass, with a factor of 2 to spare for the estimate's error. */
const ONE_PASS_MARGIN = 2;
/** The smallest sort memory a build is given, and the size that measured best per process (see the header). */
export const SWEET_SPOT_SORT_BYTES = 64 * MB;
/** PostgreSQL gives a parallel build's participants maintenance_work_mem / participants, and at least 32MB each, or fewer workers. */
export const MIN_BYTES_PER_PARTICIPANT = 32 * MB;
/** A parallel build's extra CPU (the workers' shared scan, the leader's final merge), measured 0.9-1.15×: 1.1. */
const PARALLEL_CPU_OVERHEAD = 1.1;
/** Only a predicted gain of more than this share of the phase is worth the workers' overhead and the estimate's error. */
const MIN_GAIN_SHARE = 0.05;
/** At most this many builds are tried with and without workers (2^n schedules simulated). */
const MAX_SEARCHED_BUILDS = 8;

export function estimateBuildCpuSeconds(build: IndexBuild, rows: number): number {
  const sorted = Math.max(1, rows * (build.rowFraction ?? 1));
  const perComparison = build.keys.reduce((sum, key, i) => {
    const widthFactor = key.kind === 'fixed' ? 1 : 1 + Math.max(0, key.widthBytes - 16) * WIDTH_SHARE_PER_BYTE;
    return sum + COMPARISON_US[key.kind] * widthFactor * (i === 0 ? 1 : LATER_KEY_SHARE);
  }, 0);
  return (sorted * Math.log2(Math.max(2, sorted)) * perComparison) / 1e6;
}

/** What the build's sort holds: one tuple per row, key bytes plus overhead. */
export function sortBytes(build: IndexBuild, rows: number): number {
  const keyBytes = build.keys.reduce((sum, key) => sum + key.widthBytes, 0);
  return Math.ceil(rows * (build.rowFraction ?? 1)) * (keyBytes + SORT_TUPLE_OVERHEAD_BYTES);
}

/**
 * Sort memory for one participant: the sweet spot, or more when the runs would not merge in one pass
 * (runs = sort / memory, merge order = memory / merge buffer: one pass needs memory ≥ √(sort × buffer)),
 * or less when the whole sort fits in less.
 */
export function participantSortBytes(bytes: number): number {
  const onePass = ONE_PASS_MARGIN * Math.sqrt(bytes * MERGE_BUFFER_BYTES);
  const wanted = Math.max(SWEET_SPOT_SORT_BYTES, onePass);
  return Math.ceil(Math.min(wanted, Math.max(bytes * 1.25, MIN_BYTES_PER_PARTICIPANT)) / MB) * MB;
}

export function scheduleIndexBuilds(input: ScheduleInput): IndexSchedule {
  const cores = Math.max(1, input.cores);
  const ordered = input.builds
    .map((build) => ({ build, cpuS: estimateBuildCpuSeconds(build, input.rows), bytes: sortBytes(build, input.rows) }))
    .sort((a, b) => b.cpuS - a.cpuS);
  const sessions = Math.min(cores + 1, ordered.length);
  const floorS = ordered.reduce((sum, b) => sum + b.cpuS, 0) / cores;
  const maxWorkers = (bytes: number) => workersAllowed(input, cores, bytes);
  const tail = candidatesForWorkers(ordered.length, sessions);
  let best = { workers: ordered.map(() => 0), wallS: simulate(ordered.map((b) => b.cpuS), ordered.map(() => 0), sessions, cores) };
  const noWorkersS = best.wallS;
  for (let mask = 1; mask < 1 << tail.length; mask++) {
    const workers = ordered.map((b, i) => {
      const bit = tail.indexOf(i);
      return bit >= 0 && mask & (1 << bit) ? maxWorkers(b.bytes) : 0;
    });
    if (workers.every((w, i) => w === best.workers[i])) continue;
    const wallS = simulate(ordered.map((b) => b.cpuS), workers, sessions, cores);
    if (wallS < best.wallS) best = { workers, wallS };
  }
  if (noWorkersS - best.wallS < MIN_GAIN_SHARE * noWorkersS) best = { workers: ordered.map(() => 0), wallS: noWorkersS };
  return {
    sessions,
    floorS,
    estimatedWallS: best.wallS,
    builds: ordered.map((b, order) => ({
      label: b.build.label,
      order,
      estimatedCpuS: b.cpuS,
      parallelWorkers: best.workers[order],
      maintenanceWorkMemBytes: sessionMemory(input, b.bytes, best.workers[order]),
    })),
  };
}

/**
 * The builds that may be running while a session has nothing left to start: the longest ones
 * (started first, running throughout) and the last ones to start. All of them when they are few.
 */
function candidatesForWorkers(count: number, sessions: number): number[] {
  const all = Array.from({ length: count }, (_, i) => i);
  if (count <= MAX_SEARCHED_BUILDS) return all;
  const longest = Math.min(sessions, MAX_SEARCHED_BUILDS / 2);
  return [...all.slice(0, longest), ...all.slice(count - (MAX_SEARCHED_BUILDS - longest))];
}

/** Workers one build may have: a core each, the server's limit, and 32MB of the session's memory per participant. */
function workersAllowed(input: ScheduleInput, cores: number, bytes: number): number {
  const byServer = Math.min(cores - 1, input.server.maxParallelWorkers);
  for (let workers = byServer; workers > 0; workers--) {
    if (sessionMemory(input, bytes, workers) / (workers + 1) >= MIN_BYTES_PER_PARTICIPANT) return workers;
  }
  return 0;
}

/** The session's maintenance_work_mem: each participant's share, never above the server's own setting (or the user's override). */
function sessionMemory(input: ScheduleInput, bytes: number, workers: number): number {
  const participants = workers + 1;
  const wanted = participants * participantSortBytes(bytes / participants);
  return input.memoryOverrideBytes ?? Math.min(wanted, input.server.maintenanceWorkMemBytes);
}

/**
 * Predicted wall seconds of list scheduling in the given order over `sessions` sessions: each build
 * needs cpuS × overhead of CPU spread over its 1 + workers processes; all running processes share
 * the cores equally (processor sharing), a process never getting more than one core.
 */
export function simulate(cpuS: readonly number[], workers: readonly number[], sessions: number, cores: number): number {
  const running: Array<{ left: number; processes: number }> = [];
  let next = 0;
  let now = 0;
  const startNext = () => {
    const w = workers[next];
    running.push({ left: cpuS[next] * (w > 0 ? PARALLEL_CPU_OVERHEAD : 1), processes: 1 + w });
    next++;
  };
  while (next < cpuS.length && running.length < sessions) startNext();
  while (running.length > 0) {
    const processes = running.reduce((sum, r) => sum + r.processes, 0);
    const perProcess = Math.min(1, cores / processes);
    // Time until the first running build finishes at the current rates.
    const step = Math.min(...running.map((r) => r.left / (r.processes * perProcess)));
    now += step;
    for (const r of running) r.left -= step * r.processes * perProcess;
    for (let i = running.length - 1; i >= 0; i--) if (running[i].left <= 1e-9) running.splice(i, 1);
    while (next < cpuS.length && running.length < sessions) startNext();
  }
  return now;
}
