/**
 * What each chunk's COPY needs beyond its bytes: the record counters its session sets (the
 * --on-conflict locator; serial and identity ids in file order), and with --max-errors the probe
 * session's temporary twin of the stage and the chunk's reject spool.
 */
import { copyFromStdin, qualified, quoteIdent } from '../db/sql.ts';
import type { Chunk } from '../plan/chunks.ts';
import type { LoadPlan } from '../plan/load-plan.ts';
import { LOCATOR_COLUMN, LOCATOR_SEQUENCE, locatorFirstValue } from './conflicts.ts';
import { canInjectCounters, counterSessionSql, type CounterInjection, type RecordCounter } from './record-counters.ts';
import { idCounters } from './serial-ids.ts';
import { spoolDirectory, spoolFiles } from './reject-spool.ts';

export interface ChunkCopySettings {
  copySql: string;
  sessionSql: string[];
  counters: RecordCounter[];
  probe?: { setupSql: string[]; copySql: string };
  spool?: { bytes: string; log: string };
  injection?: CounterInjection;
  skipping?: SoftErrorSkipping;
  /** The stage's name and the target's, as the server writes them in a message (`relation "x"`). */
  relationNames: RelationNames;
}

export interface RelationNames {
  stage: string;
  target: string;
}

/**
 * The server's words about a row of the stage, as one COPY into the target would have put them:
 * `new row for relation "ploader_votes_1a2b" violates check constraint ...` names the target.
 */
export function inTargetTerms(text: string, names: RelationNames): string {
  return names.stage === names.target ? text : text.split(`relation "${names.stage}"`).join(`relation "${names.target}"`);
}

/**
 * PostgreSQL 17+'s ON_ERROR ignore in isolation's windows: a value the column's type refuses (the
 * commonest bad row) is skipped and named by the server, instead of failing the window. Only in COPYs
 * whose rows draw no counter (the probe's; the chunk's own when the counter values are in the records),
 * since a skipped row draws nothing and would shift the ids after it.
 */
export interface SoftErrorSkipping {
  probeSql: string;
  /** The chunk's own window COPY with ON_ERROR ignore, when its rows draw no counter (windows send records as they are). */
  mainSql?: string;
  /** Column types, to ask pg_input_error_info for the error a skipped value gave. */
  types: Record<string, string>;
}

export function chunkCopySettings(plan: LoadPlan, chunk: Chunk): ChunkCopySettings {
  const counters: RecordCounter[] = idCounters(plan, plan.idReservation, chunk);
  if (plan.conflicts.locator) counters.push({ column: LOCATOR_COLUMN, sequence: LOCATOR_SEQUENCE, first: locatorFirstValue(chunk.index), increment: '1' });
  const isolating = plan.options.maxErrors > 0;
  const injection = isolating ? counterInjection(plan, counters) : undefined;
  return {
    copySql: plan.copySql,
    sessionSql: counterSessionSql(counters),
    counters,
    probe: isolating ? probeSql(plan) : undefined,
    spool: isolating ? spoolFiles(spoolDirectory(plan.options.rejectFile, plan.runId), chunk.index, 'rows') : undefined,
    injection,
    skipping: isolating ? softErrorSkipping(plan, counters) : undefined,
    relationNames: { stage: plan.stage.name, target: plan.target.table.name },
  };
}

/** ON_ERROR ignore needs PostgreSQL 17 and messages in English (its NOTICE is the only place it names a line). */
function softErrorSkipping(plan: LoadPlan, counters: readonly RecordCounter[]): SoftErrorSkipping | undefined {
  const { options, server } = plan;
  if (options.format === 'binary' || server.versionNum < ON_ERROR_VERSION || !/^(c|posix|en([_.@].*)?|)$/i.test(server.lcMessages)) return undefined;
  const skipping = { ...options, skipSoftErrors: true };
  const twin = { schema: 'pg_temp', name: plan.target.table.name };
  return {
    probeSql: copyFromStdin(twin, plan.columns, skipping),
    mainSql: counters.length === 0 ? copyFromStdin(plan.stage, plan.columns, skipping) : undefined,
    types: Object.fromEntries(plan.target.columns.map((c) => [c.name, c.type])),
  };
}

const ON_ERROR_VERSION = 170000;

function counterInjection(plan: LoadPlan, counters: readonly RecordCounter[]): CounterInjection | undefined {
  const { options } = plan;
  const delimiter = options.delimiter ?? (options.format === 'csv' ? ',' : '\t');
  if (counters.length === 0 || options.format === 'binary' || !canInjectCounters(delimiter, options.null, options.default)) return undefined;
  return { copySql: copyFromStdin(plan.stage, [...plan.columns, ...counters.map((c) => c.column)], options), delimiter };
}

/**
 * The probe's twin: the stage's columns, types, defaults, NOT NULL and CHECK constraints and
 * generated columns, so it refuses exactly the rows the stage would. It is named like the target, so
 * the probe's messages read as one COPY's would ("new row for relation "votes" violates ..."); temporary,
 * and never committed into (isolation rolls each window back), emptied at commit all the same.
 */
function probeSql(plan: LoadPlan): { setupSql: string[]; copySql: string } {
  const twin = { schema: 'pg_temp', name: plan.target.table.name };
  return {
    setupSql: [
      `CREATE TEMP TABLE ${quoteIdent(twin.name)} (LIKE ${qualified(plan.stage)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED) ON COMMIT DELETE ROWS`,
    ],
    copySql: copyFromStdin(twin, plan.columns, plan.options),
  };
}
