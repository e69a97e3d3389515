/**
 * The reject file and its log, assembled at the end of a load from the chunks' spools (reject-spool.ts):
 * for each chunk in input order, its bad rows and its duplicate keys merged by record number. The
 * reject file holds the refused records' original bytes; the `.log` beside it one JSON line per record:
 * `{"file", "line", "record", "column", "sqlstate", "message"}` (file: the input file the record is in). Streamed: memory holds one record at a time.
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { GatheredWrites } from '../fs/gathered-writes.ts';
import { parseSpoolLine, spoolFiles, type SpoolEntry } from './reject-spool.ts';

/** Writes `<rejectFile>` and `<rejectFile>.log` from the spools in `directory` of chunks 0 .. chunks - 1; returns the count. */
export async function writeRejects(directory: string, chunks: number, rejectFile: string): Promise<number> {
  const bytesOut = new BatchedWriter(createWriteStream(rejectFile));
  const logOut = new BatchedWriter(createWriteStream(`${rejectFile}.log`));
  let written = 0;
  try {
    for (let chunk = 0; chunk < chunks; chunk++) {
      const sources = await Promise.all([SpoolReader.open(spoolFiles(directory, chunk, 'rows')), SpoolReader.open(spoolFiles(directory, chunk, 'duplicates'))]);
      try {
        for (;;) {
          const heads = await Promise.all(sources.map((s) => s.peek()));
          const pick: 0 | 1 | undefined = heads[0] && (!heads[1] || heads[0].record < heads[1].record) ? 0 : heads[1] ? 1 : undefined;
          if (pick === undefined) break;
          const { size, logLine } = heads[pick]!;
          await bytesOut.add(await sources[pick].take(size));
          await logOut.add(Buffer.from(logLine));
          written++;
        }
      } finally {
        await Promise.all(sources.map((s) => s.close()));
      }
    }
  } finally {
    await Promise.all([bytesOut.end(), logOut.end()]);
  }
  return written;
}

/** A reject output written in pieces of WRITE_BYTES: a write per record was most of the time spent on 300,000 rejects. */
class BatchedWriter {
  private readonly gathered = new GatheredWrites(WRITE_BYTES);

  constructor(private readonly stream: WriteStream) {}

  async add(data: Buffer): Promise<void> {
    const piece = this.gathered.add(data);
    if (piece) await write(this.stream, piece);
  }

  async end(): Promise<void> {
    const rest = this.gathered.take();
    if (rest) await write(this.stream, rest);
    await end(this.stream);
  }
}

const WRITE_BYTES = 256 * 1024;

/** Removes a run's spools (once the reject file is written, or when the run is dropped). */
export async function removeSpools(directory: string): Promise<void> {
  await rm(directory, { recursive: true, force: true });
}

const READ_AHEAD_BYTES = 1 << 20;

async function write(stream: WriteStream, data: Buffer | string): Promise<void> {
  if (!stream.write(data)) await once(stream, 'drain');
}

async function end(stream: WriteStream): Promise<void> {
  stream.end();
  await once(stream, 'close');
}

/** One spool, read in order: its log a line at a time, its bytes a record at a time. */
class SpoolReader {
  private head: SpoolEntry | undefined;
  private position = 0;
  private buffered = Buffer.alloc(0);

  private constructor(
    private readonly lines: AsyncIterator<string> | undefined,
    private readonly bytes: FileHandle | undefined,
  ) {}

  /** A spool that does not exist (no rejects of that kind in the chunk) reads as empty. */
  static async open(files: { bytes: string; log: string }): Promise<SpoolReader> {
    let bytes: FileHandle;
    try {
      bytes = await open(files.bytes, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new SpoolReader(undefined, undefined);
      throw error;
    }
    const lines = createInterface({ input: createReadStream(files.log), crlfDelay: Infinity })[Symbol.asyncIterator]();
    return new SpoolReader(lines, bytes);
  }

  async peek(): Promise<SpoolEntry | undefined> {
    if (this.head || !this.lines) return this.head;
    for (let next = await this.lines.next(); !next.done; next = await this.lines.next()) {
      if (next.value === '') continue;
      this.head = parseSpoolLine(next.value);
      return this.head;
    }
    return undefined;
  }

  /** The next `size` bytes of the spool, read ahead in large blocks: rejects are often a line each. */
  async take(size: number): Promise<Buffer> {
    this.head = undefined;
    while (this.buffered.length < size) {
      const block = Buffer.allocUnsafe(Math.max(READ_AHEAD_BYTES, size));
      const { bytesRead } = await this.bytes!.read(block, 0, block.length, this.position);
      if (bytesRead === 0) throw new Error('a reject spool is shorter than its log says: it was changed during the load');
      this.position += bytesRead;
      this.buffered = Buffer.concat([this.buffered, block.subarray(0, bytesRead)]);
    }
    const data = this.buffered.subarray(0, size);
    this.buffered = this.buffered.subarray(size);
    return data;
  }

  async close(): Promise<void> {
    await this.lines?.return?.();
    await this.bytes?.close();
  }
}
