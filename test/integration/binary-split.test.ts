/**
 * Binary COPY files written by the server itself, split by BinaryTupleScanner and loaded chunk by
 * chunk, each chunk sent as header + its tuples + trailer in a COPY of its own: the table must equal
 * what one plain COPY of the whole file gives.
 */
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildChunks, chunkTargets, type ChunkRange } from '../../src/plan/chunks.ts';
import { BINARY_TRAILER, BinaryTupleScanner, scanBinaryFile, scanBinaryTuples, type BinaryLayout } from '../../src/input/scan/binary-tuples.ts';
import { tableFingerprint, useTestDatabase } from '../support/database.ts';
import { plainCopy, useTempDir } from '../support/fixtures.ts';

const db = useTestDatabase();
const write = useTempDir();

const TABLE = '(id int, note text, amount numeric, at timestamp, blob bytea, flag boolean)';
const COLUMNS = ['id', 'note', 'amount', 'at', 'blob', 'flag'];
/** Bytes that look like the signature and the trailer, stored in a bytea field. */
const DECOY = String.raw`'\x5047434f50590aff0d0a00ffffffff'::bytea`;
/** NULLs, empty strings, newlines, multibyte text, a few fields of 8 kB, numerics large and small. */
const ROWS_SQL = `
  SELECT i,
         CASE WHEN i % 5 = 0 THEN NULL WHEN i % 7 = 0 THEN '' WHEN i % 97 = 0 THEN repeat('long ', 1600)
              ELSE 'line ' || i || E'\\nsecond ünïcödé 🎉 名前\\r\\n' || repeat('x', i % 50) END,
         CASE WHEN i % 11 = 0 THEN NULL ELSE (i * 1.5 - 100)::numeric * 10::numeric ^ (i % 30 - 10) END,
         timestamp '2020-01-01' + i * interval '1 hour 7 minutes 3.5 seconds',
         CASE WHEN i % 13 = 0 THEN NULL WHEN i % 3 = 0 THEN ${DECOY} ELSE decode(md5(i::text), 'hex') END,
         CASE WHEN i % 17 = 0 THEN NULL ELSE i % 2 = 0 END
  FROM generate_series(1, 400) AS i`;

async function copyOut(client: pg.Client, sql: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of client.query(copyTo(sql))) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/** The whole tuple walk done the obvious way: every tuple start, then the trailer's offset. */
function referenceTupleStarts(data: Buffer): number[] {
  const starts: number[] = [];
  let p = 19 + data.readInt32BE(15);
  for (let count = data.readInt16BE(p); count !== -1; count = data.readInt16BE(p)) {
    starts.push(p);
    p += 2;
    for (let f = 0; f < count; f++) p += 4 + Math.max(data.readInt32BE(p), 0);
  }
  return [...starts, p];
}

/** BinaryTupleScanner fed the file in blocks of `blockBytes`, as scanBinaryFile reads it. */
function scanInBlocks(data: Buffer, targets: readonly number[], blockBytes: number): BinaryLayout {
  const scanner = new BinaryTupleScanner(targets);
  for (let offset = 0; offset < data.length; offset += blockBytes) scanner.push(data.subarray(offset, offset + blockBytes));
  return scanner.finish();
}

/** What a worker sends for one chunk: the file's header, the chunk's bytes, the trailer. */
async function copyChunk(client: pg.Client, file: string, layout: BinaryLayout, chunk: ChunkRange): Promise<number> {
  const copy = client.query(copyFrom('COPY target FROM STDIN (FORMAT binary)'));
  await pipeline(async function* () {
    yield layout.header;
    yield* createReadStream(file, { start: chunk.start, end: chunk.end - 1 });
    yield BINARY_TRAILER;
  }, copy);
  return copy.rowCount ?? 0;
}

/** Chunks as load.ts plans them, with tuple numbers in place of line numbers. */
function planChunks(layout: BinaryLayout): ChunkRange[] {
  return buildChunks(
    { offset: layout.dataStart, line: 1, records: 0 },
    { offset: layout.dataEnd, line: layout.tuples + 1, records: layout.tuples },
    layout.starts.map(({ offset, tuple }) => ({ offset, line: tuple, records: tuple - 1 })),
  );
}

async function recreateTables(client: pg.Client): Promise<void> {
  await client.query('DROP TABLE IF EXISTS target, twin');
  await client.query(`CREATE TABLE target ${TABLE}`);
  await client.query(`CREATE TABLE twin ${TABLE}`);
}

describe('a binary COPY file written by the server', () => {
  let data: Buffer;
  let file: string;
  beforeAll(async () => {
    data = await copyOut(db.client, `COPY (${ROWS_SQL}) TO STDOUT (FORMAT binary)`);
    file = write('rows.bin', data);
  });

  it.each([1, 13, 4096, Infinity])('every target offset gets the true next tuple start with %s-byte blocks', (blockBytes) => {
    const reference = referenceTupleStarts(data);
    const targets = Array.from({ length: data.length + 1 }, (_, i) => i);
    const expected = targets.map((target) => {
      const found = reference.findIndex((start) => start >= target);
      const index = found < 0 ? reference.length - 1 : found;
      return { offset: reference[index], tuple: index + 1 };
    });
    const layout = scanInBlocks(data, targets, blockBytes);
    expect(layout.starts).toEqual(expected);
    expect(layout.tuples).toBe(400);
    expect(layout.dataEnd).toBe(data.length - 2);
  });

  it('reads the same layout from disk', async () => {
    const targets = [0, 100, 5000, 20_000, data.length];
    expect(await scanBinaryFile(file, targets, 4096)).toEqual(scanBinaryTuples(data, targets));
  });

  it.each([
    ...[1, 2, 3, 4, 5].map((chunks) => ({ name: `${chunks} chunks`, chunks, chunkBytes: undefined })),
    { name: 'a chunk per tuple (chunk size 1 byte)', chunks: 400, chunkBytes: 1 },
  ])('loaded in $name, the table equals one plain COPY of the file', async ({ chunks: expectedChunks, chunkBytes }) => {
    const { client } = db;
    await recreateTables(client);
    const twinRows = await plainCopy(client, 'COPY twin FROM STDIN (FORMAT binary)', file);

    const { dataStart, dataEnd } = scanBinaryTuples(data, []);
    const bytes = chunkBytes ?? Math.ceil((dataEnd - dataStart) / expectedChunks);
    const layout = await scanBinaryFile(file, chunkTargets(dataStart, dataEnd, bytes));
    const chunks = planChunks(layout);
    expect(chunks).toHaveLength(expectedChunks);

    const rowsPerChunk: number[] = [];
    for (const chunk of chunks) rowsPerChunk.push(await copyChunk(client, file, layout, chunk));
    // The server's own count for each chunk is the tuple numbers between its cuts.
    const tuplesPerChunk = chunks.map((chunk, i) => (i + 1 < chunks.length ? chunks[i + 1].line : layout.tuples + 1) - chunk.line);
    expect(rowsPerChunk).toEqual(tuplesPerChunk);
    expect(twinRows).toBe(400);
    expect(await tableFingerprint(client, 'target', COLUMNS)).toEqual(await tableFingerprint(client, 'twin', COLUMNS));
  });

  it('keeps a header extension and non-critical flags in front of every chunk', async () => {
    const { client } = db;
    await recreateTables(client);
    const extension = Buffer.from('ploader test extension \xff\xff', 'latin1');
    const header = Buffer.alloc(19);
    data.copy(header, 0, 0, 11);
    header.writeInt32BE(0x0000beef, 11); // bits 0-15: PostgreSQL ignores the ones it does not know
    header.writeInt32BE(extension.length, 15);
    const extended = write('extended.bin', Buffer.concat([header, extension, data.subarray(19)]));

    const layout = await scanBinaryFile(extended, chunkTargets(19 + extension.length, data.length + extension.length, 4096));
    expect(layout.header).toEqual(Buffer.concat([header, extension]));
    const chunks = planChunks(layout);
    expect(chunks.length).toBeGreaterThan(3);
    let rows = 0;
    for (const chunk of chunks) rows += await copyChunk(client, extended, layout, chunk);
    await plainCopy(client, 'COPY twin FROM STDIN (FORMAT binary)', extended);
    expect(rows).toBe(400);
    expect(await tableFingerprint(client, 'target', COLUMNS)).toEqual(await tableFingerprint(client, 'twin', COLUMNS));
  });
});

describe('a binary COPY file with no rows', () => {
  it('has no chunks to load', async () => {
    const data = await copyOut(db.client, `COPY (${ROWS_SQL} LIMIT 0) TO STDOUT (FORMAT binary)`);
    const layout = scanBinaryTuples(data, chunkTargets(19, data.length, 1));
    expect(layout).toMatchObject({ dataStart: 19, dataEnd: 19, tuples: 0 });
    expect(planChunks(layout)).toEqual([]);
  });
});

describe('files the scanner refuses', () => {
  let data: Buffer;
  beforeAll(async () => {
    data = await copyOut(db.client, `COPY (${ROWS_SQL} LIMIT 3) TO STDOUT (FORMAT binary)`);
  });

  const withFlags = (flags: number) => {
    const copy = Buffer.from(data);
    copy.writeInt32BE(flags, 11);
    return copy;
  };
  const cases: Array<[string, () => Buffer, RegExp]> = [
    ['bytes after the trailer', () => Buffer.concat([data, Buffer.from('\n')]), /^byte \d+: data follows the trailer/],
    ['the OIDs flag', () => withFlags(1 << 16), /^byte 11: the file was written WITH OIDS/],
    ['a cut-short tuple', () => data.subarray(0, data.length - 10), /^byte \d+: tuple 3 \(at byte \d+\) is truncated/],
    ['a field length of -7', () => Buffer.concat([data.subarray(0, 21), Buffer.from([0xff, 0xff, 0xff, 0xf9]), data.subarray(25)]), /^byte 21: field length -7 is invalid/],
  ];

  it.each(cases)('%s: the server refuses it too', async (_name, make, message) => {
    const bad = make();
    expect(() => scanBinaryTuples(bad, [])).toThrow(message);
    const { client } = db;
    await recreateTables(client);
    const copy = client.query(copyFrom('COPY target FROM STDIN (FORMAT binary)'));
    // 22P04 bad_copy_file_format; a truncated field is 08P01 protocol_violation ("unexpected EOF").
    const send = pipeline(async function* () {
      yield bad;
    }, copy);
    await expect(send).rejects.toMatchObject({ code: expect.stringMatching(/^(22P04|08P01)$/) });
  });
});
