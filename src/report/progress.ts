/**
 * What a person sees during a long load: a live bar on a terminal, a plain line every few seconds
 * when stderr is a file or a pipe (CI logs, `2> load.log`), or nothing. The numbers come from a
 * pure core (`LoadProgress` here, the `format*` functions in progress-format.ts) that the unit tests
 * drive with a fake clock; the terminal drawing is left to cli-progress.
 */
// The bar is drawn by cli-progress (https://github.com/npkgz/cli-progress, MIT): a well-kept,
// widely used library, stable for years, one small dependency and no native code. It throttles
// redraws and clears the line, so we don't hand-write terminal escape handling.
import { SingleBar } from 'cli-progress';
import { PloaderError } from '../errors.ts';
import type { BytesEvent, ProgressEvent } from '../options.ts';
import {
  formatBarLine,
  formatLoadLine,
  formatPhase,
  isComplete,
  LOAD_PHASE,
  ratesOver,
  type ProgressSnapshot,
  type RateSample,
} from './progress-format.ts';

export type { BytesEvent };
export type { ProgressSnapshot, RateSample };
export { formatBarLine, formatBytes, formatCount, formatDuration, formatLoadLine, formatPhase, ratesOver } from './progress-format.ts';
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

/** Names from the catalog (index names are quoted identifiers) may hold any character; no control codes reach the terminal. */
function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, '?');
}
