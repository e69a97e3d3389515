/**
 * Pure: how a file is cut into chunks. The scan that finds record starts is in src/input/scan; this
 * turns the offsets it found into byte ranges.
 */

export const MIN_DEFAULT_CHUNK_BYTES = 1 << 20;
export const MAX_DEFAULT_CHUNK_BYTES = 64 << 20;
/**
 * Chunks per worker: enough that a worker finishing early picks up another chunk (load balance when
 * rows differ in cost), few enough that per-chunk overhead (a transaction and a progress row each) stays
 * negligible.
 */
export const CHUNKS_PER_WORKER = 4;

/** Where a chunk lies in the input: what the boundary scan finds. */
export interface ChunkRange {
  index: number;
  /** Byte range [start, end) of the input file. */
  start: number;
  end: number;
  /** 1-based physical line of the chunk's first byte. */
  line: number;
}

/**
 * A chunk and its records: everything that numbers a record (error messages, the reject log, serial
 * ids in file order) works from these two counts and never reads the input again to count.
 */
export interface Chunk extends ChunkRange {
  /** 0-based index in the input of the chunk's first record (the header not counted). */
  firstRecord: number;
  /** Records in the chunk. */
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
 * record start (a record longer than a chunk), and a start at the end of the file closes the last chunk.
 */
export function buildChunks(
  dataStart: { offset: number; line: number },
  size: number,
  starts: ReadonlyArray<{ offset: number; line: number }>,
): ChunkRange[] {
  const cuts = [dataStart];
  for (const start of starts) {
    if (start.offset > cuts[cuts.length - 1].offset && start.offset < size) cuts.push(start);
  }
  if (dataStart.offset >= size) return [];
  return cuts.map((cut, index) => ({
    index,
    start: cut.offset,
    end: index + 1 < cuts.length ? cuts[index + 1].offset : size,
    line: cut.line,
  }));
}

/** A chunk to load: a byte range of the input file, or (from a stream) its bytes in memory. */
export interface PendingChunk {
  chunk: Chunk;
  data?: Buffer;
}
