/**
 * The binary COPY tuple scanner against an obvious whole-buffer walker, at every target offset and for
 * every way of cutting the input into blocks; every error names its byte, however the bytes arrive.
 * Real server-written files and loading the chunks: test/integration/binary-split.test.ts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PloaderError } from '../../../../src/errors.ts';
import {
  BINARY_SIGNATURE,
  BINARY_TRAILER,
  BinaryTupleScanner,
  scanBinaryFile,
  scanBinaryTuples,
  type BinaryLayout,
} from '../../../../src/input/scan/binary-tuples.ts';

const BLOCK_SIZES = [1, 2, 3, 5, 7, 19, 64, Infinity];

/** A field as the test writes it: int4, text, raw bytes, or NULL. */
type Field = { int4: number } | string | Buffer | null;

function int16(value: number): Buffer {
  const bytes = Buffer.alloc(2);
  bytes.writeInt16BE(value);
  return bytes;
}

function int32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeInt32BE(value);
  return bytes;
}

function encodeField(field: Field): Buffer {
  if (field === null) return int32(-1);
  const bytes = typeof field === 'string' ? Buffer.from(field) : Buffer.isBuffer(field) ? field : int32(field.int4);
  return Buffer.concat([int32(bytes.length), bytes]);
}

function encodeTuple(fields: Field[]): Buffer {
  return Buffer.concat([int16(fields.length), ...fields.map(encodeField)]);
}

interface HeaderFields {
  flags?: number;
  extension?: Buffer;
}

function encodeHeader({ flags = 0, extension = Buffer.alloc(0) }: HeaderFields = {}): Buffer {
  return Buffer.concat([BINARY_SIGNATURE, int32(flags), int32(extension.length), extension]);
}

/** A binary COPY file, as `COPY ... TO STDOUT (FORMAT binary)` writes one. */
function encodeCopy(rows: Field[][], header: HeaderFields = {}): Buffer {
  return Buffer.concat([encodeHeader(header), ...rows.map(encodeTuple), BINARY_TRAILER]);
}

/** Every tuple start and the trailer's offset, found by reading the file front to back the obvious way. */
function referenceWalk(data: Buffer): { dataStart: number; tupleStarts: number[]; dataEnd: number } {
  const dataStart = 19 + data.readInt32BE(15);
  const tupleStarts: number[] = [];
  let p = dataStart;
  for (;;) {
    const count = data.readInt16BE(p);
    if (count === -1) return { dataStart, tupleStarts, dataEnd: p };
    tupleStarts.push(p);
    p += 2;
    for (let f = 0; f < count; f++) {
      const length = data.readInt32BE(p);
      p += 4 + Math.max(length, 0);
    }
  }
}

function referenceStarts(data: Buffer, targets: readonly number[]): BinaryLayout['starts'] {
  const { tupleStarts, dataEnd } = referenceWalk(data);
  return targets.map((target) => {
    const index = tupleStarts.findIndex((start) => start >= target);
    return index < 0 ? { offset: dataEnd, tuple: tupleStarts.length + 1 } : { offset: tupleStarts[index], tuple: index + 1 };
  });
}

/** Pushes `data` in blocks of `blockBytes`, each a view at its own offset. */
function scanInBlocks(data: Buffer, targets: readonly number[], blockBytes: number, file?: string): BinaryLayout {
  const scanner = new BinaryTupleScanner(targets, file);
  for (let offset = 0; offset < data.length; offset += blockBytes) scanner.push(data.subarray(offset, offset + blockBytes));
  return scanner.finish();
}

const everyOffset = (data: Buffer) => Array.from({ length: data.length + 3 }, (_, i) => i);

/** Bytes that look like a trailer, a signature and a negative count, inside field data. */
const decoys = Buffer.concat([BINARY_TRAILER, BINARY_SIGNATURE, int16(-2), int32(-7)]);
const votes = Array.from({ length: 40 }, (_, i): Field[] => [`user_${i}`, i % 7 === 0 ? null : `t3_${i.toString(36)}`, { int4: i % 2 ? 1 : -1 }]);

const fixtures: Array<[string, Buffer]> = [
  ['votes: text, int4 and NULLs', encodeCopy(votes)],
  ['one tuple', encodeCopy([[{ int4: 42 }]])],
  ['no tuples', encodeCopy([])],
  ['every field NULL', encodeCopy([[null, null], [null, null], [null, null]])],
  ['empty strings', encodeCopy([['', ''], ['', 'x'], ['', '']])],
  ['zero-field tuples', encodeCopy([[], [], []])],
  ['multibyte text with newlines', encodeCopy([['名前\n東京'], ['ünï\r\ncödé 🎉'], ['\\N']])],
  ['trailer, signature and negative numbers inside field data', encodeCopy([[decoys, { int4: -1 }], [decoys, { int4: -2 }]])],
  ['a field longer than most blocks', encodeCopy([['a'], ['x'.repeat(300)], ['b']])],
  ['a header extension', encodeCopy([['with'], ['extension']], { extension: Buffer.from('ext\xff\xff', 'latin1') })],
  ['non-critical flag bits (0-15) set', encodeCopy([['flags']], { flags: 0x0000ffff })],
];

describe.each(fixtures)('%s', (_name, data) => {
  const reference = referenceWalk(data);

  it.each(BLOCK_SIZES)('finds the reference tuple start for every target offset with %s-byte blocks', (blockBytes) => {
    const targets = everyOffset(data);
    const layout = scanInBlocks(data, targets, blockBytes);
    expect(layout.starts).toEqual(referenceStarts(data, targets));
    expect(layout).toMatchObject({ dataStart: reference.dataStart, dataEnd: reference.dataEnd, tuples: reference.tupleStarts.length });
    expect(layout.header).toEqual(data.subarray(0, reference.dataStart));
  });

  it('cut at any one offset, both halves are binary COPY files holding all the tuples between them', () => {
    for (let cut = 0; cut <= data.length; cut++) {
      const layout = scanBinaryTuples(data, [cut]);
      const [{ offset, tuple }] = layout.starts;
      const before = scanBinaryTuples(Buffer.concat([layout.header, data.subarray(layout.dataStart, offset), BINARY_TRAILER]), []);
      const after = scanBinaryTuples(Buffer.concat([layout.header, data.subarray(offset, layout.dataEnd), BINARY_TRAILER]), []);
      expect([before.tuples, after.tuples]).toEqual([tuple - 1, layout.tuples - tuple + 1]);
    }
  });
});

describe('BinaryTupleScanner contract', () => {
  const data = encodeCopy(votes);
  const { tupleStarts, dataStart, dataEnd } = referenceWalk(data);

  it('sends targets before the first tuple to the first tuple, and targets past the last to the trailer', () => {
    expect(scanBinaryTuples(data, [0, dataStart, dataEnd, data.length + 100]).starts).toEqual([
      { offset: dataStart, tuple: 1 },
      { offset: dataStart, tuple: 1 },
      { offset: dataEnd, tuple: 41 },
      { offset: dataEnd, tuple: 41 },
    ]);
  });

  it('answers repeated targets once each', () => {
    const target = tupleStarts[3] + 1;
    expect(scanBinaryTuples(data, [target, target]).starts).toEqual([
      { offset: tupleStarts[4], tuple: 5 },
      { offset: tupleStarts[4], tuple: 5 },
    ]);
  });

  it('gives an empty file of tuples its end as the only start', () => {
    expect(scanBinaryTuples(encodeCopy([]), [0, 5, 19, 21])).toMatchObject({ dataStart: 19, dataEnd: 19, tuples: 0, starts: Array(4).fill({ offset: 19, tuple: 1 }) });
  });

  it.each<[string, number[]]>([
    ['descending', [10, 5]],
    ['negative', [-1]],
    ['fractional', [1.5]],
  ])('rejects %s targets', (_name, targets) => {
    expect(() => new BinaryTupleScanner(targets)).toThrow(RangeError);
  });

  it('refuses blocks after finish()', () => {
    const scanner = new BinaryTupleScanner([]);
    scanner.push(data);
    scanner.finish();
    expect(() => scanner.push(data)).toThrow('BinaryTupleScanner.push() called after finish()');
  });
});

const good = encodeCopy([[{ int4: 1 }, 'a'], [{ int4: 2 }, 'bb']]);
/** Offsets in `good`: tuple 1 at 19 (fields at 21 and 29), tuple 2 at 34 (fields at 36 and 44), trailer at 50. */
const TUPLE_2 = 34;
const TRAILER = 50;

const errors: Array<[string, Buffer, string]> = [
  ['an empty file', Buffer.alloc(0), 'byte 0: the file ends inside the header (0 of 19 bytes) — is this a PostgreSQL binary COPY file?'],
  ['a CSV file', Buffer.from('user,link,1\n'), 'byte 0: the signature must be PGCOPY\\n\\377\\r\\n\\0, but this byte is 0x75'],
  ['a damaged signature', Buffer.concat([Buffer.from('PGCOPY\n\xfe', 'latin1'), good.subarray(8)]), 'byte 7: the signature must be PGCOPY\\n\\377\\r\\n\\0, but this byte is 0xfe'],
  ['only the signature', BINARY_SIGNATURE, 'byte 11: the file ends inside the header (11 of 19 bytes)'],
  ['a file written WITH OIDS', encodeCopy([[{ int4: 1 }]], { flags: 1 << 16 }), 'byte 11: the file was written WITH OIDS (flag bit 16), which PostgreSQL 12 and later cannot load'],
  ['an unknown critical flag', encodeCopy([[{ int4: 1 }]], { flags: 1 << 20 }), "byte 11: the header's flags 0x00100000 set critical bits (17-31)"],
  ['a negative extension length', Buffer.concat([BINARY_SIGNATURE, int32(0), int32(-3)]), 'byte 15: header extension length -3 is invalid (expected >= 0)'],
  ['a cut-short extension', Buffer.concat([BINARY_SIGNATURE, int32(0), int32(10), Buffer.from('abc')]), 'byte 22: the file ends inside the header (22 of 29 bytes)'],
  ['a negative field count', Buffer.concat([encodeHeader(), int16(-2)]), 'byte 19: field count -2 is invalid (expected >= 0, or -1 for the trailer)'],
  [
    'a tuple with another field count',
    Buffer.concat([good.subarray(0, TUPLE_2), encodeTuple(['x']), BINARY_TRAILER]),
    `byte ${TUPLE_2}: tuple 2 has 1 fields, but the first tuple has 2 — is this a PostgreSQL binary COPY file?`,
  ],
  [
    'a negative field length',
    Buffer.concat([good.subarray(0, 44), int32(-7), good.subarray(48)]),
    'byte 44: field length -7 is invalid (expected -1 or >= 0) — is this a PostgreSQL binary COPY file?',
  ],
  ['a file cut inside a field length', good.subarray(0, 38), 'byte 36: tuple 2 (at byte 34) is truncated: the file ends at byte 38, inside field 1 of 2'],
  ['a file cut inside field data', good.subarray(0, 49), 'byte 44: tuple 2 (at byte 34) is truncated: the file ends at byte 49, inside field 2 of 2'],
  ['bytes after the trailer', Buffer.concat([good, Buffer.from('\n')]), `byte 52: data follows the trailer (int16 -1 at byte ${TRAILER}); PostgreSQL rejects it`],
  ['a second trailer', Buffer.concat([good, BINARY_TRAILER]), 'byte 52: data follows the trailer'],
];

/** What COPY loads without complaint (PostgreSQL 15.18 and 18.4): the data ends where the next field count would start. */
describe.each<[string, Buffer, { dataEnd: number; tuples: number; ending: string; strayBytes: number }]>([
  ['the whole file', good, { dataEnd: TRAILER, tuples: 2, ending: 'trailer', strayBytes: 0 }],
  ['no trailer', good.subarray(0, TRAILER), { dataEnd: TRAILER, tuples: 2, ending: 'end of file', strayBytes: 0 }],
  ['cut at a tuple boundary', good.subarray(0, TUPLE_2), { dataEnd: TUPLE_2, tuples: 1, ending: 'end of file', strayBytes: 0 }],
  ['one byte of the trailer', good.subarray(0, TRAILER + 1), { dataEnd: TRAILER, tuples: 2, ending: 'stray bytes', strayBytes: 1 }],
  ['one byte of a field count', good.subarray(0, TUPLE_2 + 1), { dataEnd: TUPLE_2, tuples: 1, ending: 'stray bytes', strayBytes: 1 }],
  ['the header alone', good.subarray(0, 19), { dataEnd: 19, tuples: 0, ending: 'end of file', strayBytes: 0 }],
])('%s', (_name, data, layout) => {
  it.each(BLOCK_SIZES)('ends the data where COPY does, with %s-byte blocks', (blockBytes) => {
    const found = scanInBlocks(data, [0, Math.min(TUPLE_2, data.length), data.length], blockBytes);
    expect(found).toMatchObject(layout);
    expect(found.starts.at(-1)).toEqual({ offset: layout.dataEnd, tuple: layout.tuples + 1 });
  });
});

describe.each(errors)('%s', (_name, data, message) => {
  it.each(BLOCK_SIZES)('fails with the same byte offset with %s-byte blocks', (blockBytes) => {
    let error: unknown;
    try {
      scanInBlocks(data, [0, 30], blockBytes);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(PloaderError);
    expect(error).toMatchObject({ code: 'INPUT_UNREADABLE', position: undefined });
    expect((error as PloaderError).message.startsWith(message)).toBe(true);
  });

  it('names the file as the position when told it', () => {
    expect(() => scanBinaryTuples(data, [], 'votes.bin')).toThrow(expect.objectContaining({ position: { file: 'votes.bin' } }));
    try {
      scanBinaryTuples(data, [], 'votes.bin');
    } catch (error) {
      expect(String(error)).toBe(`votes.bin: ${(error as Error).message}`);
    }
  });
});

describe('scanBinaryFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ploader-binary-scan-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([1, 7, 64, undefined])('gives the same layout as scanBinaryTuples with %s-byte reads', async (blockBytes) => {
    const data = encodeCopy([...votes, ['x'.repeat(200), null, { int4: 0 }]]);
    const path = join(dir, 'votes.bin');
    await writeFile(path, data);
    const targets = everyOffset(data);
    expect(await scanBinaryFile(path, targets, blockBytes)).toEqual(scanBinaryTuples(data, targets));
  });

  it('names the file in format errors', async () => {
    const path = join(dir, 'cut.bin');
    await writeFile(path, good.subarray(0, 49));
    await expect(scanBinaryFile(path, [], 3)).rejects.toMatchObject({
      code: 'INPUT_UNREADABLE',
      position: { file: path },
      message: expect.stringMatching(/^byte 44: tuple 2 \(at byte 34\) is truncated: the file ends at byte 49, inside field 2 of 2/),
    });
  });

  it('rejects a block size that is not a positive integer', async () => {
    await expect(scanBinaryFile(join(dir, 'unused'), [], 0)).rejects.toThrow('Expected blockBytes to be a positive integer, got 0');
  });

  it('rejects a missing file with the system error', async () => {
    await expect(scanBinaryFile(join(dir, 'missing.bin'), [])).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
