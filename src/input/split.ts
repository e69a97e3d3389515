/**
 * Splitting the input: the header skipped by offset, then chunk boundaries at record starts, found in
 * one sequential scan of the file (src/scan). Nothing here parses fields.
 */
import type { ResolvedLoadOptions } from '../options.ts';
import { buildChunks, chunkTargets, defaultChunkBytes, type Chunk } from '../plan/chunks.ts';
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
    return buildChunks({ offset: layout.dataStart, line: 1 }, layout.dataEnd, starts);
  }
  const syntax = syntaxOf(options);
  // The header ends at the first record start after offset 0; chunk targets are measured from there.
  const headerTargets = options.header ? [1] : [];
  const targets = [...headerTargets, ...chunkTargets(0, size, chunkBytes).filter((t) => t > 1 || !options.header)];
  const starts = await scanFileRecordStarts(options.file, syntax, targets);
  const dataStart = options.header ? starts[0] : { offset: 0, line: 1 };
  return buildChunks(dataStart, size, options.header ? starts.slice(1) : starts);
}
