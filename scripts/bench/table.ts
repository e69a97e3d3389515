/** The printed summary: medians per method, ratios against B and H, phases metered. */
import { availableParallelism } from 'node:os';
import type { PhaseMeasure } from './measurement.ts';
import type { RunResult } from './methods.ts';

const MB = 1e6;

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function formatPhases(phasesS: Record<string, number>): string {
  return Object.entries(phasesS).map(([phase, s]) => `${phase} ${s.toFixed(2)}`).join(' ');
}

export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  // Numbers right-aligned, text left-aligned.
  const numeric = header.map((_, i) => rows.every((r) => /^[-+\d.,%–]+$/.test(r[i])));
  const line = (cells: string[]) => cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** What the printed summary says about where it ran. */
export interface BenchHeader {
  server: string;
  settings: Record<string, string>;
  collations: string;
  host: string;
  input: string;
}

type Pick = (r: RunResult) => number;

/** The summary: the methods side by side, then per phase, per row, the index phase against its CPU floor, memory, checkpoints. */
export function formatSummary(runs: RunResult[], methods: string[], header: BenchHeader): string {
  const of = (method: string) => runs.filter((r) => r.method === method);
  const medianOf = (method: string, pick: Pick) => median(of(method).map(pick));
  const first = runs[0];
  const settings = Object.entries(header.settings).map(([name, value]) => `${name}=${value}`).join(' ');
  const title = [
    `${first.workload}: ${first.rows} rows, ${(first.fileBytes / MB).toFixed(0)} MB, ${Math.max(...runs.map((r) => r.round))} round(s), medians; on ${header.server}`,
    `server: ${settings}`,
    `text columns: ${header.collations}`,
    `host: ${header.host}`,
  ].join('\n');
  const legend = 'cores busy = (server + client CPU) / (wall × cores); other CPU = host CPU used by neither during the run (other load: noise); load = 1-min load average at start–end';
  const sections = [
    title,
    methodsTable(methods, of, medianOf),
    legend,
    meteredTable(methods, of, medianOf),
    perRowTable(methods, of, medianOf),
    indexFloorTable(methods, medianOf),
    clientMemoryTable(methods, of),
    checkpointsTable(methods, of, medianOf, header.settings),
    indexBuildsTable(runs),
    runs.filter((r) => r.strategy).slice(0, 1).map((r) => `ploader's strategy: ${r.strategy!.publish} — ${r.strategy!.reason}`).join(''),
  ];
  return sections.filter((section) => section !== '').join('\n\n');
}

function methodsTable(methods: string[], of: (m: string) => RunResult[], medianOf: (m: string, pick: Pick) => number): string {
  const base = medianOf('B', (r) => r.wallS);
  const hand = medianOf('H', (r) => r.wallS);
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
      cpu(server),
      client.toFixed(1),
      Number.isNaN(server) ? 'n/a' : `${((100 * client) / server).toFixed(0)}%`,
      Math.max(...mine.map((r) => r.peakRssMb)).toFixed(0),
      (medianOf(method, (r) => r.walBytes) / MB).toFixed(0),
      Number.isNaN(server) ? 'n/a' : `${(100 * medianOf(method, (r) => r.coreUtilisation)).toFixed(0)}%`,
      cpu(medianOf(method, (r) => r.otherCpuS)),
      `${Math.min(...mine.map((r) => r.loadAverage.start)).toFixed(2)}–${Math.max(...mine.map((r) => r.loadAverage.end)).toFixed(2)}`,
    ];
  });
  return formatTable(
    ['method', 'wall s', 'min–max', '×B', '×H', 'phases s', 'srv CPU s', 'cli CPU s', 'cli/srv', 'peak RSS MB', 'WAL MB', 'cores busy', 'other CPU s', 'load'],
    rows,
  );
}

function meteredTable(methods: string[], of: (m: string) => RunResult[], medianOf: (m: string, pick: Pick) => number): string {
  const rows = methods.map((method) => {
    const cells = of(method)[0].metered.map(({ phase }) => {
      const pick = (field: keyof Omit<PhaseMeasure, 'phase'>) => medianOf(method, (r) => phaseOf(r, phase)?.[field] ?? 0);
      const wall = pick('wallS');
      const busy = wall > 0 ? (100 * (pick('serverCpuS') + pick('clientCpuS'))) / (wall * availableParallelism()) : NaN;
      return `${phase} ${wall.toFixed(1)}/${cpu(pick('serverCpuS'))}/${pick('clientCpuS').toFixed(1)} (${Number.isNaN(busy) ? 'n/a' : `${busy.toFixed(0)}%`})`;
    });
    return [method, cells.join('  ')];
  });
  return formatTable(['method', 'per phase, medians: wall s / server CPU s / client CPU s (cores busy)'], rows);
}

/** Rows per second of each phase and of the whole run, and the whole run's cost per row: what scale changes. */
function perRowTable(methods: string[], of: (m: string) => RunResult[], medianOf: (m: string, pick: Pick) => number): string {
  const rows = methods.map((method) => {
    const phases = Object.keys(of(method)[0].phasesS).filter((p) => medianOf(method, (r) => r.phasesS[p] ?? 0) >= 0.05);
    const wall = medianOf(method, (r) => r.wallS);
    const rowCount = of(method)[0].rows;
    return [
      method,
      phases.map((p) => `${p} ${formatRate(rowCount / medianOf(method, (r) => r.phasesS[p] ?? 0))}`).join('  '),
      formatRate(rowCount / wall),
      ((wall * 1e6) / rowCount).toFixed(3),
      ((medianOf(method, (r) => r.serverCpuS + r.clientCpuS) * 1e6) / rowCount).toFixed(3),
    ];
  });
  return formatTable(['method', 'rows/s per phase', 'rows/s', 'wall µs/row', 'CPU µs/row'], rows);
}

/** The index phase against its CPU floor: the builds' CPU seconds (all server processes in the phase) / cores. */
function indexFloorTable(methods: string[], medianOf: (m: string, pick: Pick) => number): string {
  const cores = availableParallelism();
  const rows = methods.map((method) => {
    const wall = medianOf(method, (r) => phaseOf(r, 'indexes')?.wallS ?? NaN);
    const serverCpu = medianOf(method, (r) => phaseOf(r, 'indexes')?.serverCpuS ?? NaN);
    const floor = serverCpu / cores;
    return [method, wall.toFixed(2), cpu(serverCpu), cpu(floor), Number.isNaN(floor) ? 'n/a' : (wall / floor).toFixed(2)];
  });
  return formatTable(['method', 'index phase s', 'server CPU s', `CPU floor s (/${cores})`, 'wall / floor'], rows);
}

/** ploader's client memory: the process's peak (VmHWM) and, per worker thread, what the run added to it. */
function clientMemoryTable(methods: string[], of: (m: string) => RunResult[]): string {
  const rows = methods
    .filter((method) => of(method).some((r) => r.rssBeforeMb !== undefined))
    .map((method) => {
      const workers = Number(method.slice(1));
      const peak = Math.max(...of(method).map((r) => r.peakRssMb));
      const before = Math.min(...of(method).map((r) => r.rssBeforeMb ?? NaN));
      return [method, peak.toFixed(0), before.toFixed(0), ((peak - before) / workers).toFixed(1)];
    });
  if (rows.length === 0) return '';
  const table = formatTable(['method', 'peak RSS MB', 'RSS before load() MB', 'per worker thread MB = (peak − before) / workers'], rows);
  if (rows.length < 2) return table;
  // What one more worker thread costs, without the main thread's own growth during a load.
  const [low, high] = [rows[0], rows[rows.length - 1]].map((r) => ({ workers: Number(r[0].slice(1)), peak: Number(r[1]) }));
  return `${table}\nper added worker thread (P${low.workers} → P${high.workers}): ${((high.peak - low.peak) / (high.workers - low.workers)).toFixed(1)} MB`;
}

/**
 * Checkpoints during the runs (the explicit CHECKPOINT before each is not counted), and the
 * max_wal_size that would keep them out: a checkpoint is requested after about max_wal_size /
 * (1 + checkpoint_completion_target) of WAL (PostgreSQL's CheckPointSegments).
 */
function checkpointsTable(methods: string[], of: (m: string) => RunResult[], medianOf: (m: string, pick: Pick) => number, settings: Record<string, string>): string {
  const rows = methods.map((method) => [
    method,
    String(Math.max(...of(method).map((r) => r.checkpoints.count))),
    medianOf(method, (r) => r.checkpoints.writeS + r.checkpoints.syncS).toFixed(1),
    (medianOf(method, (r) => r.walBytes) / MB).toFixed(0),
  ]);
  const target = Number(settings.checkpoint_completion_target ?? 0.9);
  const maxWal = Math.max(...methods.map((method) => Math.max(...of(method).map((r) => r.walBytes))));
  const advice = `max_wal_size (now ${settings.max_wal_size}) that keeps checkpoints out of the largest run's ${(maxWal / MB).toFixed(0)} MB of WAL: ≥ ${((maxWal * (1 + target)) / MB / 1024).toFixed(1)} GB (WAL × (1 + checkpoint_completion_target ${target}))`;
  return `${formatTable(['method', 'checkpoints (max)', 'checkpoint write+sync s', 'WAL MB'], rows)}\n${advice}`;
}

/** ploader's index builds as scheduled and timed, from the last run of each Pn. */
function indexBuildsTable(runs: RunResult[]): string {
  const last = new Map(runs.filter((r) => r.indexBuilds?.length).map((r) => [r.method, r]));
  const rows = [...last.values()].flatMap((r) =>
    r.indexBuilds!.map((b) => [r.method, String(b.order), b.label, b.maintenanceWorkMem, String(b.parallelWorkers), b.estimatedCpuS.toFixed(1), ((b.ms ?? NaN) / 1000).toFixed(2)]),
  );
  if (rows.length === 0) return '';
  return formatTable(['method', 'order', 'build', 'maintenance_work_mem', 'parallel workers', 'estimated CPU s', 'wall s'], rows);
}

function phaseOf(run: RunResult, phase: string): PhaseMeasure | undefined {
  return run.metered.find((m) => m.phase === phase);
}

function cpu(seconds: number): string {
  return Number.isNaN(seconds) ? 'n/a' : seconds.toFixed(1);
}

function formatRate(perSecond: number): string {
  return perSecond >= 1e6 ? `${(perSecond / 1e6).toFixed(2)}M` : `${(perSecond / 1e3).toFixed(0)}k`;
}
