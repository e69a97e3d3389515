import { describe, expect, it } from 'vitest';
import { scanRecords } from '../../../src/input/scan/record-boundaries.ts';
import type { RecordSyntax, ScanRules } from '../../../src/input/scan/record-syntax.ts';
import { isStreamInput, recordBatches, type PendingChunk, type StreamBatching } from '../../../src/input/stream-batches.ts';
import { simulateServerLines } from '../../../src/rows/line-mapping.ts';

const CSV: RecordSyntax = { format: 'csv', quote: 0x22, escape: 0x22 };
const TEXT: RecordSyntax = { format: 'text', quote: 0x22, escape: 0x22 };
const STRICT_PG15: ScanRules = { endMarker: 'csv-line', strict: true, file: 'in.csv' };

async function* blocks(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function collect(data: Buffer, blockSize: number, batching: StreamBatching): Promise<PendingChunk[]> {
  const out: PendingChunk[] = [];
  for await (const batch of recordBatches(blocks(data, blockSize), batching)) out.push(batch);
  return out;
}

describe.each<[string, string, number]>([
  ['CSV with quoted newlines and a CR LF', 'h1,"h\n2"\na,"b\nc"\n"d""\n",e\r\nf,g\n"x\n\ny",z', 9],
  ['CR-only CSV', 'h,"x\ry"\ra,"b\nc"\r"d\r",e\rf,g\r', 8],
])('recordBatches over %s', (_, text, headerBytes) => {
  const input = Buffer.from(text);
  const all = scanRecords(input, CSV, Array.from({ length: input.length + 1 }, (__, i) => i));
  const startsAt = new Map(all.starts.map((s) => [s.offset, s]));

  for (const header of [false, true]) {
    it(`cuts at record starts and counts the records whatever the block and batch sizes (header ${header ? 'skipped' : 'kept'})`, async () => {
      const dataStart = header ? headerBytes : 0;
      const recordsInData = simulateServerLines(input.subarray(dataStart), CSV).length;
      for (let blockSize = 1; blockSize <= input.length; blockSize++) {
        for (const batchBytes of [1, 2, 5, 11, 1000]) {
          const batches = await collect(input, blockSize, { syntax: CSV, batchBytes, header });
          expect(Buffer.concat(batches.map((b) => b.data!)).toString()).toBe(input.subarray(dataStart).toString());
          let expected = { start: dataStart, firstRecord: 0 };
          for (const [index, { chunk, data }] of batches.entries()) {
            expect(chunk).toMatchObject({ index, start: expected.start, end: expected.start + data!.length, firstRecord: expected.firstRecord });
            const start = startsAt.get(chunk.start);
            expect(start, `batch at ${chunk.start}`).toBeDefined();
            // The batch's first line, as the whole stream's scan numbers it.
            expect(chunk.line).toBe(start!.line);
            expect(chunk.records).toBe(simulateServerLines(data!, CSV).length);
            expected = { start: chunk.end, firstRecord: chunk.firstRecord + chunk.records };
          }
          expect(expected.firstRecord).toBe(recordsInData);
        }
      }
    });
  }
});

describe('recordBatches', () => {
  it('an empty stream and a header-only stream give no batches', async () => {
    const batching = { syntax: CSV, batchBytes: 4, header: true };
    expect(await collect(Buffer.alloc(0), 3, { ...batching, header: false })).toEqual([]);
    expect(await collect(Buffer.from('a,b\n'), 3, batching)).toEqual([]);
    expect(await collect(Buffer.from('a,b'), 3, batching)).toEqual([]);
    expect(await collect(Buffer.from('a,b\r'), 3, batching)).toEqual([]);
  });

  it.each([1, 2, 7, 100])('stops at an end-of-data marker and warns of what follows it (%d-byte blocks)', async (blockSize) => {
    const warnings: string[] = [];
    const input = Buffer.from('a\tb\nc\td\n\\.\nnot\tloaded\n');
    const batches = await collect(input, blockSize, { syntax: TEXT, batchBytes: 3, header: false, rules: { endMarker: 'text', strict: true, file: '-' }, warn: (w) => warnings.push(w) });
    expect(Buffer.concat(batches.map((b) => b.data!)).toString()).toBe('a\tb\nc\td\n');
    expect(batches.reduce((sum, b) => sum + b.chunk.records, 0)).toBe(2);
    expect(warnings).toEqual(['-:3: a \\. (end-of-data marker) ends the text data here, as it ends one COPY\'s: the 11 bytes after it were not loaded']);
  });

  it('fails on a line end of another style as one COPY does, with the line', async () => {
    const input = Buffer.from('a,1\nb,2\nc,3\r\nd,4\n');
    await expect(collect(input, 5, { syntax: CSV, batchBytes: 4, header: false, rules: STRICT_PG15 })).rejects.toMatchObject({
      code: 'BAD_ROW',
      position: { file: 'in.csv', line: 3, record: 3 },
      message: expect.stringMatching(/^record 3: unquoted carriage return found in data \(SQLSTATE 22P04\)/),
    });
  });

  it.each([['-', true], ['votes.csv.gz', true], ['VOTES.CSV.GZ', true], ['votes.csv', false], ['gz', false]])('isStreamInput(%s) is %s', (file, expected) => {
    expect(isStreamInput(file)).toBe(expected);
  });
});
