/**
 * Splitting the input: the header skipped by offset, then chunk boundaries at record starts, found in
 * one sequential scan of the file (src/scan). Nothing here parses fields.
 */
import type { ResolvedLoadOptions } from './options.ts';
import { buildChunks, chunkTargets, defaultChunkBytes, type Chunk } from './plan.ts';
import { scanFileRecordStarts } from './scan/file-boundaries.ts';
import type { RecordSyntax } from './scan/record-syntax.ts';

export function syntaxOf(options: ResolvedLoadOptions): RecordSyntax {
  const quote = (options.quote ?? '"').charCodeAt(0);
  return { format: options.format, quote, escape: options.escape === undefined ? quote : options.escape.charCodeAt(0) };
}

/** Header skipped by offset, then chunk boundaries at record starts, all in one sequential scan. */
export async function planChunks(options: ResolvedLoadOptions, size: number): Promise<Chunk[]> {
  const syntax = syntaxOf(options);
  // The header ends at the first record start after offset 0; chunk targets are measured from there.
  const headerTargets = options.header ? [1] : [];
  const approxDataStart = 0;
  const chunkBytes = options.chunkBytes ?? defaultChunkBytes(size, options.workers);
  const targets = [...headerTargets, ...chunkTargets(approxDataStart, size, chunkBytes).filter((t) => t > 1 || !options.header)];
  const starts = await scanFileRecordStarts(options.file, syntax, targets);
  const dataStart = options.header ? starts[0] : { offset: 0, line: 1 };
  return buildChunks(dataStart, size, options.header ? starts.slice(1) : starts);
}
