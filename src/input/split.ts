/**
 * Splitting the input: the header skipped by offset, then chunk boundaries at record starts, found in
 * one sequential scan of the file (src/input/scan) that also counts each chunk's records, checks the
 * line ends as COPY does and stops at an end-of-data marker. Nothing here parses fields.
 */
import type { ResolvedLoadOptions } from '../options.ts';
import { buildChunks, chunkTargets, concatChunks, defaultChunkBytes, type Chunk, type ChunkRange } from '../plan/chunks.ts';
import { scanBinaryFile, type BinaryLayout } from './scan/binary-tuples.ts';
import { scanFileRecords } from './scan/file-boundaries.ts';
import type { DataEnd } from './scan/record-boundaries.ts';
import { endMarkerRule, type RecordSyntax, type ScanRules } from './scan/record-syntax.ts';

/** The record syntax of a CSV or text load; binary files are split by binary-tuples.ts instead. */
export function syntaxOf(options: ResolvedLoadOptions): RecordSyntax {
  const quote = (options.quote ?? '"').charCodeAt(0);
  const format = options.format === 'csv' ? 'csv' : 'text';
  return { format, quote, escape: options.escape === undefined ? quote : options.escape.charCodeAt(0) };
}

/**
 * How the split scan reads the input for this server: its end-of-data marker rule, and whether what
 * one COPY refuses (a line end of another style, a bad marker) fails the load before it starts. With
 * --max-errors it does not: the server refuses that record and it is set aside, as any bad row.
 */
export function scanRulesOf(options: ResolvedLoadOptions, serverVersionNum: number, file = options.file): ScanRules {
  const { format } = syntaxOf(options);
  return { endMarker: endMarkerRule(format, serverVersionNum), strict: options.maxErrors === 0, file, header: options.header };
}

export interface SplitPlan {
  chunks: Chunk[];
  /** What the user should know about how the data ends (printed with the report). */
  warnings: string[];
}

/**
 * The chunks of every input file, in the order given: each file split on its own (its header skipped,
 * its end-of-data marker its own), the chunk size chosen from all of them together, and the chunks
 * numbered across the files (plan/chunks.ts concatChunks).
 */
export async function planChunks(options: ResolvedLoadOptions, files: ReadonlyArray<{ file: string; size: number }>, serverVersionNum: number): Promise<SplitPlan> {
  const chunkBytes = options.chunkBytes ?? defaultChunkBytes(files.reduce((sum, f) => sum + f.size, 0), options.workers);
  const split: Array<{ file: string; chunks: ChunkRange[] }> = [];
  const warnings: string[] = [];
  for (const { file, size } of files) {
    const one = await planFileChunks(options, { file, size, chunkBytes }, serverVersionNum);
    split.push({ file, chunks: one.chunks });
    warnings.push(...one.warnings);
  }
  return { chunks: concatChunks(split), warnings };
}

/** One file: header skipped by offset, then chunk boundaries at record starts, all in one sequential scan. */
async function planFileChunks(options: ResolvedLoadOptions, input: { file: string; size: number; chunkBytes: number }, serverVersionNum: number): Promise<{ chunks: ChunkRange[]; warnings: string[] }> {
  const { file, size, chunkBytes } = input;
  if (options.format === 'binary') {
    // Chunk.line holds the chunk's first tuple number: binary has tuples, not lines. The first chunk
    // starts right after the file header, which every chunk's COPY is sent first (see copy-chunk.ts).
    const layout = await scanBinaryFile(file, chunkTargets(0, size, chunkBytes));
    const cut = (offset: number, tuple: number) => ({ offset, line: tuple, records: tuple - 1 });
    const starts = layout.starts.map((s) => cut(s.offset, s.tuple));
    return { chunks: buildChunks(cut(layout.dataStart, 1), cut(layout.dataEnd, layout.tuples + 1), starts), warnings: binaryEndWarnings(file, layout) };
  }
  const syntax = syntaxOf(options);
  const rules = scanRulesOf(options, serverVersionNum, file);
  // The header ends at the first record start after offset 0; chunk targets are measured from there.
  const headerTargets = options.header ? [1] : [];
  const targets = [...headerTargets, ...chunkTargets(0, size, chunkBytes).filter((t) => t > 1 || !options.header)];
  const scan = await scanFileRecords(file, syntax, targets, { rules });
  const dataStart = options.header ? scan.starts[0] : { offset: 0, line: 1, records: 0 };
  const chunks = buildChunks(dataStart, scan.end, options.header ? scan.starts.slice(1) : scan.starts);
  return { chunks, warnings: markerWarnings(file, size, scan.end, syntax.format) };
}

/** A marker with data after it: that data is not loaded, as one COPY would not load it. */
export function markerWarnings(file: string, size: number, end: DataEnd, format: RecordSyntax['format']): string[] {
  const marker = end.marker;
  if (!marker || marker.end >= size) return [];
  return [`${file}:${marker.line}: a \\. (end-of-data marker) ends the ${format} data here, as it ends one COPY's: the ${size - marker.end} bytes after it were not loaded`];
}

/** COPY loads a binary file without its trailer (or with a stray byte of one) silently; ploader says so. */
function binaryEndWarnings(file: string, layout: BinaryLayout): string[] {
  if (layout.ending === 'trailer') return [];
  const tuples = `${layout.tuples} tuple${layout.tuples === 1 ? '' : 's'}`;
  if (layout.ending === 'end of file') return [`${file}: the binary file has no trailer (int16 -1) after its ${tuples}: loaded as COPY loads it; was it cut short?`];
  return [`${file}: the binary file ends with ${layout.strayBytes} byte that is not a whole field count, after its ${tuples}: COPY ignores it, and so did ploader; was it cut short?`];
}
