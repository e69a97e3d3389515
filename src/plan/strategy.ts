/**
 * Pure: how the loaded rows reach the target (swap or insert) and how the stage becomes durable,
 * from server and target facts. No I/O, so every decision is unit-tested from a table of inputs.
 */
import type { Durability } from '../options.ts';
import type { ServerFacts } from './catalog.ts';

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

export interface StrategyInput {
  server: Pick<ServerFacts, 'walLevel'>;
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
