/**
 * Pure planning: file size, record starts and server/target facts in, a LoadPlan out. No I/O here,
 * so every decision is unit-tested from a table of inputs.
 */

export const MIN_DEFAULT_CHUNK_BYTES = 1 << 20;
export const MAX_DEFAULT_CHUNK_BYTES = 64 << 20;
/**
 * Chunks per worker: enough that a worker finishing early picks up another chunk (load balance when
 * rows differ in cost), few enough that per-chunk overhead (a transaction and a progress row each) stays
 * negligible.
 */
export const CHUNKS_PER_WORKER = 4;

export interface Chunk {
  index: number;
  /** Byte range [start, end) of the input file. */
  start: number;
  end: number;
  /** 1-based physical line of the chunk's first byte. */
  line: number;
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
): Chunk[] {
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

export type PublishMethod = 'swap' | 'insert';

export interface Strategy {
  /** swap: the stage, made durable and indexed, takes the target's place; insert: INSERT ... SELECT into the target. */
  publish: PublishMethod;
  /** Create the stage LOGGED, so the parallel COPYs write WAL as they go and no SET LOGGED is needed (swap only). */
  loggedStage: boolean;
  /** Run ALTER TABLE stage SET LOGGED before the index builds (swap with an UNLOGGED stage only). */
  setLoggedBeforeIndexes: boolean;
  /** Build the target's indexes on the stage in parallel sessions (swap only; an insert maintains the target's own). */
  buildIndexesOnStage: boolean;
  truncate: boolean;
  reason: string;
}

/** How the swapped-in stage becomes durable: chosen from wal_level (`auto`), or forced (benchmarks). */
export type Durability = 'auto' | 'logged-stage' | 'set-logged';

export interface StrategyInput {
  /** wal_level as catalog.ts reads it; spelled out so that the public types never reach catalog.ts (node-postgres types). */
  server: { walLevel: 'minimal' | 'replica' | 'logical' };
  durability?: Durability;
  targetHasRows: boolean;
  truncate: boolean;
  swapBlockers: readonly string[];
}

/**
 * How the stage becomes durable, measured side by side (scripts/bench-variants.ts, PG 18, 2 cores,
 * 7.5M votes): a LOGGED stage filled in parallel took 15.1 s in all under wal_level=replica (551 MB of
 * WAL) and 14.0 s under minimal; an UNLOGGED stage made LOGGED before the index builds 19.7 s (913 MB:
 * SET LOGGED writes the heap as full pages) and 17.8 s under minimal (no WAL for the heap, but a
 * rewrite, and index builds on the rewritten table that then wrote 456 MB of WAL); SET LOGGED after
 * the builds 22.6 s and 23.1 s (it rewrites the heap and every index). So the stage is LOGGED under
 * every wal_level; `durability: 'set-logged'` keeps the other order for measurements.
 * See README "How the finalizer chooses".
 */
export function chooseStrategy({ server, durability = 'auto', targetHasRows, truncate, swapBlockers }: StrategyInput): Strategy {
  if (targetHasRows && !truncate) {
    return {
      publish: 'insert',
      loggedStage: false,
      setLoggedBeforeIndexes: false,
      buildIndexesOnStage: false,
      truncate: false,
      reason: 'the target already holds rows: new rows are appended with one INSERT ... SELECT from the stage, old rows untouched',
    };
  }
  if (swapBlockers.length > 0) {
    return {
      publish: 'insert',
      loggedStage: false,
      setLoggedBeforeIndexes: false,
      buildIndexesOnStage: false,
      truncate,
      reason: `the stage cannot take the target's place (${swapBlockers.join('; ')}): rows are copied in with one INSERT ... SELECT`,
    };
  }
  const loggedStage = durability !== 'set-logged';
  const why =
    durability !== 'auto'
      ? `durability forced to ${durability}`
      : server.walLevel === 'minimal'
        ? 'wal_level=minimal: the stage is LOGGED; SET LOGGED of an UNLOGGED stage writes no WAL here, but its rewrite cost more than the WAL the parallel COPYs write (measured)'
        : `wal_level=${server.walLevel}: the stage is LOGGED, so the parallel COPYs write the WAL as they go; an UNLOGGED stage would need SET LOGGED, which WAL-logs the whole heap again afterwards`;
  return {
    publish: 'swap',
    loggedStage,
    setLoggedBeforeIndexes: !loggedStage,
    buildIndexesOnStage: true,
    truncate,
    reason: `${truncate ? 'replacing the target' : 'the target is empty'}: stage indexed in parallel sessions, then swapped in (no second copy); ${why}`,
  };
}

/** `ploader_<target>_<runid>`, recognisable as ours and within PostgreSQL's 63-byte identifier limit. */
export function stagingTableName(target: string, runId: string): string {
  // 8 + 32 + 1 + 8 bytes, and the ledger's `_chunks` after it, stay within 63.
  const readable = target.toLowerCase().replace(/[^a-z0-9_]+/g, '_').slice(0, 32);
  return `ploader_${readable}_${runId}`;
}
