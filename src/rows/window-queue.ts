/**
 * Pure bookkeeping of bad-row isolation's probe windows: which records are still to be checked,
 * which are known good or bad, and how large the next windows are.
 *
 * The records after a chunk's first bad row form a queue of pieces in file order: runs known good,
 * single records known bad, and runs not checked yet. A batch of windows is cut from the runs not
 * checked yet, earliest first (records read from the chunk are added as the batch needs them); all
 * of them are checked at once (one pipelined round trip, copy-stream.ts copyPipeline), and each
 * window's outcome splits it into the good records before its first bad one, that bad one, and the
 * records after it, which are checked again. The leading settled pieces are taken off in file order,
 * so good records reach the chunk's COPY and bad ones the reject spool in the order of the file.
 *
 * Windows grow while they load and shrink to twice the good run before a bad row when they fail (a
 * running mean of the good runs): about one bad row per window, and the bytes sent past it (which the
 * server discards unread) stay within the window.
 */
import type { RecordWithBytes } from './chunk-records.ts';

/** A record set aside, with why (what the reject log keeps). */
export interface SettledBad<Reason> {
  record: RecordWithBytes;
  reason: Reason;
}

/** A settled piece of the queue: good records to load, or one record to set aside. */
export type Settled<Reason> = { good: RecordWithBytes[] } | { bad: SettledBad<Reason> };

/** Records being checked: one window of a batch. */
export interface Window {
  readonly records: RecordWithBytes[];
}

/**
 * What a window's check found: the records (by position in the window) the server refused, in order.
 * All of them but the last are ones it skipped and loaded past (ON_ERROR ignore); `failedAt` is where
 * it stopped, or undefined when it loaded to the end.
 */
export interface WindowResult<Reason> {
  skipped: ReadonlyArray<{ at: number; reason: Reason }>;
  failedAt?: number;
  failure?: Reason;
}

/** An unchecked run is a view [start, end) of the records read (a read block's worth is not copied per batch). */
type Piece<Reason> =
  | { kind: 'good'; records: RecordWithBytes[] }
  | { kind: 'bad'; bad: SettledBad<Reason> }
  | { kind: 'unknown'; records: RecordWithBytes[]; start: number; end: number }
  | { kind: 'window'; window: Window };

export interface WindowSizes {
  /** Window size at the start, and at most. */
  first: number;
  max: number;
  /** Weight of the latest good run in the running mean. */
  gapWeight: number;
}

export class WindowQueue<Reason> {
  private pieces: Piece<Reason>[] = [];
  private exhausted = false;
  private windowBytes: number;
  /** Running mean of the good runs between bad rows, in bytes (-1 before the first). */
  private meanGoodBytes = -1;
  /** Bytes of the records read and not yet taken. */
  private queuedBytes = 0;
  /** The latest record known good: a probe stream starts with one (see isolate-bad-rows.ts). */
  primer: RecordWithBytes | undefined;

  constructor(
    private readonly records: AsyncIterator<RecordWithBytes[]>,
    primer: RecordWithBytes | undefined,
    read: RecordWithBytes[],
    private readonly sizes: WindowSizes,
  ) {
    this.primer = primer;
    this.windowBytes = sizes.first;
    this.queuedBytes = bytesOf(read);
    if (read.length > 0) this.pieces.push({ kind: 'unknown', records: read, start: 0, end: read.length });
  }

  /** The size of the next windows, in bytes. */
  get size(): number {
    return this.windowBytes;
  }

  /**
   * Every record queued is still to be checked (or none is queued): the next window starts at the
   * first record not yet taken, and what it settles is all that the next takeSettled gives.
   */
  get onlyUnchecked(): boolean {
    return this.pieces.every((piece) => piece.kind === 'unknown');
  }

  /** The chunk's records are all read and all checked. */
  get done(): boolean {
    return this.exhausted && this.pieces.length === 0;
  }

  /**
   * Up to `maxWindows` windows of the next unchecked records, about `size` bytes each and at most
   * `maxBytes` in all (one at least, while records remain). Records are read from the chunk only
   * while fewer than `maxQueuedBytes` are queued.
   */
  async nextBatch(maxWindows: number, maxBytes: number, maxQueuedBytes: number): Promise<Window[]> {
    const windows: Window[] = [];
    const out: Piece<Reason>[] = [];
    let batchBytes = 0;
    // The window being filled: consecutive unchecked records, across runs that touch.
    let filling: RecordWithBytes[] | undefined;
    let fillingBytes = 0;
    const close = () => {
      if (!filling) return;
      const window: Window = { records: filling };
      windows.push(window);
      out.push({ kind: 'window', window });
      filling = undefined;
      fillingBytes = 0;
    };
    const full = () => windows.length >= maxWindows || batchBytes >= maxBytes;
    for (let i = 0; ; i++) {
      if (i === this.pieces.length) {
        if (full() || this.exhausted || (this.queuedBytes >= maxQueuedBytes && (windows.length > 0 || filling))) break;
        const next = await this.records.next();
        if (next.done) {
          this.exhausted = true;
          break;
        }
        this.pieces.push({ kind: 'unknown', records: next.value, start: 0, end: next.value.length });
        this.queuedBytes += bytesOf(next.value);
      }
      const piece = this.pieces[i];
      if (piece.kind !== 'unknown' || full()) {
        close();
        out.push(piece);
        continue;
      }
      let at = piece.start;
      while (at < piece.end && !full()) {
        filling ??= [];
        const record = piece.records[at++];
        filling.push(record);
        fillingBytes += record.bytes.length;
        batchBytes += record.bytes.length;
        if (fillingBytes >= this.windowBytes) close();
      }
      if (at < piece.end) {
        close();
        out.push({ kind: 'unknown', records: piece.records, start: at, end: piece.end });
      }
    }
    close();
    this.pieces = out;
    return windows;
  }

  /** What the check of the batch's windows found: each window becomes the pieces it settled, its tail unchecked. */
  settle(outcomes: ReadonlyMap<Window, WindowResult<Reason>>): void {
    const out: Piece<Reason>[] = [];
    for (const piece of this.pieces) {
      const result = piece.kind === 'window' ? outcomes.get(piece.window) : undefined;
      if (piece.kind !== 'window' || !result) {
        out.push(piece);
        continue;
      }
      const { records } = piece.window;
      const end = result.failedAt ?? records.length;
      let from = 0;
      for (const skip of result.skipped) {
        if (skip.at > from) out.push({ kind: 'good', records: records.slice(from, skip.at) });
        out.push({ kind: 'bad', bad: { record: records[skip.at], reason: skip.reason } });
        from = skip.at + 1;
      }
      if (end > from) out.push({ kind: 'good', records: records.slice(from, end) });
      this.keepPrimer(records, end, result.skipped);
      if (result.failedAt === undefined) {
        this.loaded(bytesOf(records));
        continue;
      }
      out.push({ kind: 'bad', bad: { record: records[result.failedAt], reason: result.failure as Reason } });
      this.failedAfter(bytesOf(records.slice(0, result.failedAt)));
      if (result.failedAt + 1 < records.length) out.push({ kind: 'unknown', records, start: result.failedAt + 1, end: records.length });
    }
    this.pieces = out;
  }

  /** The settled pieces at the head of the queue, in file order, taken off it. */
  takeSettled(): Settled<Reason>[] {
    const taken: Settled<Reason>[] = [];
    let i = 0;
    for (; i < this.pieces.length; i++) {
      const piece = this.pieces[i];
      if (piece.kind === 'good') taken.push({ good: piece.records });
      else if (piece.kind === 'bad') taken.push({ bad: piece.bad });
      else break;
      this.queuedBytes -= bytesOfPiece(piece);
    }
    this.pieces = this.pieces.slice(i);
    return taken;
  }

  /** The last good record before `end`: the next probe streams start with it. */
  private keepPrimer(records: readonly RecordWithBytes[], end: number, skipped: WindowResult<Reason>['skipped']): void {
    const refused = new Set(skipped.map((skip) => skip.at));
    for (let i = end - 1; i >= 0; i--) {
      if (!refused.has(i)) {
        this.primer = records[i];
        return;
      }
    }
  }

  private loaded(bytes: number): void {
    // A window that loads is a good run at least that long.
    if (this.meanGoodBytes >= 0) this.meanGoodBytes = (1 - this.sizes.gapWeight) * this.meanGoodBytes + this.sizes.gapWeight * bytes;
    this.windowBytes = Math.min(this.sizes.max, Math.max(this.windowBytes, bytes) * 2);
  }

  private failedAfter(goodBytes: number): void {
    // Twice the usual distance between bad rows (a running mean of the good runs, so one bad row
    // right after another does not shrink the window to a record).
    const weight = this.sizes.gapWeight;
    this.meanGoodBytes = this.meanGoodBytes < 0 ? goodBytes : (1 - weight) * this.meanGoodBytes + weight * goodBytes;
    this.windowBytes = Math.min(this.sizes.max, Math.max(1, Math.round(2 * this.meanGoodBytes)));
  }
}

function bytesOfPiece(piece: Piece<unknown>): number {
  switch (piece.kind) {
    case 'good':
      return bytesOf(piece.records);
    case 'bad':
      return piece.bad.record.bytes.length;
    case 'window':
      return bytesOf(piece.window.records);
    case 'unknown': {
      let bytes = 0;
      for (let i = piece.start; i < piece.end; i++) bytes += piece.records[i].bytes.length;
      return bytes;
    }
  }
}

function bytesOf(records: readonly RecordWithBytes[]): number {
  let bytes = 0;
  for (const record of records) bytes += record.bytes.length;
  return bytes;
}
