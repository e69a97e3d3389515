/**
 * The input's first bytes, read once before planning: the first record (a header's names, the field
 * count of line 1) and, for --create, a sample of the records after it. A stream cannot be read twice:
 * its first blocks are kept and handed back, ahead of the rest, to whoever reads it next.
 */
import { open } from 'node:fs/promises';
import { PloaderError } from '../errors.ts';
import { splitRecord, type FieldSyntax, type FieldValue } from './first-record.ts';
import type { ResolvedLoadOptions } from '../options.ts';
import { syntaxOf } from './split.ts';
import { openInputStream } from './stream-batches.ts';
import { RecordBoundaryScanner } from './scan/record-boundaries.ts';
import type { RecordSyntax } from './scan/record-syntax.ts';

export interface InputHead {
  /** The first bytes: the first record whole (unless the input is shorter) and at least the bytes asked for. */
  bytes: Buffer;
  /** `bytes` is all of the input. */
  whole: boolean;
}

/** Bytes read at a time; a first record longer than this is read on until it ends. */
const HEAD_BLOCK_BYTES = 64 * 1024;

/** Collects blocks until the first record has ended and `minBytes` are in, or the input ends. */
class HeadCollector {
  private readonly blocks: Buffer[] = [];
  private readonly scanner: RecordBoundaryScanner;
  private size = 0;
  /** The first record has ended (its end was found, or an end-of-data marker came first). */
  private firstEnded = false;

  constructor(
    syntax: RecordSyntax,
    private readonly minBytes: number,
  ) {
    // The first record start after offset 0 is the end of the first record.
    this.scanner = new RecordBoundaryScanner(syntax, [1]);
  }

  push(block: Buffer): void {
    this.blocks.push(block);
    this.size += block.length;
    if (this.firstEnded) return;
    this.scanner.push(block);
    this.firstEnded = this.scanner.takeStarts().length > 0 || this.scanner.done;
  }

  get enough(): boolean {
    return this.firstEnded && this.size >= this.minBytes;
  }

  head(whole: boolean): InputHead {
    return { bytes: Buffer.concat(this.blocks, this.size), whole };
  }

  get peeked(): readonly Buffer[] {
    return this.blocks;
  }
}

export async function readFileHead(file: string, syntax: RecordSyntax, minBytes: number): Promise<InputHead> {
  const collector = new HeadCollector(syntax, minBytes);
  const handle = await open(file, 'r');
  try {
    for (let position = 0; !collector.enough; ) {
      const block = Buffer.allocUnsafe(HEAD_BLOCK_BYTES);
      const { bytesRead } = await handle.read(block, 0, block.length, position);
      if (bytesRead === 0) return collector.head(true);
      collector.push(block.subarray(0, bytesRead));
      position += bytesRead;
    }
    return collector.head(false);
  } finally {
    await handle.close();
  }
}

/** A stream whose first blocks were read to plan the load: reading it yields them first, then the rest. */
export class PeekedStream implements AsyncIterable<Buffer> {
  private constructor(
    private readonly peeked: readonly Buffer[],
    private readonly rest: AsyncIterator<Buffer> | undefined,
  ) {}

  /** Reads `input` until its first record has ended and `minBytes` are in (or it ends). */
  static async open(input: AsyncIterable<Buffer>, syntax: RecordSyntax, minBytes: number): Promise<{ head: InputHead; stream: PeekedStream }> {
    const collector = new HeadCollector(syntax, minBytes);
    const rest = input[Symbol.asyncIterator]();
    while (!collector.enough) {
      const next = await rest.next();
      if (next.done) return { head: collector.head(true), stream: new PeekedStream(collector.peeked, undefined) };
      collector.push(next.value);
    }
    return { head: collector.head(false), stream: new PeekedStream(collector.peeked, rest) };
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    yield* this.peeked;
    if (!this.rest) return;
    try {
      for (let next = await this.rest.next(); !next.done; next = await this.rest.next()) yield next.value;
    } finally {
      await this.close();
    }
  }

  /** Lets go of the input (closes a file stream); reading stops here. */
  async close(): Promise<void> {
    await this.rest?.return?.();
  }
}

/**
 * The head of a csv or text input, and for a stream the stream to read it from afterwards (its head
 * put back). Binary input has no head to read: its columns are the table's or --columns.
 */
export async function readInputHead(
  options: Pick<ResolvedLoadOptions, 'file' | 'format' | 'quote' | 'escape'>,
  streaming: boolean,
  minBytes: number,
): Promise<{ head: InputHead | undefined; stream: PeekedStream | undefined }> {
  if (options.format === 'binary') return { head: undefined, stream: undefined };
  const syntax = syntaxOf(options as ResolvedLoadOptions);
  if (!streaming) return { head: await readFileHead(options.file, syntax, minBytes), stream: undefined };
  try {
    return await PeekedStream.open(openInputStream(options.file), syntax, minBytes);
  } catch (error) {
    throw new PloaderError('INPUT_UNREADABLE', `${options.file === '-' ? 'standard input' : options.file}: ${(error as Error).message} — check the input`, { position: { file: options.file }, cause: error });
  }
}

/** The input's first record, split into fields (the header, when there is one); undefined for an empty input. */
export function firstRecordOf(head: InputHead | undefined, syntax: FieldSyntax): FieldValue[] | undefined {
  return head && splitRecord(head.bytes, 0, syntax, head.whole)?.fields;
}
