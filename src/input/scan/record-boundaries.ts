/**
 * Finds record starts in COPY input (CSV or text format) so a file can be cut into chunks that each
 * load with their own `COPY ... FROM STDIN`. Pure: bytes in, offsets out.
 *
 * The per-format rules, which mirror PostgreSQL's CopyReadLineText, are in format-states.ts.
 * Records end only at LF; the scanner assumes an encoding where byte 0x0A, the quote and the escape
 * never occur inside a multibyte character (true of UTF-8 and the single-byte encodings).
 */
import { type FormatState, stateFor } from './format-states.ts';
import type { RecordSyntax } from './record-syntax.ts';

export interface RecordStart {
  offset: number;
  /** 1-based physical line at `offset`: 1 + the LF bytes before it, quoted ones included. */
  line: number;
}

/** Feed the file in blocks, in order; targets must be ascending. For each target t, returns the smallest
 * record start s >= t, where a record start is 0 or the offset just after an LF that ends a record. If
 * there is none before end of input, the result is { offset: totalSize, line: 1 + total LF count }. */
export class RecordBoundaryScanner {
  private readonly state: FormatState;
  private readonly targets: readonly number[];
  private readonly starts: RecordStart[] = [];
  private consumed = 0;
  private finished = false;

  constructor(syntax: RecordSyntax, targets: readonly number[]) {
    targets.forEach((target, i) => {
      if (!Number.isSafeInteger(target) || target < 0 || (i > 0 && target < targets[i - 1])) {
        throw new RangeError(`Expected targets to be ascending non-negative integers, got ${target} at index ${i}`);
      }
    });
    this.state = stateFor(syntax);
    this.targets = [...targets];
    this.resolveTargetsUpTo(0, { offset: 0, line: 1 });
  }

  /** Every target has its record start; later blocks can change nothing and need not be read. */
  get allTargetsFound(): boolean {
    return this.starts.length === this.targets.length;
  }

  /** Blocks are consecutive and may be any size, even 1 byte; the scanner keeps no reference to them. */
  push(block: Buffer): void {
    if (this.finished) throw new Error('RecordBoundaryScanner.push() called after finish()');
    let i = 0;
    while (i < block.length && !this.allTargetsFound) {
      // An LF at t - 1 makes t itself a record start, so the search for target t begins at byte t - 1.
      const searchFrom = this.targets[this.starts.length] - 1 - this.consumed;
      if (i < searchFrom) {
        const to = Math.min(searchFrom, block.length);
        this.state.skip(block, i, to);
        i = to;
        continue;
      }
      const recordEnd = this.state.consumeRecordEnd(block, i);
      if (recordEnd < 0) break;
      i = recordEnd + 1;
      const start = { offset: this.consumed + i, line: 1 + this.state.lineFeeds };
      this.resolveTargetsUpTo(start.offset, start);
    }
    this.consumed += block.length;
  }

  /** One RecordStart per target, in order; targets past the last record start get the end of input. */
  finish(): RecordStart[] {
    this.finished = true;
    this.resolveTargetsUpTo(Infinity, { offset: this.consumed, line: 1 + this.state.lineFeeds });
    return this.starts.map((start) => ({ ...start }));
  }

  /** `start` is the first record start at or after every still-unresolved target up to `limit`. */
  private resolveTargetsUpTo(limit: number, start: RecordStart): void {
    while (!this.allTargetsFound && this.targets[this.starts.length] <= limit) this.starts.push(start);
  }
}

export function findRecordStarts(data: Buffer, syntax: RecordSyntax, targets: readonly number[]): RecordStart[] {
  const scanner = new RecordBoundaryScanner(syntax, targets);
  scanner.push(data);
  return scanner.finish();
}
