/**
 * Microbenchmark of the binary COPY tuple scanner on ~256 MB of votes-like tuples held in memory, so
 * only the scan is timed.
 *   npx tsx scripts/bench-binary-scan.ts [--mb 256]
 * Prints MB/s (best of 3) for scanBinaryTuples over the whole buffer and for BinaryTupleScanner fed
 * 8 MiB blocks (as scanBinaryFile reads), each with a target every 16 MiB, and the ratio to the obvious
 * readInt16BE/readInt32BE walk measured on the same data in the same run.
 */
import { BINARY_SIGNATURE, BINARY_TRAILER, BinaryTupleScanner, scanBinaryTuples } from '../src/input/scan/binary-tuples.ts';
import { DEFAULT_SCAN_BLOCK_BYTES } from '../src/input/scan/file-boundaries.ts';
import { seededRandom } from './votes-data.ts';
import { bestSeconds } from './best-time.ts';

const MIB = 1024 * 1024;
const TARGET_SPACING_BYTES = 16 * MIB;
/** A few MiB of distinct tuples, tiled to the full size: encoding 256 MB tuple by tuple would take longer than the scans. */
const TILE_BYTES = 4 * MIB;
const RUNS = 3;
/** Signature, flags 0, extension length 0. */
const HEADER = Buffer.concat([BINARY_SIGNATURE, Buffer.alloc(8)]);

const DEFAULT_SIZE_MB = 256;
const mbFlag = process.argv.indexOf('--mb');
const sizeMb = mbFlag < 0 ? DEFAULT_SIZE_MB : Number(process.argv[mbFlag + 1]);

/** (username text, link text, score int4), as `COPY votes (username, link, score) TO STDOUT (FORMAT binary)` writes it. */
function votesTile(): Buffer {
  const random = seededRandom(1);
  const tile = Buffer.alloc(TILE_BYTES + 256);
  let p = 0;
  while (p < TILE_BYTES) {
    const username = `user_${Math.floor(random() * 0xfffff).toString(36)}`;
    const link = `t3_${Math.floor(random() ** 3 * 0xfffff).toString(36)}`;
    p = tile.writeInt16BE(3, p);
    for (const text of [username, link]) {
      const length = tile.write(text, p + 4);
      p = tile.writeInt32BE(length, p) + length;
    }
    p = tile.writeInt32BE(4, p);
    p = tile.writeInt32BE(random() < 0.5 ? 1 : -1, p);
  }
  return tile.subarray(0, p);
}

function votesFile(totalBytes: number): Buffer {
  const tile = votesTile();
  const tiles = Math.max(1, Math.floor(totalBytes / tile.length));
  const data = Buffer.allocUnsafe(HEADER.length + tiles * tile.length + BINARY_TRAILER.length);
  HEADER.copy(data, 0);
  for (let i = 0; i < tiles; i++) tile.copy(data, HEADER.length + i * tile.length);
  BINARY_TRAILER.copy(data, data.length - BINARY_TRAILER.length);
  return data;
}

/** Baseline: the obvious walk, Buffer's own readers for every count and length. */
function naiveTupleCount(data: Buffer): number {
  let tuples = 0;
  let p = HEADER.length + data.readInt32BE(15);
  for (let count = data.readInt16BE(p); count !== -1; count = data.readInt16BE(p)) {
    p += 2;
    for (let f = 0; f < count; f++) p += 4 + Math.max(data.readInt32BE(p), 0);
    tuples++;
  }
  return tuples;
}

function scanInBlocks(data: Buffer, targets: readonly number[]): number {
  const scanner = new BinaryTupleScanner(targets);
  for (let offset = 0; offset < data.length; offset += DEFAULT_SCAN_BLOCK_BYTES) {
    scanner.push(data.subarray(offset, offset + DEFAULT_SCAN_BLOCK_BYTES));
  }
  return scanner.finish().tuples;
}


const data = votesFile(sizeMb * MIB);
const targets = Array.from({ length: Math.floor(data.length / TARGET_SPACING_BYTES) }, (_, i) => (i + 1) * TARGET_SPACING_BYTES);
const tuples = naiveTupleCount(data);
const naiveSeconds = bestSeconds(() => naiveTupleCount(data), RUNS);
const mbPerSecond = (seconds: number) => data.length / seconds / 1e6;
console.log(`${(data.length / 1e6).toFixed(0)} MB, ${tuples} votes tuples (${(data.length / tuples).toFixed(1)} bytes each)`);
console.log(`naive readInt*BE walk            ${mbPerSecond(naiveSeconds).toFixed(0).padStart(6)} MB/s (baseline)`);
for (const [name, run] of [
  ['scanBinaryTuples (whole buffer)', () => scanBinaryTuples(data, targets).tuples],
  [`BinaryTupleScanner (${DEFAULT_SCAN_BLOCK_BYTES / MIB} MiB blocks)`, () => scanInBlocks(data, targets)],
] as const) {
  if (run() !== tuples) throw new Error(`${name} counted a different number of tuples than the naive walk`);
  const seconds = bestSeconds(run, RUNS);
  console.log(`${name.padEnd(32)} ${mbPerSecond(seconds).toFixed(0).padStart(6)} MB/s (${(naiveSeconds / seconds).toFixed(2)}x the naive walk)`);
}
