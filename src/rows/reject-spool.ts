/**
 * Rejects go to disk as they are found, never into memory: each chunk writes its refused records'
 * bytes and their log lines to spool files of its own (chunks finish in any order), and the reject
 * file is assembled from the spools in input order at the end (rejects.ts). Memory stays flat however
 * many rows are refused.
 *
 * The spools of a run live in `<reject file>.<run id>.d/`, so an interrupted run that is resumed still
 * has the rejects of the chunks it had committed.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';

/** One log line of the reject file: where the record is and why the server refused it. */
export interface RejectEntry {
  /** The input file the record is in (of several, the one it came from). */
  file: string;
  /** 1-based physical line of the record's first byte in the input. */
  line: number;
  /** 1-based record number in the input (headers not counted; several files count as their concatenation). */
  record: number;
  column: string | null;
  sqlstate: string | null;
  message: string;
}

/**
 * A spool log line, read back: the record's size in the spool's bytes file, its record number (to
 * merge a chunk's two spools in input order) and its line of the reject log as it is to be written.
 */
export interface SpoolEntry {
  size: number;
  record: number;
  logLine: string;
}

/**
 * `<size> <record> <log line>`: the reject log's JSON line is made once, here, and copied out as it
 * is when the reject file is assembled (parsing and writing it again was a third of that step's CPU
 * with 300,000 duplicates).
 */
export function spoolLine(entry: RejectEntry, size: number): string {
  return `${size} ${entry.record} ${JSON.stringify(entry)}\n`;
}

/** A spool log line (without its line end); also the JSON lines with a `size` field that ploader wrote before. */
export function parseSpoolLine(line: string): SpoolEntry {
  if (line.startsWith('{')) {
    const { size, ...entry } = JSON.parse(line) as RejectEntry & { size: number };
    return { size, record: entry.record, logLine: `${JSON.stringify(entry)}\n` };
  }
  const afterSize = line.indexOf(' ');
  const afterRecord = line.indexOf(' ', afterSize + 1);
  const size = Number(line.slice(0, afterSize));
  const record = Number(line.slice(afterSize + 1, afterRecord));
  if (afterSize <= 0 || afterRecord < 0 || !Number.isSafeInteger(size) || !Number.isSafeInteger(record)) {
    throw new Error(`a reject spool's log has a line ploader did not write: ${JSON.stringify(line.slice(0, 80))}`);
  }
  return { size, record, logLine: `${line.slice(afterRecord + 1)}\n` };
}

export type SpoolKind = 'rows' | 'duplicates';

export function spoolDirectory(rejectFile: string, runId: string): string {
  return `${rejectFile}.${runId}.d`;
}

export function spoolFiles(directory: string, chunk: number, kind: SpoolKind): { bytes: string; log: string } {
  const base = path.join(directory, `${kind}-${String(chunk).padStart(6, '0')}`);
  return { bytes: `${base}.rejects`, log: `${base}.log` };
}

/** Buffered appends to one chunk's spool; `close(true)` makes them durable before the chunk commits. */
export class RejectSpool {
  private bytesFd: number | undefined;
  private logFd: number | undefined;
  private bytesBuffer: Buffer[] = [];
  private logBuffer: string[] = [];
  private buffered = 0;
  count = 0;

  constructor(private readonly files: { bytes: string; log: string }) {}

  add(entry: RejectEntry, bytes: Buffer): void {
    this.count++;
    this.bytesBuffer.push(bytes);
    const line = spoolLine(entry, bytes.length);
    this.logBuffer.push(line);
    this.buffered += bytes.length + line.length;
    if (this.buffered >= FLUSH_BYTES) this.flush();
  }

  /** Writes what is buffered; the files exist (maybe empty) once this has run. */
  flush(): void {
    if (this.bytesFd === undefined) {
      mkdirSync(path.dirname(this.files.bytes), { recursive: true });
      this.bytesFd = openSync(this.files.bytes, 'w');
      this.logFd = openSync(this.files.log, 'w');
    }
    // One write of all the buffered records: one per record was 300,000 system calls for 300,000 duplicates.
    if (this.bytesBuffer.length > 0) writeSync(this.bytesFd, Buffer.concat(this.bytesBuffer));
    if (this.logBuffer.length > 0) writeSync(this.logFd!, this.logBuffer.join(''));
    this.bytesBuffer = [];
    this.logBuffer = [];
    this.buffered = 0;
  }

  close(durable: boolean): void {
    if (this.count === 0 && this.bytesFd === undefined) return;
    this.flush();
    if (durable) {
      fsyncSync(this.bytesFd!);
      fsyncSync(this.logFd!);
    }
    closeSync(this.bytesFd!);
    closeSync(this.logFd!);
    this.bytesFd = undefined;
    this.logFd = undefined;
  }
}

const FLUSH_BYTES = 256 * 1024;
