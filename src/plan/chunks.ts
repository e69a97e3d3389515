/**
 * Pure: how a file is cut into chunks. The scan that finds record starts is in src/input/scan; this
 * turns the offsets it found into byte ranges.
 */
import { CHUNKS_PER_WORKER, MAX_DEFAULT_CHUNK_BYTES, MIN_DEFAULT_CHUNK_BYTES } from '../options.ts';

export interface Chunk {
  index: number;
  /** The input file the chunk is of, as given (a load of several files has chunks of each, in order). */
  file: string;
  /** Byte range [start, end) of that file. */
  start: number;
  end: number;
  /** 1-based physical line of the chunk's first byte (binary: its first tuple's number). */
  line: number;
  /**
   * 0-based index in the input of the chunk's first record (binary: tuple), the header not counted.
   * Several files count as their concatenation: file 2's first record follows file 1's last.
   */
  firstRecord: number;
  /** Records (binary: tuples) in the chunk. */
  records: number;
}

/** A chunk of one file as the split scan found it, before it is placed among the load's chunks. */
export type ChunkRange = Omit<Chunk, 'file'>;

/** A record start found by the split scan: its offset, line, and the records before it (header included). */
export interface Cut {
  offset: number;
  line: number;
  records: number;
}

export function defaultChunkBytes(dataBytes: number, workers: number): number {
  const even = Math.ceil(dataBytes / (workers * CHUNKS_PER_WORKER));
  return Math.min(MAX_DEFAULT_CHUNK_BYTES, Math.max(MIN_DEFAULT_CHUNK_BYTES, even));
}

/** Offsets at which to look for the next record start: every `chunkBytes` after the data start. */
export function chunkTargets(dataStart: number, size: number, chunkBytes: number): number[] {
  const targets: number[] = [];
  for (let target = dataStart + chunkBytes; target < size; target += chunkBytes) targets.push(target);
  return targets;
}

/**
 * Chunks from the record starts found for `chunkTargets`: several targets may land on the same
 * record start (a record longer than a chunk), and a start at the data end closes the last chunk.
 * Record counts come from the cuts: a chunk holds the records between its cut and the next.
 */
export function buildChunks(dataStart: Cut, dataEnd: Cut, starts: ReadonlyArray<Cut>): ChunkRange[] {
  const cuts = [dataStart];
  for (const start of starts) {
    if (start.offset > cuts[cuts.length - 1].offset && start.offset < dataEnd.offset) cuts.push(start);
  }
  if (dataStart.offset >= dataEnd.offset) return [];
  return cuts.map((cut, index) => {
    const next = index + 1 < cuts.length ? cuts[index + 1] : dataEnd;
    return {
      index,
      start: cut.offset,
      end: next.offset,
      line: cut.line,
      firstRecord: cut.records - dataStart.records,
      records: next.records - cut.records,
    };
  });
}

/**
 * The chunks of several files as one load's: numbered on from the chunks of the files before, their
 * records counted on from those files' records (the files concatenated, in the order given).
 */
export function concatChunks(files: ReadonlyArray<{ file: string; chunks: readonly ChunkRange[] }>): Chunk[] {
  const all: Chunk[] = [];
  let records = 0;
  for (const { file, chunks } of files) {
    for (const chunk of chunks) all.push({ ...chunk, index: all.length, file, firstRecord: records + chunk.firstRecord });
    records += chunks.reduce((sum, c) => sum + c.records, 0);
  }
  return all;
}
