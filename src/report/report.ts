/**
 * The load report: what the library returns, what --json prints, and the human table the CLI prints.
 */
import type { FinalizeSteps, IndexBuildReport } from '../finalize/finalize-steps.ts';
import type { Chunk } from '../plan/chunks.ts';
import type { PublishMethod, Strategy } from '../plan/strategy.ts';

export interface PhaseTimings {
  /** Header skip and boundary scan (ms). */
  split: number;
  /** Parallel COPY into the stage. */
  load: number;
  /** SET LOGGED of the stage. */
  durable: number;
  /** Index builds (and foreign-key checks) on the stage. */
  indexes: number;
  /** The publishing transaction. */
  publish: number;
}

export interface LoadReport {
  /** The (first) input file. */
  file: string;
  /** Every input file, in load order (`[file]` for one). */
  files: string[];
  table: string;
  dryRun: boolean;
  rows: number;
  /** Bad rows set aside (--max-errors); they are in `rejectFile`, and why in `rejectFile`.log. */
  rejected: number;
  rejectFile?: string;
  bytes: number;
  chunks: number;
  workers: number;
  wallMs: number;
  phases: PhaseTimings;
  strategy: Strategy;
  /** How the rows were in fact published: the strategy's method, or insert where a swap would not have been the same table. */
  published?: PublishMethod;
  /** The columns the file fed, in file order. */
  columns: string[];
  /** Columns the file did not feed, filled by their defaults (serial ids, DEFAULT expressions) or NULL. */
  defaulted: string[];
  /** The CREATE TABLE of a table the load made (--create); with --dry-run, the one it would run. */
  createTable?: string;
  warnings: string[];
  /** The index builds on the stage, in start order, with the sort memory and parallel workers each was given and its time. */
  indexBuilds?: IndexBuildReport[];
  /** Only for --dry-run: what would run (indexBuilds: the schedule, from rows estimated from the file). */
  plan?: { stage: string; copySql: string; chunks: Chunk[]; steps: FinalizeSteps; indexBuilds?: IndexBuildReport[] };
}

export function formatReport(report: LoadReport): string {
  const seconds = report.wallMs / 1000;
  const rows: Array<[string, string]> = [
    ['table', report.table],
    ...fileRows(report),
    ...columnRows(report),
    ['rows', report.rows.toLocaleString('en-US')],
    ...(report.rejected > 0 ? [['rejected', `${report.rejected.toLocaleString('en-US')} → ${report.rejectFile}`] as [string, string]] : []),
    ['bytes', `${report.bytes.toLocaleString('en-US')} (${(report.bytes / 1e6).toFixed(1)} MB)`],
    ['wall time', `${seconds.toFixed(2)} s`],
    ['throughput', `${Math.round(report.rows / Math.max(seconds, 1e-9)).toLocaleString('en-US')} rows/s, ${(report.bytes / 1e6 / Math.max(seconds, 1e-9)).toFixed(1)} MB/s`],
    ['workers / chunks', `${report.workers} / ${report.chunks}`],
    ...(Object.entries(report.phases) as Array<[string, number]>).flatMap(([phase, ms]): Array<[string, string]> => [
      [`  ${phase}`, `${(ms / 1000).toFixed(2)} s`],
      ...(phase === 'indexes' ? (report.indexBuilds ?? []).map(buildLine) : []),
    ]),
    ['strategy', report.published && report.published !== report.strategy.publish ? `${report.published} (planned: ${report.strategy.publish})` : report.strategy.publish],
    ['why', report.strategy.reason],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = [`COPY ${report.rows}`, ...rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`)];
  return lines.join('\n');
}

/** The input: one file, or several loaded as one. */
function fileRows(report: LoadReport): Array<[string, string]> {
  return report.files.length > 1 ? [['files', `${report.files.length}: ${report.files.join(', ')}`]] : [['file', report.file]];
}

/** What the file fed, what defaults filled, and what was created. */
function columnRows(report: LoadReport): Array<[string, string]> {
  const rows: Array<[string, string]> = [['columns', report.columns.join(', ')]];
  if (report.defaulted.length > 0) rows.push(['defaults', `${report.defaulted.join(', ')} (not in the file: filled by ${report.defaulted.length === 1 ? 'its default' : 'their defaults'})`]);
  if (report.createTable) rows.push(['created', report.createTable]);
  return rows;
}

export function formatPlan(report: LoadReport): string {
  const plan = report.plan;
  if (!plan) return formatReport(report);
  const lines = [
    `plan for loading ${report.files.length > 1 ? `${report.files.length} files` : report.file} (${report.bytes} bytes) into ${report.table} — dry run, nothing loaded`,
    ...(report.files.length > 1 ? report.files.map((file, i) => `  file ${i + 1}: ${file}, ${describeChunksOf(plan.chunks, file)}`) : []),
    `strategy: ${report.strategy.publish} — ${report.strategy.reason}`,
    ...columnRows(report).map(([label, value]) => `${label === 'created' ? 'create' : label}: ${value}`),
    `stage: ${plan.stage} (${report.strategy.loggedStage ? 'LOGGED' : 'UNLOGGED'})`,
    `chunks: ${plan.chunks.length} over ${report.workers} workers`,
    ...plan.chunks.map((c) => `  #${c.index}: ${report.files.length > 1 ? `${c.file} ` : ''}bytes [${c.start}, ${c.end}) from line ${c.line}`),
    `each chunk: ${plan.copySql}`,
    ...plan.steps.durable.map((s) => `durable: ${s.sql}`),
    ...plan.steps.indexes.map((s) => `index (parallel): ${s.sql}`),
    ...(plan.indexBuilds ?? []).map((b) => `  build ${b.order}: ${b.label}: ${describeBuildSettings(b)}, about ${b.estimatedCpuS.toFixed(1)} CPU s`),
    ...plan.steps.foreignKeys.map((s) => `foreign key: ${s.sql}`),
    `publish: ${publishStep(report)}`,
  ];
  return lines.join('\n');
}

/** `chunks #3-#5 (412 records)`, or `no records` for a file with none. */
function describeChunksOf(chunks: readonly Chunk[], file: string): string {
  const own = chunks.filter((c) => c.file === file);
  if (own.length === 0) return 'no records';
  const records = own.reduce((sum, c) => sum + c.records, 0);
  const span = own.length === 1 ? `chunk #${own[0].index}` : `chunks #${own[0].index}-#${own[own.length - 1].index}`;
  return `${span} (${records} record${records === 1 ? '' : 's'})`;
}

function buildLine(b: IndexBuildReport): [string, string] {
  return [`    ${b.order}. ${b.label}`, `${b.ms === undefined ? '' : `${(b.ms / 1000).toFixed(2)} s, `}${describeBuildSettings(b)}`];
}

/** `maintenance_work_mem 64MB, 1 parallel worker`: what a build's session was given. */
export function describeBuildSettings(build: Pick<IndexBuildReport, 'maintenanceWorkMem' | 'parallelWorkers'>): string {
  const workers = build.parallelWorkers === 0 ? 'no parallel workers' : `${build.parallelWorkers} parallel worker${build.parallelWorkers > 1 ? 's' : ''}`;
  return `maintenance_work_mem ${build.maintenanceWorkMem}, ${workers}`;
}

function publishStep(report: LoadReport): string {
  if (report.strategy.publish === 'create') return `one transaction: rename the stage to ${report.table}, drop its ledger`;
  if (report.strategy.publish === 'swap') return "one transaction: rename the stage into the target's place, carry over constraints, triggers, grants, comments, views and foreign keys, drop the old table";
  return `one transaction: ${report.strategy.truncate ? 'TRUNCATE the target, ' : ''}INSERT INTO the target SELECT FROM the stage, drop the stage`;
}
