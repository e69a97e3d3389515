/**
 * The words and numbers of a progress line, as pure functions of a `ProgressSnapshot`: byte, count
 * and duration formatting, recent rates, the periodic log line and the width-limited bar line.
 * progress.ts feeds them from the load's events; the unit tests feed them directly.
 */

const BAR_WIDTH = { min: 10, max: 30 };
const BAR_DONE = '\u2588';
const BAR_TODO = '\u2591';
/** The phase whose progress is counted in bytes; every other phase shows its name, detail and time. */
export const LOAD_PHASE = 'load';

export interface ProgressSnapshot {
  phase: string | undefined;
  detail: string | undefined;
  phaseElapsedMs: number;
  doneBytes: number;
  totalBytes: number;
  rows: number;
  /** Over the last RATE_WINDOW_MS (progress.ts); undefined until two samples are apart in time. */
  bytesPerSecond: number | undefined;
  rowsPerSecond: number | undefined;
  etaMs: number | undefined;
}

export interface RateSample {
  atMs: number;
  bytes: number;
  rows: number;
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

export function isComplete(view: ProgressSnapshot): boolean {
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
