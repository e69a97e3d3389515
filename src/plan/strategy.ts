/**
 * Pure: how the loaded rows reach the target (swap or insert) and how the stage becomes durable,
 * from server and target facts. No I/O, so every decision is unit-tested from a table of inputs.
 */
import { PloaderError } from '../errors.ts';
import type { Durability, PublishChoice } from '../options.ts';

/**
 * swap: the stage, made durable and indexed, takes the target's place; insert: INSERT ... SELECT from
 * the stage into the target; direct: no stage, one COPY straight into the target, as `\copy` does;
 * create: the target does not exist (--create), and the stage becomes it.
 */
export type PublishMethod = 'swap' | 'insert' | 'direct' | 'create';

export interface Strategy {
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
  /** wal_level as catalog.ts reads it; spelled out so that the public types never reach catalog.ts (node-postgres types). */
  server: { walLevel: 'minimal' | 'replica' | 'logical' };
  durability?: Durability;
  /** --publish: `auto` chooses; `swap` refuses when a swap is not possible; `insert` never swaps. */
  publish?: PublishChoice;
  targetHasRows: boolean;
  truncate: boolean;
  swapBlockers: readonly string[];
  /** The target's relpersistence: 'p' LOGGED, 'u' UNLOGGED. A swap keeps it. */
  persistence?: string;
  /** Triggers that must fire as one COPY (or TRUNCATE) fires them: row by row, in file order, before the constraints. */
  firingTriggers?: readonly string[];
  /** Why the role cannot make a stage, if it cannot (TargetFacts.stageBlocker). */
  stageBlocker?: string;
  /** Why this load needs a stage whatever the target (--max-errors, --on-conflict, --resume), if it does. */
  stageNeededFor?: string;
  /** A resumed run's stage as it is: an UNLOGGED one that is to be swapped in gets SET LOGGED. */
  resumedStageLogged?: boolean;
  /** The target does not exist and is created from the file (--create). */
  creating?: boolean;
}

/** A new table has nothing to swap with, no rows, indexes or triggers: its LOGGED stage is simply renamed. */
const CREATE: Strategy = {
  publish: 'create',
  loggedStage: true,
  setLoggedBeforeIndexes: false,
  buildIndexesOnStage: false,
  truncate: false,
  reason: 'the table does not exist: its stage, made with the columns inferred from the file, is LOGGED and takes the new name at publish (no second copy)',
};

/** Reasons the load must go straight into the target with one COPY; empty when a stage can be used. */
function directReasons(input: StrategyInput): string[] {
  const reasons: string[] = [];
  if (input.firingTriggers?.length) {
    reasons.push(`the target has triggers (${input.firingTriggers.join(', ')}) that must fire as one COPY fires them: row by row, in file order, before the constraints are checked`);
  }
  if (input.stageBlocker) reasons.push(input.stageBlocker);
  return reasons;
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
export function chooseStrategy(input: StrategyInput): Strategy {
  const { server, durability = 'auto', publish = 'auto', targetHasRows, truncate, swapBlockers } = input;
  if (input.creating) return { ...CREATE };
  const direct = directReasons(input);
  if (direct.length > 0) {
    if (input.stageNeededFor) {
      throw new PloaderError('INVALID_OPTION', `${input.stageNeededFor} needs a staging table, and ${direct.join('; ')} — load without it, or ask the table's owner for what is missing`);
    }
    if (publish === 'swap') throw new PloaderError('INVALID_OPTION', `--publish swap is not possible: ${direct.join('; ')}`);
    return {
      publish: 'direct',
      loggedStage: false,
      setLoggedBeforeIndexes: false,
      buildIndexesOnStage: false,
      truncate,
      reason: `${direct.join('; ')}: loaded with one COPY straight into the target in one transaction, as \\copy would (no parallel workers)`,
    };
  }
  const insert = (why: string): Strategy => ({ publish: 'insert', loggedStage: false, setLoggedBeforeIndexes: false, buildIndexesOnStage: false, truncate, reason: why });
  if (targetHasRows && !truncate) {
    if (publish === 'swap') throw new PloaderError('INVALID_OPTION', '--publish swap is not possible: the target already holds rows (pass --truncate to replace them)');
    return { ...insert('the target already holds rows: new rows are appended with one INSERT ... SELECT from the stage, old rows untouched'), truncate: false };
  }
  if (swapBlockers.length > 0) {
    if (publish === 'swap') throw new PloaderError('INVALID_OPTION', `--publish swap is not possible: ${swapBlockers.join('; ')}`);
    return insert(`the stage cannot take the target's place (${swapBlockers.join('; ')}): rows are copied in with one INSERT ... SELECT`);
  }
  if (publish === 'insert') return insert('--publish insert: rows are copied in with one INSERT ... SELECT (old snapshots never see them, as after a COPY)');
  // The swapped-in table keeps the target's persistence: an UNLOGGED target gets an UNLOGGED stage,
  // a LOGGED one never receives an UNLOGGED table (a resumed UNLOGGED stage is made LOGGED first).
  if (input.persistence === 'u') {
    return { publish: 'swap', loggedStage: false, setLoggedBeforeIndexes: false, buildIndexesOnStage: true, truncate, reason: `${swapOpening(truncate)}; the target is UNLOGGED, and so is its stage` };
  }
  const loggedStage = input.resumedStageLogged ?? durability !== 'set-logged';
  const why =
    input.resumedStageLogged === false
      ? 'the resumed stage is UNLOGGED: SET LOGGED before the index builds'
      : durability !== 'auto'
        ? `durability forced to ${durability}`
        : server.walLevel === 'minimal'
          ? 'wal_level=minimal: the stage is LOGGED; SET LOGGED of an UNLOGGED stage writes no WAL here, but its rewrite cost more than the WAL the parallel COPYs write (measured)'
          : `wal_level=${server.walLevel}: the stage is LOGGED, so the parallel COPYs write the WAL as they go; an UNLOGGED stage would need SET LOGGED, which WAL-logs the whole heap again afterwards`;
  return { publish: 'swap', loggedStage, setLoggedBeforeIndexes: !loggedStage, buildIndexesOnStage: true, truncate, reason: `${swapOpening(truncate)}; ${why}` };
}

function swapOpening(truncate: boolean): string {
  return `${truncate ? 'replacing the target' : 'the target is empty'}: stage indexed in parallel sessions, then swapped in (no second copy)`;
}
