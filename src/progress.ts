/**
 * What a person sees during a long load: a live bar on a terminal, a plain line every few seconds
 * when stderr is a file or a pipe (CI logs, `2> load.log`), or nothing. The numbers come from a
 * pure core (`LoadProgress` and the `format*` functions) that the unit tests drive with a fake clock;
 * the terminal drawing is left to cli-progress.
 */
// The bar is drawn by cli-progress (https://github.com/npkgz/cli-progress, MIT): a well-kept,
// widely used library, stable for years, one small dependency and no native code. It throttles
// redraws and clears the line, so we don't hand-write terminal escape handling.
import { SingleBar } from 'cli-progress';
import { PloaderError } from './errors.ts';
import type { BytesEvent, ProgressEvent } from './options.ts';

export type { BytesEvent };
export type ProgressReporterEvent = ProgressEvent;

export interface ProgressOutput {
  write(text: string): void;
  isTTY?: boolean;
  columns?: number;
}

export type ProgressMode = 'bar' | 'lines' | 'quiet';

export interface ProgressReporterOptions {
  output: ProgressOutput;
  mode: ProgressMode;
  /** Lines mode: at most one progress line per this many ms during the load. Default 5000. */
  intervalMs?: number;
  /** Clock in ms (monotonic); tests inject one. Default `performance.now`. */
  now?: () => number;
}

export interface ProgressReporter {
  onProgress(event: ProgressReporterEvent): void;
  /** Finishes the bar and leaves the cursor on a fresh line. Call it in a `finally`: the bar's redraw timer keeps the process alive. */
  stop(): void;
}

export const DEFAULT_LINE_INTERVAL_MS = 5000;
/** Rates cover the last 5 s: long enough to smooth out chunks finishing in bursts, short enough to show a slowdown (a checkpoint, a busy disk) within a few lines. */
export const RATE_WINDOW_MS = 5000;
/** Redraws per second of the bar; more only costs CPU and flickers over ssh. */
const BAR_REDRAWS_PER_SECOND = 10;
const BAR_WIDTH = { min: 10, max: 30 };
const BAR_DONE = '\u2588';
const BAR_TODO = '\u2591';
/** The phase whose progress is counted in bytes; every other phase shows its name, detail and time. */
const LOAD_PHASE = 'load';
/** DEC save/restore cursor, which cli-progress writes on start/stop; see `terminalStream`. */
const SAVE_CURSOR = '\x1b7';
const RESTORE_CURSOR = '\x1b8';

/** A bar on a terminal, lines elsewhere, nothing when asked to be quiet or when stdout carries JSON. */
export function chooseProgressMode(opts: { isTTY: boolean; quiet: boolean; json: boolean }): ProgressMode {
  if (opts.quiet || opts.json) return 'quiet';
  return opts.isTTY ? 'bar' : 'lines';
}

export function createProgressReporter(options: ProgressReporterOptions): ProgressReporter {
  const { output, mode, intervalMs = DEFAULT_LINE_INTERVAL_MS, now = () => performance.now() } = options;
  if (mode !== 'bar' && mode !== 'lines' && mode !== 'quiet') {
    throw new PloaderError('INVALID_OPTION', `options.mode must be "bar", "lines" or "quiet", got ${JSON.stringify(mode)}`);
  }
  if (!(intervalMs > 0 && Number.isFinite(intervalMs))) {
    throw new PloaderError('INVALID_OPTION', `options.intervalMs must be a positive number of milliseconds, got ${String(intervalMs)}`);
  }
  if (mode === 'quiet') return { onProgress() {}, stop() {} };
  const progress = new LoadProgress();
  return mode === 'bar' ? barReporter(output, progress, now) : lineReporter(output, progress, now, intervalMs);
}

function lineReporter(output: ProgressOutput, progress: LoadProgress, now: () => number, intervalMs: number): ProgressReporter {
  let lastLineMs = now();
  let completeLineWritten = false;
  let stopped = false;
  return {
    onProgress(event) {
      if (stopped) return;
      const atMs = now();
      const change = progress.apply(event, atMs);
      const view = progress.snapshot(atMs);
      if (event.kind === 'phase') {
        if (change !== 'none') output.write(`${formatPhase(view)}\n`);
        lastLineMs = atMs;
        return;
      }
      const complete = isComplete(view);
      if (complete ? completeLineWritten : atMs - lastLineMs < intervalMs) return;
      completeLineWritten = complete;
      lastLineMs = atMs;
      output.write(`${formatLoadLine(view)}\n`);
    },
    stop() {
      stopped = true;
    },
  };
}

/** One live line per phase: it is redrawn in place while the phase runs and left on screen when the next begins. */
function barReporter(output: ProgressOutput, progress: LoadProgress, now: () => number): ProgressReporter {
  const bar = new SingleBar({
    stream: terminalStream(output),
    // Drawn from our own state at each redraw, so a phase's elapsed time ticks between events.
    format: (_options, params) => formatBarLine(progress.snapshot(now()), params.maxWidth),
    fps: BAR_REDRAWS_PER_SECOND,
    // Trim to the terminal's width instead of switching autowrap off, and leave the cursor visible:
    // nothing to restore if the process dies mid-bar (a second Ctrl-C exits at once).
    linewrap: true,
    hideCursor: false,
    // cli.ts owns SIGINT/SIGTERM (the first cancels the load, which keeps reporting while it does).
    gracefulExit: false,
  });
  let stopped = false;
  return {
    onProgress(event) {
      if (stopped) return;
      // A new phase: draw the finished one as it ended and leave it on screen.
      if (bar.isActive && progress.beginsPhase(event)) bar.stop();
      progress.apply(event, now());
      if (bar.isActive) bar.update({});
      else bar.start(0, 0);
    },
    stop() {
      stopped = true;
      if (bar.isActive) bar.stop();
    },
  };
}

/**
 * The output as the stream cli-progress expects. It always claims a TTY, as the caller chose bar
 * mode. It drops the save/restore-cursor pair cli-progress wraps a bar in: the saved position is a
 * screen row, so if anything else printed while the bar ran (cli.ts's Ctrl-C notice) and the
 * screen scrolled, the restore would jump back up and the report would overwrite those lines. A
 * one-line bar needs no restore: it is redrawn at column 0 and ended with a newline.
 */
function terminalStream(output: ProgressOutput): NodeJS.WritableStream {
  const stream = {
    isTTY: true,
    get columns() {
      return output.columns;
    },
    write(text: string) {
      if (text !== SAVE_CURSOR && text !== RESTORE_CURSOR) output.write(text);
      return true;
    },
  };
  return stream as unknown as NodeJS.WritableStream;
}

export interface ProgressSnapshot {
  phase: string | undefined;
  detail: string | undefined;
  phaseElapsedMs: number;
  doneBytes: number;
  totalBytes: number;
  rows: number;
  /** Over the last RATE_WINDOW_MS; undefined until two samples are apart in time. */
  bytesPerSecond: number | undefined;
  rowsPerSecond: number | undefined;
  etaMs: number | undefined;
}

export interface RateSample {
  atMs: number;
  bytes: number;
  rows: number;
}

/** The state of one load as seen through its progress events. Pure: the clock is an argument. */
export class LoadProgress {
  private phase: string | undefined;
  private detail: string | undefined;
  private phaseStartMs = 0;
  private doneBytes = 0;
  private totalBytes = 0;
  private rowsOfChunks = 0;
  private rowsReported = 0;
  private samples: RateSample[] = [];

  /** Applies an event; says whether it began a new phase, changed the detail, or neither. */
  apply(event: ProgressReporterEvent, atMs: number): 'phase' | 'detail' | 'none' {
    if (event.kind === 'phase') {
      const phase = printable(event.phase);
      const detail = event.detail === undefined ? undefined : printable(event.detail);
      if (phase === this.phase) {
        if (detail === this.detail) return 'none';
        this.detail = detail;
        return 'detail';
      }
      [this.phase, this.detail, this.phaseStartMs] = [phase, detail, atMs];
      // The load's rates start from here, not from the first finished chunk.
      if (phase === LOAD_PHASE) this.addSample(atMs);
      return 'phase';
    }
    // Chunk events count finished chunks only, byte events also partial ones: never go backwards.
    this.doneBytes = Math.max(this.doneBytes, event.doneBytes);
    this.totalBytes = event.totalBytes;
    if (event.kind === 'chunk') this.rowsOfChunks += event.rows;
    else if (event.rows !== undefined) this.rowsReported = Math.max(this.rowsReported, event.rows);
    this.addSample(atMs);
    return 'none';
  }

  beginsPhase(event: ProgressReporterEvent): boolean {
    return event.kind === 'phase' && printable(event.phase) !== this.phase;
  }

  snapshot(atMs: number): ProgressSnapshot {
    const rows = Math.max(this.rowsOfChunks, this.rowsReported);
    const rates = ratesOver(this.samples, RATE_WINDOW_MS);
    const remaining = this.totalBytes - this.doneBytes;
    return {
      phase: this.phase,
      detail: this.detail,
      phaseElapsedMs: atMs - this.phaseStartMs,
      doneBytes: this.doneBytes,
      totalBytes: this.totalBytes,
      rows,
      bytesPerSecond: rates?.bytesPerSecond,
      rowsPerSecond: rates?.rowsPerSecond,
      etaMs: rates && rates.bytesPerSecond > 0 ? (Math.max(remaining, 0) / rates.bytesPerSecond) * 1000 : undefined,
    };
  }

  private addSample(atMs: number): void {
    this.samples.push({ atMs, bytes: this.doneBytes, rows: Math.max(this.rowsOfChunks, this.rowsReported) });
    // Keep one sample at or before the window's start, so sparse samples still span the window.
    while (this.samples.length > 2 && this.samples[1].atMs <= atMs - RATE_WINDOW_MS) this.samples.shift();
  }
}

/**
 * Bytes and rows per second from the newest sample back to the newest one at or before the start of
 * the window (or the oldest there is): the recent rate, not the average since the start.
 */
export function ratesOver(samples: readonly RateSample[], windowMs: number): { bytesPerSecond: number; rowsPerSecond: number } | undefined {
  if (samples.length < 2) return undefined;
  const newest = samples[samples.length - 1];
  let anchor = samples[0];
  for (const sample of samples) if (sample.atMs <= newest.atMs - windowMs) anchor = sample;
  const seconds = (newest.atMs - anchor.atMs) / 1000;
  if (seconds <= 0) return undefined;
  return { bytesPerSecond: (newest.bytes - anchor.bytes) / seconds, rowsPerSecond: (newest.rows - anchor.rows) / seconds };
}

/** Names from the catalog (index names are quoted identifiers) may hold any character; no control codes reach the terminal. */
function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, '?');
}

const BYTE_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];

/** Decimal units, as the report prints MB: `512 B`, `1.2 MB`, `52 MB`, `2.6 GB`. */
export function formatBytes(bytes: number): string {
  let value = Math.max(bytes, 0);
  let unit = 0;
  while (unit < BYTE_UNITS.length - 1 && value >= 999.5) {
    value /= 1000;
    unit++;
  }
  const digits = unit === 0 || value >= 9.95 ? String(Math.round(value)) : value.toFixed(1);
  return `${digits} ${BYTE_UNITS[unit]}`;
}

/** `45s`, `3m10s`, `2h05m`: whole seconds under an hour, whole minutes above. */
export function formatDuration(ms: number): string {
  const seconds = Math.max(Math.round(ms / 1000), 0);
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  const minutes = Math.round(seconds / 60);
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function percentDone(view: ProgressSnapshot): number {
  return view.totalBytes > 0 ? Math.min(100, Math.floor((view.doneBytes / view.totalBytes) * 100)) : 0;
}

function isComplete(view: ProgressSnapshot): boolean {
  return view.totalBytes > 0 && view.doneBytes >= view.totalBytes;
}

/** `indexes: index votes_link_idx (2/3)` */
export function formatPhase(view: ProgressSnapshot): string {
  return `${view.phase ?? LOAD_PHASE}${view.detail ? `: ${view.detail}` : ''}`;
}

/** `load: 45% 1.2 GB of 2.6 GB, 3,400,000 rows, 410,000 rows/s, 52 MB/s, ETA 3m10s` */
export function formatLoadLine(view: ProgressSnapshot): string {
  const parts = [`${LOAD_PHASE}: ${percentDone(view)}% ${formatBytes(view.doneBytes)} of ${formatBytes(view.totalBytes)}`, `${formatCount(view.rows)} rows`];
  if (view.rowsPerSecond !== undefined && view.bytesPerSecond !== undefined) {
    parts.push(`${formatCount(view.rowsPerSecond)} rows/s`, `${formatBytes(view.bytesPerSecond)}/s`);
  }
  if (view.etaMs !== undefined && !isComplete(view)) parts.push(`ETA ${formatDuration(view.etaMs)}`);
  return parts.join(', ');
}

/**
 * The bar's line, at most `width - 1` columns (a full-width line would leave the cursor waiting to
 * wrap). Load: `load ██████░░░░ 45% | 1.2 GB/2.6 GB | 3,400,000 rows | 410,000 rows/s | 52 MB/s | ETA 3m10s`;
 * on a narrow terminal the bar goes first, then the byte counts, MB/s and rows. Any other phase:
 * `indexes: index votes_link_idx (2/3) | 12s`.
 */
export function formatBarLine(view: ProgressSnapshot, width: number): string {
  const room = Math.max(width - 1, 1);
  if ((view.phase ?? LOAD_PHASE) !== LOAD_PHASE || view.totalBytes === 0) {
    return `${formatPhase(view)} | ${formatDuration(view.phaseElapsedMs)}`.slice(0, room);
  }
  const percent = percentDone(view);
  const rates = view.rowsPerSecond !== undefined && view.bytesPerSecond !== undefined;
  const bytes = `${formatBytes(view.doneBytes)}/${formatBytes(view.totalBytes)}`;
  const bytesPerSecond = `${rates ? formatBytes(view.bytesPerSecond!) : '--'}/s`;
  const rows = `${formatCount(view.rows)} rows`;
  let fields = [
    `${percent}%`,
    bytes,
    rows,
    `${rates ? formatCount(view.rowsPerSecond!) : '--'} rows/s`,
    bytesPerSecond,
    isComplete(view) ? `took ${formatDuration(view.phaseElapsedMs)}` : `ETA ${view.etaMs === undefined ? '--' : formatDuration(view.etaMs)}`,
  ];
  const barSize = Math.min(room - `${LOAD_PHASE}  ${fields.join(' | ')}`.length, BAR_WIDTH.max);
  if (barSize >= BAR_WIDTH.min) {
    const done = Math.round((barSize * percent) / 100);
    return `${LOAD_PHASE} ${BAR_DONE.repeat(done)}${BAR_TODO.repeat(barSize - done)} ${fields.join(' | ')}`;
  }
  for (const expendable of [bytes, bytesPerSecond, rows]) {
    if (`${LOAD_PHASE} ${fields.join(' | ')}`.length <= room) break;
    fields = fields.filter((field) => field !== expendable);
  }
  return `${LOAD_PHASE} ${fields.join(' | ')}`.slice(0, room);
}
