/**
 * Finds tuple starts in PostgreSQL binary COPY input (FORMAT binary, "PGCOPY") so a file can be cut
 * into chunks that each load with their own `COPY ... FROM STDIN (FORMAT binary)`: every chunk is sent
 * as the file's header, a run of whole tuples, and the trailer. Pure: bytes in, offsets out.
 *
 * The format (https://www.postgresql.org/docs/current/sql-copy.html, "Binary Format"), big-endian:
 *   header  = 11-byte signature, int32 flags, int32 extension length N, N bytes of extension
 *   tuple   = int16 field count, then per field int32 length (-1 = NULL, no bytes) and that many bytes
 *   trailer = int16 -1
 * Only tuple and field headers are read; field bytes are skipped by their length, so the walk costs
 * per field, not per byte. The checks follow the server's (ReceiveCopyBinaryHeader and NextCopyFrom in
 * src/backend/commands/copyfromparse.c), so a file the server would refuse fails here, before any chunk
 * is sent, naming the byte; one is stricter: every tuple must have the first one's field count (the
 * server compares with the table's column count).
 *
 * The trailer is optional, as it is to the server: COPY stops at the end of the data when the next field
 * count is not all there (CopyGetInt16 fails: "EOF detected"), so a file without its trailer, or cut at a
 * tuple boundary, or even one byte into the next field count, loads the tuples it holds; tried on
 * PostgreSQL 15.18 and 18.4. A file cut inside a tuple is "unexpected EOF in COPY data" there and here.
 */
import { PloaderError } from '../../errors.ts';
import { DEFAULT_SCAN_BLOCK_BYTES, readFileInBlocks } from './file-blocks.ts';

export interface BinaryLayout {
  /** The file's header (signature, flags, extension): sent before every chunk. */
  header: Buffer;
  /** Offset of the first tuple (= header.length). */
  dataStart: number;
  /** Offset of the trailer (int16 -1); tuples occupy [dataStart, dataEnd). */
  dataEnd: number;
  /** For each target offset: the first tuple start >= target (or dataEnd), with its 1-based tuple number
   * (at dataEnd: tuples + 1, the number the next tuple would have). */
  starts: Array<{ offset: number; tuple: number }>;
  tuples: number;
  /** How the data ended: with the trailer; at the end of the file; or with `strayBytes` (one byte of a
   * field count) that COPY ignores. */
  ending: 'trailer' | 'end of file' | 'stray bytes';
  strayBytes: number;
}

export const BINARY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** The end-of-data marker: a field count of -1. */
export const BINARY_TRAILER = Buffer.from([0xff, 0xff]);
/** Signature, int32 flags, int32 extension length. */
const FIXED_HEADER_BYTES = BINARY_SIGNATURE.length + 4 + 4;
const FLAGS_OFFSET = BINARY_SIGNATURE.length;
const EXTENSION_LENGTH_OFFSET = FLAGS_OFFSET + 4;
/** Flag bit 16: every tuple carries an OID first. PostgreSQL 12+ refuses such files; so do we. */
const OIDS_FLAG = 1 << 16;
/** Bits 16-31 mark format changes a reader must understand; bits 0-15 may be ignored. */
const CRITICAL_FLAGS = 0xffff0000;
const END_OF_DATA = -1;
const NULL_FIELD = -1;
const HINT = 'is this a PostgreSQL binary COPY file?';

/** Where the next byte belongs. */
type Phase = 'fixed header' | 'extension' | 'field count' | 'field length' | 'field data' | 'after trailer';

/** Feed the file in blocks, in order; targets must be ascending. Walks the whole file, so that a bad
 * or cut-short file fails at planning time rather than in the middle of the load. */
export class BinaryTupleScanner {
  private readonly targets: readonly number[];
  private readonly starts: Array<{ offset: number; tuple: number }> = [];
  private nextTarget: number;
  private phase: Phase = 'fixed header';
  private consumed = 0;
  private finished = false;
  /** Header bytes collected so far; the fixed part is parsed once all of it is in. */
  private readonly headerParts: Buffer[] = [];
  private headerBytes = 0;
  private headerLength = FIXED_HEADER_BYTES;
  /** An integer whose bytes may span blocks: its value so far and how many of its bytes are in. */
  private integer = 0;
  private integerBytes = 0;
  /** The first tuple's field count; every tuple must match it (-1 until the first tuple). */
  private fieldCount = -1;
  private tuples = 0;
  private tupleStart = 0;
  private fieldStart = 0;
  private fieldsLeft = 0;
  private dataBytesLeft = 0;
  private dataEnd = -1;

  /** `file` names the input in errors (as their position); the scanner itself reads nothing. */
  constructor(targets: readonly number[], private readonly file?: string) {
    targets.forEach((target, i) => {
      if (!Number.isSafeInteger(target) || target < 0 || (i > 0 && target < targets[i - 1])) {
        throw new RangeError(`Expected targets to be ascending non-negative integers, got ${target} at index ${i}`);
      }
    });
    this.targets = [...targets];
    this.nextTarget = this.targets.length > 0 ? this.targets[0] : Infinity;
  }

  /** Blocks are consecutive and may be any size, even 1 byte; the scanner keeps no reference to them. */
  push(block: Buffer): void {
    if (this.finished) throw new Error('BinaryTupleScanner.push() called after finish()');
    let i = 0;
    while (i < block.length) {
      if (this.phase === 'field count' && this.integerBytes === 0 && this.fieldCount >= 0) {
        i = this.skipWholeTuples(block, i);
        if (i === block.length) break;
      }
      i = this.stepThroughOneTuple(block, i);
    }
    this.consumed += block.length;
  }

  finish(): BinaryLayout {
    this.finished = true;
    const end = this.consumed;
    if (this.phase === 'fixed header' || this.phase === 'extension') {
      throw this.error(end, `the file ends inside the header (${this.headerBytes} of ${this.headerLength} bytes) — ${HINT}`);
    }
    let ending: BinaryLayout['ending'] = 'trailer';
    if (this.phase === 'field count') {
      // No trailer: the data ends where the next field count would start, as COPY ends it.
      ending = this.integerBytes === 0 ? 'end of file' : 'stray bytes';
      this.dataEnd = this.integerBytes === 0 ? end : this.tupleStart;
    } else if (this.phase !== 'after trailer') {
      const field = this.fieldCount - this.fieldsLeft + 1;
      throw this.error(
        this.fieldStart,
        `tuple ${this.tuples} (at byte ${this.tupleStart}) is truncated: the file ends at byte ${end}, inside field ${field} of ${this.fieldCount} — was it cut short?`,
      );
    }
    this.resolveTargetsUpTo(Infinity, this.dataEnd, this.tuples + 1);
    const header = Buffer.concat(this.headerParts, this.headerLength);
    return {
      header, dataStart: header.length, dataEnd: this.dataEnd, starts: this.starts.map((s) => ({ ...s })), tuples: this.tuples,
      ending, strayBytes: ending === 'stray bytes' ? end - this.dataEnd : 0,
    };
  }

  /**
   * The hot loop: consumes the tuples that lie wholly inside block[from, ...) and have the expected
   * field count, and returns where it stopped. Anything else (a tuple cut by the block's end, the
   * trailer, a bad count or length) is left to stepThroughOneTuple, which starts over at that tuple.
   */
  private skipWholeTuples(block: Buffer, from: number): number {
    const n = block.length;
    const fields = this.fieldCount;
    let p = from;
    while (p + 2 <= n && ((block[p] << 8) | block[p + 1]) === fields) {
      let q = p + 2;
      let f = 0;
      for (; f < fields && q + 4 <= n; f++) {
        const length = (block[q] << 24) | (block[q + 1] << 16) | (block[q + 2] << 8) | block[q + 3];
        if (length < NULL_FIELD) break;
        q += length > 0 ? 4 + length : 4;
      }
      if (f < fields || q > n) break;
      this.tuples++;
      if (this.consumed + p >= this.nextTarget) this.resolveTargetsUpTo(this.consumed + p, this.consumed + p, this.tuples);
      p = q;
    }
    return p;
  }

  /** Consumes from block[from] until the current tuple (or the header) is complete or the block ends;
   * integers and field data may span blocks. Returns where it stopped. */
  private stepThroughOneTuple(block: Buffer, from: number): number {
    let i = from;
    while (i < block.length) {
      const at = this.consumed + i;
      switch (this.phase) {
        case 'fixed header':
        case 'extension': {
          const take = Math.min(this.headerLength - this.headerBytes, block.length - i);
          this.checkSignature(block, i, take);
          this.headerParts.push(Buffer.from(block.subarray(i, i + take)));
          this.headerBytes += take;
          i += take;
          if (this.headerBytes < this.headerLength) break;
          if (this.phase === 'fixed header') this.readFixedHeader();
          if (this.headerBytes === this.headerLength) this.phase = 'field count';
          break;
        }
        case 'field count': {
          if (this.integerBytes === 0) this.tupleStart = at;
          i = this.readInteger(block, i, 2);
          if (this.integerBytes < 2) break;
          this.integerBytes = 0;
          if (this.startTuple((this.integer << 16) >> 16)) return i;
          break;
        }
        case 'field length': {
          if (this.integerBytes === 0) this.fieldStart = at;
          i = this.readInteger(block, i, 4);
          if (this.integerBytes < 4) break;
          this.integerBytes = 0;
          const length = this.integer | 0;
          if (length < NULL_FIELD) {
            throw this.error(this.fieldStart, `field length ${length} is invalid (expected -1 or >= 0) — ${HINT}`);
          }
          this.dataBytesLeft = Math.max(length, 0);
          this.phase = 'field data';
          if (this.endFieldIfDone()) return i;
          break;
        }
        case 'field data': {
          const take = Math.min(this.dataBytesLeft, block.length - i);
          this.dataBytesLeft -= take;
          i += take;
          if (this.endFieldIfDone()) return i;
          break;
        }
        case 'after trailer':
          throw this.error(at, `data follows the trailer (int16 -1 at byte ${this.dataEnd}); PostgreSQL rejects it — ${HINT}`);
      }
    }
    return i;
  }

  /** A field count has been read at tupleStart. Returns true when the tuple is already complete. */
  private startTuple(count: number): boolean {
    if (count === END_OF_DATA) {
      this.dataEnd = this.tupleStart;
      this.phase = 'after trailer';
      return false;
    }
    if (count < 0) throw this.error(this.tupleStart, `field count ${count} is invalid (expected >= 0, or -1 for the trailer) — ${HINT}`);
    if (this.fieldCount < 0) this.fieldCount = count;
    if (count !== this.fieldCount) {
      throw this.error(this.tupleStart, `tuple ${this.tuples + 1} has ${count} fields, but the first tuple has ${this.fieldCount} — ${HINT}`);
    }
    this.tuples++;
    this.resolveTargetsUpTo(this.tupleStart, this.tupleStart, this.tuples);
    this.fieldsLeft = count;
    this.phase = count > 0 ? 'field length' : 'field count';
    return count === 0;
  }

  /** After a field's bytes: the next field, or the next tuple. Returns true when the tuple is complete. */
  private endFieldIfDone(): boolean {
    if (this.dataBytesLeft > 0) return false;
    this.fieldsLeft--;
    this.phase = this.fieldsLeft > 0 ? 'field length' : 'field count';
    return this.fieldsLeft === 0;
  }

  /** Reads up to `size` - integerBytes big-endian bytes into `integer`; returns the new index. */
  private readInteger(block: Buffer, from: number, size: number): number {
    let i = from;
    if (this.integerBytes === 0) this.integer = 0;
    for (; i < block.length && this.integerBytes < size; i++, this.integerBytes++) this.integer = (this.integer << 8) | block[i];
    return i;
  }

  /** Compares block[from, from + take), at header offset headerBytes, with the signature. */
  private checkSignature(block: Buffer, from: number, take: number): void {
    for (let k = 0; k < take && this.headerBytes + k < BINARY_SIGNATURE.length; k++) {
      const expected = BINARY_SIGNATURE[this.headerBytes + k];
      if (block[from + k] !== expected) {
        const found = `0x${block[from + k].toString(16).padStart(2, '0')}`;
        throw this.error(this.consumed + from + k, `the signature must be PGCOPY\\n\\377\\r\\n\\0, but this byte is ${found} — ${HINT}`);
      }
    }
  }

  /** The fixed header is in: check the flags, learn the extension's length. */
  private readFixedHeader(): void {
    const fixed = Buffer.concat(this.headerParts, FIXED_HEADER_BYTES);
    const flags = fixed.readInt32BE(FLAGS_OFFSET);
    if (flags & OIDS_FLAG) {
      throw this.error(FLAGS_OFFSET, 'the file was written WITH OIDS (flag bit 16), which PostgreSQL 12 and later cannot load — export it again without OIDS');
    }
    if (flags & CRITICAL_FLAGS) {
      const hex = `0x${(flags >>> 0).toString(16).padStart(8, '0')}`;
      throw this.error(FLAGS_OFFSET, `the header's flags ${hex} set critical bits (17-31) that PostgreSQL does not know — ${HINT}`);
    }
    const extension = fixed.readInt32BE(EXTENSION_LENGTH_OFFSET);
    if (extension < 0) throw this.error(EXTENSION_LENGTH_OFFSET, `header extension length ${extension} is invalid (expected >= 0) — ${HINT}`);
    this.headerLength = FIXED_HEADER_BYTES + extension;
    this.phase = 'extension';
  }

  /** Every still-unresolved target up to `limit` gets the tuple start `offset`, numbered `tuple`. */
  private resolveTargetsUpTo(limit: number, offset: number, tuple: number): void {
    while (this.starts.length < this.targets.length && this.nextTarget <= limit) {
      this.starts.push({ offset, tuple });
      // Infinity once all are answered, so the hot loop's one comparison never fires again.
      this.nextTarget = this.starts.length < this.targets.length ? this.targets[this.starts.length] : Infinity;
    }
  }

  private error(byte: number, message: string): PloaderError {
    return new PloaderError('INPUT_UNREADABLE', `byte ${byte}: ${message}`, this.file === undefined ? {} : { position: { file: this.file } });
  }
}

export function scanBinaryTuples(data: Buffer, targets: readonly number[], file?: string): BinaryLayout {
  const scanner = new BinaryTupleScanner(targets, file);
  scanner.push(data);
  return scanner.finish();
}

/** Reads the whole file front to back into one reused buffer: the trailer, and anything after it,
 * is only found at the end. Format errors name `path` as their position. */
export async function scanBinaryFile(path: string, targets: readonly number[], blockBytes = DEFAULT_SCAN_BLOCK_BYTES): Promise<BinaryLayout> {
  const scanner = new BinaryTupleScanner(targets, path);
  await readFileInBlocks(path, blockBytes, (block) => scanner.push(block));
  return scanner.finish();
}
