/**
 * Progress as a log reader and a terminal user see it: exact lines against a fake clock, no escape
 * codes outside bar mode, rates over the recent window rather than since the start.
 */
import { describe, expect, it } from 'vitest';
import {
  chooseProgressMode,
  createProgressReporter,
  formatBarLine,
  formatBytes,
  formatDuration,
  ratesOver,
  type ProgressMode,
  type ProgressReporterEvent,
  type ProgressSnapshot,
} from '../../../src/report/progress.ts';

const GB = 1_000_000_000;
const MB = 1_000_000;

function fakeOutput(isTTY = false) {
  const writes: string[] = [];
  return { writes, output: { isTTY, columns: 100, write: (text: string) => void writes.push(text) } };
}

/** Runs timed events through a reporter; returns everything it wrote. */
function run(mode: ProgressMode, events: Array<[atMs: number, event: ProgressReporterEvent]>, isTTY = false): string {
  let clock = 0;
  const { writes, output } = fakeOutput(isTTY);
  const reporter = createProgressReporter({ output, mode, intervalMs: 5000, now: () => clock });
  for (const [atMs, event] of events) {
    clock = atMs;
    reporter.onProgress(event);
  }
  reporter.stop();
  return writes.join('');
}

const bytes = (doneBytes: number, rows?: number): ProgressReporterEvent => ({ kind: 'bytes', doneBytes, totalBytes: GB, rows });
const phase = (name: string, detail?: string): ProgressReporterEvent => ({ kind: 'phase', phase: name, detail });

/** 100 MB/s for 5 s, then 50 MB/s for 5 s, then the last 250 MB in 2 s; 3 rows per kB. */
const LOAD: Array<[number, ProgressReporterEvent]> = [
  [0, phase('load', '4 chunks, 2 workers')],
  ...[1, 2, 3, 4, 5].map((s): [number, ProgressReporterEvent] => [s * 1000, bytes(s * 100 * MB, s * 300_000)]),
  ...[6, 7, 8, 9, 10].map((s): [number, ProgressReporterEvent] => [s * 1000, bytes(500 * MB + (s - 5) * 50 * MB, 1_500_000 + (s - 5) * 150_000)]),
  [12_000, bytes(GB, 3_000_000)],
  [12_100, { kind: 'chunk', chunk: 3, rows: 750_000, bytes: 250 * MB, doneBytes: GB, totalBytes: GB }],
  [13_000, phase('durable', 'SET LOGGED')],
  [14_000, phase('indexes', 'index a (1/2)')],
  [14_001, phase('indexes', 'index a (1/2)')],
  [14_002, phase('indexes', 'index b (2/2)')],
  [20_000, phase('publish', 'swap')],
];

describe('lines mode', () => {
  it('prints each phase, a load line at most every interval with recent rates, and one at 100%', () => {
    expect(run('lines', LOAD).split('\n')).toEqual([
      'load: 4 chunks, 2 workers',
      'load: 50% 500 MB of 1.0 GB, 1,500,000 rows, 300,000 rows/s, 100 MB/s, ETA 5s',
      // The last 5 s ran at 50 MB/s; the average since the start (75 MB/s) would hide the slowdown.
      'load: 75% 750 MB of 1.0 GB, 2,250,000 rows, 150,000 rows/s, 50 MB/s, ETA 5s',
      'load: 100% 1.0 GB of 1.0 GB, 3,000,000 rows, 240,000 rows/s, 80 MB/s',
      'durable: SET LOGGED',
      'indexes: index a (1/2)',
      'indexes: index b (2/2)',
      'publish: swap',
      '',
    ]);
  });

  it('counts rows and rates from chunk events alone, and never goes backwards on a late chunk event', () => {
    const chunk = (atMs: number, n: number, doneBytes: number): [number, ProgressReporterEvent] => [
      atMs,
      { kind: 'chunk', chunk: n, rows: 1000, bytes: 250 * MB, doneBytes, totalBytes: GB },
    ];
    const text = run('lines', [
      [0, phase('load')],
      chunk(6000, 0, 250 * MB),
      [10_500, bytes(600 * MB)],
      chunk(11_500, 1, 500 * MB),
    ]);
    expect(text.split('\n')).toEqual([
      'load',
      'load: 25% 250 MB of 1.0 GB, 1,000 rows, 167 rows/s, 42 MB/s, ETA 18s',
      'load: 60% 600 MB of 1.0 GB, 2,000 rows, 182 rows/s, 64 MB/s, ETA 6s',
      '',
    ]);
  });

  it('writes no escape codes, even on a terminal, even for names holding control characters', () => {
    const text = run('lines', [...LOAD, [21_000, phase('indexes', 'index "\x1b[31mred\x07" (1/1)')]], true);
    expect(text).not.toContain('\x1b');
    expect(text).not.toContain('\x07');
    expect(text).toContain('indexes: index "?[31mred?" (1/1)');
  });

  it('prints nothing after stop()', () => {
    let clock = 0;
    const { writes, output } = fakeOutput();
    const reporter = createProgressReporter({ output, mode: 'lines', now: () => clock });
    reporter.stop();
    clock = 10_000;
    reporter.onProgress(phase('load'));
    expect(writes).toEqual([]);
  });
});

describe('quiet mode', () => {
  it('prints nothing at all', () => {
    expect(run('quiet', LOAD, true)).toBe('');
  });
});

describe('bar mode', () => {
  it('draws each phase on a line of its own, redrawn in place, and ends on a fresh line', () => {
    const text = run('bar', LOAD);
    const lines = text.split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(/^\x1b\[1Gload: 4 chunks, 2 workers \| 0s/);
    expect(lines[0]).toMatch(/load █+ 100% \| 1\.0 GB\/1\.0 GB \| 3,000,000 rows \| 235,294 rows\/s \| 78 MB\/s \| took 13s\x1b\[0K$/);
    expect(lines[1]).toMatch(/durable: SET LOGGED \| 1s\x1b\[0K$/);
    expect(lines[2]).toMatch(/indexes: index b \(2\/2\) \| 6s\x1b\[0K$/);
    expect(lines[3]).toMatch(/publish: swap \| 0s\x1b\[0K$/);
    expect(lines[4]).toBe('');
    // No save/restore-cursor pair: a restore after other output would jump back up the screen.
    expect(text).not.toMatch(/\x1b[78]/);
  });

  it('writes nothing when no event came', () => {
    expect(run('bar', [])).toBe('');
  });
});

const view = (over: Partial<ProgressSnapshot>): ProgressSnapshot => ({
  phase: 'load',
  detail: undefined,
  phaseElapsedMs: 0,
  doneBytes: 0,
  totalBytes: 0,
  rows: 0,
  bytesPerSecond: undefined,
  rowsPerSecond: undefined,
  etaMs: undefined,
  ...over,
});

describe('formatting', () => {
  it.each([
    [0, '0 B'],
    [999, '999 B'],
    [1000, '1.0 kB'],
    [1_234_567, '1.2 MB'],
    [9_949_999, '9.9 MB'],
    [9_960_000, '10 MB'],
    [52_400_000, '52 MB'],
    [999_400_000, '999 MB'],
    [999_600_000, '1.0 GB'],
    [2_600_000_000, '2.6 GB'],
    [12_345_000_000_000, '12 TB'],
  ])('formatBytes(%d) = %s', (n, text) => {
    expect(formatBytes(n)).toBe(text);
  });

  it.each([
    [0, '0s'],
    [400, '0s'],
    [45_000, '45s'],
    [59_600, '1m00s'],
    [190_000, '3m10s'],
    [3_599_000, '59m59s'],
    [3_600_000, '1h00m'],
    [7_500_000, '2h05m'],
    [100 * 3_600_000, '100h00m'],
  ])('formatDuration(%d) = %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it.each([
    { name: 'one sample', samples: [[0, 0, 0]], rates: undefined },
    { name: 'no time between samples', samples: [[5, 0, 0], [5, 100, 1]], rates: undefined },
    { name: 'within the window: since the oldest', samples: [[0, 0, 0], [2000, 200, 20]], rates: { bytesPerSecond: 100, rowsPerSecond: 10 } },
    { name: 'past the window: the last 5 s only', samples: [[0, 0, 0], [5000, 1000, 100], [10_000, 1500, 150]], rates: { bytesPerSecond: 100, rowsPerSecond: 10 } },
    { name: 'sparse: from the newest sample at the window start', samples: [[0, 0, 0], [20_000, 2000, 0], [40_000, 2400, 0]], rates: { bytesPerSecond: 20, rowsPerSecond: 0 } },
  ])('ratesOver: $name', ({ samples, rates }) => {
    expect(ratesOver(samples.map(([atMs, b, rows]) => ({ atMs, bytes: b, rows })), 5000)).toEqual(rates);
  });

  it.each([
    { width: 120, line: 'load ██████████████░░░░░░░░░░░░░░░░ 45% | 1.2 GB/2.6 GB | 3,400,000 rows | 410,000 rows/s | 52 MB/s | ETA 3m10s' },
    { width: 100, line: 'load ████████░░░░░░░░░░ 45% | 1.2 GB/2.6 GB | 3,400,000 rows | 410,000 rows/s | 52 MB/s | ETA 3m10s' },
    { width: 80, line: 'load 45% | 3,400,000 rows | 410,000 rows/s | 52 MB/s | ETA 3m10s' },
    { width: 50, line: 'load 45% | 410,000 rows/s | ETA 3m10s' },
    { width: 30, line: 'load 45% | 410,000 rows/s | E' },
  ])('formatBarLine fits $width columns', ({ width, line }) => {
    const loading = view({ doneBytes: 1.18 * GB, totalBytes: 2.6 * GB, rows: 3_400_000, rowsPerSecond: 410_000, bytesPerSecond: 52 * MB, etaMs: 190_000 });
    expect(formatBarLine(loading, width)).toBe(line);
    expect(formatBarLine(loading, width).length).toBeLessThan(width);
  });

  it.each([
    { name: 'load before any bytes', over: { detail: '8 chunks, 4 workers', phaseElapsedMs: 1200 }, line: 'load: 8 chunks, 4 workers | 1s' },
    { name: 'no rates yet', over: { doneBytes: 0, totalBytes: GB }, line: 'load ░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░ 0% | 0 B/1.0 GB | 0 rows | -- rows/s | --/s | ETA --' },
    { name: 'a finalizer step', over: { phase: 'indexes', detail: 'index votes_link_idx (2/3)', phaseElapsedMs: 12_000, doneBytes: GB, totalBytes: GB }, line: 'indexes: index votes_link_idx (2/3) | 12s' },
  ])('formatBarLine: $name', ({ over, line }) => {
    expect(formatBarLine(view(over), 120)).toBe(line);
  });
});

describe('chooseProgressMode', () => {
  it.each([
    { isTTY: true, quiet: false, json: false, mode: 'bar' },
    { isTTY: false, quiet: false, json: false, mode: 'lines' },
    { isTTY: true, quiet: true, json: false, mode: 'quiet' },
    { isTTY: true, quiet: false, json: true, mode: 'quiet' },
    { isTTY: false, quiet: false, json: true, mode: 'quiet' },
  ])('isTTY $isTTY, quiet $quiet, json $json → $mode', ({ mode, ...opts }) => {
    expect(chooseProgressMode(opts)).toBe(mode);
  });
});

describe('createProgressReporter', () => {
  it.each([
    { options: { intervalMs: 0 }, message: 'options.intervalMs must be a positive number of milliseconds, got 0' },
    { options: { intervalMs: Number.NaN }, message: 'options.intervalMs must be a positive number of milliseconds, got NaN' },
    { options: { mode: 'fancy' as ProgressMode }, message: 'options.mode must be "bar", "lines" or "quiet", got "fancy"' },
  ])('rejects $options', ({ options, message }) => {
    expect(() => createProgressReporter({ output: fakeOutput().output, mode: 'lines', ...options })).toThrow(message);
  });
});
