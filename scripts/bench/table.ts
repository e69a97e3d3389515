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

export function formatSummary(runs: RunResult[], methods: string[]): string {
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
