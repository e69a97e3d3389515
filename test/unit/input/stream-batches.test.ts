import { describe, expect, it } from 'vitest';
import { findRecordStarts } from '../../../src/input/scan/record-boundaries.ts';
import type { RecordSyntax } from '../../../src/input/scan/record-syntax.ts';
import { isStreamInput, recordBatches } from '../../../src/input/stream-batches.ts';

const CSV: RecordSyntax = { format: 'csv', quote: 0x22, escape: 0x22 };
const input = Buffer.from('h1,"h\n2"\na,"b\nc"\n"d""\n",e\r\nf,g\n"x\n\ny",z');

async function* blocks(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

/** Every record start of the input: the only places a batch may begin. */
const recordStarts = new Set(findRecordStarts(input, CSV, Array.from({ length: input.length + 1 }, (_, i) => i)).map((s) => s.offset));

describe('recordBatches', () => {
  for (const skipHeader of [false, true]) {
    it(`cuts at record starts whatever the block and batch sizes (header ${skipHeader ? 'skipped' : 'kept'})`, async () => {
      const dataStart = skipHeader ? 9 : 0; // the header holds a quoted newline
      for (let blockSize = 1; blockSize <= input.length; blockSize++) {
        for (const batchBytes of [1, 2, 5, 11, 1000]) {
          const batches = [];
          for await (const batch of recordBatches(blocks(input, blockSize), CSV, batchBytes, skipHeader)) batches.push(batch);
          expect(Buffer.concat(batches.map((b) => b.data!)).toString()).toBe(input.subarray(dataStart).toString());
          let expectedStart = dataStart;
          for (const [index, { chunk, data }] of batches.entries()) {
            expect(chunk).toMatchObject({ index, start: expectedStart, end: expectedStart + data!.length });
            expect(recordStarts.has(chunk.start)).toBe(true);
            // The batch's first line, as an editor counts lines, from the start of the stream.
            expect(chunk.line).toBe(1 + input.subarray(0, chunk.start).toString().split('\n').length - 1);
            expectedStart = chunk.end;
          }
        }
      }
    });
  }

  it('an empty stream and a header-only stream give no batches', async () => {
    const collect = async (data: Buffer, header: boolean) => {
      const out = [];
      for await (const b of recordBatches(blocks(data, 3), CSV, 4, header)) out.push(b);
      return out;
    };
    expect(await collect(Buffer.alloc(0), false)).toEqual([]);
    expect(await collect(Buffer.from('a,b\n'), true)).toEqual([]);
    expect(await collect(Buffer.from('a,b'), true)).toEqual([]);
  });

  it.each([['-', true], ['votes.csv.gz', true], ['VOTES.CSV.GZ', true], ['votes.csv', false], ['gz', false]])('isStreamInput(%s) is %s', (file, expected) => {
    expect(isStreamInput(file)).toBe(expected);
  });
});
