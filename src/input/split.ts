/**
 * Splitting the input: the header skipped by offset, then chunk boundaries at record starts, found in
 * one sequential scan of the file (src/scan). Nothing here parses fields.
 */
import type { ResolvedLoadOptions } from '../options.ts';
import { buildChunks, chunkTargets, defaultChunkBytes, type Chunk, type ChunkRange } from '../plan/chunks.ts';
import { countCopyRecords } from '../rows/copy-records.ts';
import { readRange } from '../rows/line-mapping.ts';
import { scanBinaryFile } from './scan/binary-tuples.ts';
import { scanFileRecordStarts } from './scan/file-boundaries.ts';
import type { RecordSyntax } from './scan/record-syntax.ts';

/** The record syntax of a CSV or text load; binary files are split by binary-tuples.ts instead. */
export function syntaxOf(options: ResolvedLoadOptions): RecordSyntax {
  const quote = (options.quote ?? '"').charCodeAt(0);
  const format = options.format === 'csv' ? 'csv' : 'text';
  return { format, quote, escape: options.escape === undefined ? quote : options.escape.charCodeAt(0) };
}

/** Header skipped by offset, then chunk boundaries at record starts, all in one sequential scan. */
export async function planChunks(options: ResolvedLoadOptions, size: number): Promise<Chunk[]> {
  const chunkBytes = options.chunkBytes ?? defaultChunkBytes(size, options.workers);
  if (options.format === 'binary') {
    // Chunk.line holds the chunk's first tuple number: binary has tuples, not lines. The first chunk
    // starts right after the file header, which every chunk's COPY is sent first (see copy-chunk.ts).
    const layout = await scanBinaryFile(options.file, chunkTargets(0, size, chunkBytes));
    const starts = layout.starts.map((s) => ({ offset: s.offset, line: s.tuple }));
    return numberBinaryChunks(buildChunks({ offset: layout.dataStart, line: 1 }, layout.dataEnd, starts), layout.tuples);
  }
  const syntax = syntaxOf(options);
  // The header ends at the first record start after offset 0; chunk targets are measured from there.
  const headerTargets = options.header ? [1] : [];
  const targets = [...headerTargets, ...chunkTargets(0, size, chunkBytes).filter((t) => t > 1 || !options.header)];
  const starts = await scanFileRecordStarts(options.file, syntax, targets);
  const dataStart = options.header ? starts[0] : { offset: 0, line: 1 };
  return countChunkRecords(options, buildChunks(dataStart, size, options.header ? starts.slice(1) : starts));
}

/**
 * INTERIM, until the split scan counts records itself: counts each chunk's records with a second pass
 * over the file, by the same record rules the server uses (rows/copy-records.ts). Chunks must be in
 * input order and cover the data without gaps, as planChunks makes them (and a resumed run's ledger
 * records them).
 */
export async function countChunkRecords(options: ResolvedLoadOptions, chunks: readonly ChunkRange[]): Promise<Chunk[]> {
  if (options.format === 'binary') return numberBinaryChunks(chunks, (await scanBinaryFile(options.file, [])).tuples);
  const syntax = syntaxOf(options);
  const counted: Chunk[] = [];
  let firstRecord = 0;
  for (const chunk of chunks) {
    const records = countCopyRecords([await readRange(options.file, chunk.start, chunk.end)], syntax);
    counted.push({ ...chunk, firstRecord, records });
    firstRecord += records;
  }
  return counted;
}

/** Binary chunks: tuples are the records, and the scan numbered them already (Chunk.line is the first tuple's number). */
function numberBinaryChunks(ranges: readonly ChunkRange[], tuples: number): Chunk[] {
  return ranges.map((range, i) => ({ ...range, firstRecord: range.line - 1, records: (ranges[i + 1]?.line ?? tuples + 1) - range.line }));
}
