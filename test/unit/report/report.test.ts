/**
 * The human report: psql's `COPY n` first, then aligned label/value lines; and the --dry-run plan.
 */
import { describe, expect, it } from 'vitest';
import type { Strategy } from '../../../src/plan/strategy.ts';
import { formatPlan, formatReport, type LoadReport } from '../../../src/report/report.ts';

const SWAP: Strategy = {
  publish: 'swap',
  loggedStage: false,
  setLoggedBeforeIndexes: true,
  buildIndexesOnStage: true,
  truncate: false,
  reason: 'the target is empty: stage made durable, indexed in parallel sessions, then swapped in (no second copy)',
};

function report(overrides: Partial<LoadReport> = {}): LoadReport {
  return {
    file: 'votes.csv',
    files: ['votes.csv'],
    table: 'public.votes',
    dryRun: false,
    rows: 7_500_000,
    rejected: 0,
    bytes: 250_000_000,
    chunks: 8,
    workers: 2,
    wallMs: 12_500,
    phases: { split: 100, load: 9_000, durable: 1_500, indexes: 1_800, publish: 100 },
    strategy: SWAP,
    columns: ['username', 'link', 'score'],
    defaulted: ['voteid'],
    warnings: [],
    ...overrides,
  };
}

/** The label/value lines: everything after `COPY n`. */
function table(text: string): string[] {
  return text.split('\n').slice(1);
}

/** Column at which each line's value starts: after the label and at least two spaces. */
function valueColumns(lines: string[]): number[] {
  return lines.map((line) => /^\s*\S+(?: [/\S]+)*\s{2,}/.exec(line)![0].length);
}

describe('formatReport', () => {
  it('starts with psql\'s row count line, the count unformatted', () => {
    expect(formatReport(report()).split('\n')[0]).toBe('COPY 7500000');
    expect(formatReport(report({ rows: 0 })).split('\n')[0]).toBe('COPY 0');
  });

  it('aligns every value in one column', () => {
    const lines = table(formatReport(report({ rejected: 3, rejectFile: 'votes.csv.rejects' })));
    expect(lines.length).toBeGreaterThan(10);
    expect(new Set(valueColumns(lines)).size).toBe(1);
  });

  it('gives rows, bytes, time, throughput, workers and chunks, each phase and the strategy', () => {
    const text = formatReport(report());
    for (const line of [
      /^table +public\.votes$/m,
      /^file +votes\.csv$/m,
      /^rows +7,500,000$/m,
      /^bytes +250,000,000 \(250\.0 MB\)$/m,
      /^wall time +12\.50 s$/m,
      /^throughput +600,000 rows\/s, 20\.0 MB\/s$/m,
      /^workers \/ chunks +2 \/ 8$/m,
      /^ {2}split +0\.10 s$/m,
      /^ {2}load +9\.00 s$/m,
      /^ {2}durable +1\.50 s$/m,
      /^ {2}indexes +1\.80 s$/m,
      /^ {2}publish +0\.10 s$/m,
      /^strategy +swap$/m,
      /^why +the target is empty: /m,
    ]) {
      expect(text).toMatch(line);
    }
  });

  it.each([
    [0, undefined, false],
    [1, 'votes.csv.rejects', true],
    [1234, '/tmp/bad.csv', true],
  ])('%d rejected: a rejected line only when rows were set aside', (rejected, rejectFile, shown) => {
    const text = formatReport(report({ rejected, rejectFile }));
    expect(/^rejected /m.test(text)).toBe(shown);
    if (shown) expect(text).toMatch(new RegExp(`^rejected +${rejected.toLocaleString('en-US')} → ${rejectFile}$`, 'm'));
  });

  it('lists the index builds under the phases, in start order, with their time and settings', () => {
    const builds = [
      { label: 'index votes_link_idx', order: 1, maintenanceWorkMem: '64MB', parallelWorkers: 0, estimatedCpuS: 7.7, ms: 8_100 },
      { label: 'index votes_pkey', order: 2, maintenanceWorkMem: '64MB', parallelWorkers: 1, estimatedCpuS: 1.4, ms: 900 },
    ];
    const lines = table(formatReport(report({ indexBuilds: builds })));
    const at = lines.findIndex((l) => l.startsWith('  indexes'));
    expect(lines[at + 1]).toMatch(/^ {4}1\. index votes_link_idx +8\.10 s, maintenance_work_mem 64MB, no parallel workers$/);
    expect(lines[at + 2]).toMatch(/^ {4}2\. index votes_pkey +0\.90 s, maintenance_work_mem 64MB, 1 parallel worker$/);
  });

  it('survives a zero wall time', () => {
    expect(formatReport(report({ wallMs: 0 }))).toMatch(/^wall time +0\.00 s$/m);
  });
});

describe('formatPlan', () => {
  const copySql = 'COPY "public"."ploader_votes_a1b2c3d4" ("username", "link", "score") FROM STDIN (FORMAT csv)';
  const plan: NonNullable<LoadReport['plan']> = {
    stage: '"public"."ploader_votes_a1b2c3d4"',
    copySql,
    chunks: [
      { index: 0, file: 'votes.csv', start: 20, end: 1000, line: 2, firstRecord: 0, records: 38 },
      { index: 1, file: 'votes.csv', start: 1000, end: 2048, line: 40, firstRecord: 38, records: 40 },
    ],
    steps: {
      stage: { schema: 'public', name: 'ploader_votes_a1b2c3d4' },
      targetOid: 16384,
      durable: [{ label: 'SET LOGGED', sql: 'ALTER TABLE "public"."ploader_votes_a1b2c3d4" SET LOGGED' }],
      indexes: [
        { label: 'index votes_pkey', sql: 'CREATE UNIQUE INDEX "ploader_a1b2c3d4_idx0" ON "public"."ploader_votes_a1b2c3d4" (voteid)' },
        { label: 'index votes_link_idx', sql: 'CREATE INDEX "ploader_a1b2c3d4_idx1" ON "public"."ploader_votes_a1b2c3d4" (link)' },
      ],
      foreignKeys: [{ label: 'fk', sql: 'ALTER TABLE "public"."ploader_votes_a1b2c3d4" VALIDATE CONSTRAINT "votes_user_fk"' }],
    },
  };
  const dryRun = (overrides: Partial<LoadReport> = {}) => report({ dryRun: true, rows: 0, bytes: 2048, chunks: 2, plan, ...overrides });

  it('says which columns the file feeds and which defaults fill', () => {
    const text = formatPlan(dryRun());
    expect(text).toMatch(/^columns: username, link, score$/m);
    expect(text).toMatch(/^defaults: voteid \(not in the file: filled by its default\)$/m);
    expect(formatPlan(dryRun({ defaulted: [] }))).not.toMatch(/^defaults:/m);
    expect(formatPlan(dryRun({ defaulted: ['voteid', 'at'] }))).toMatch(/^defaults: voteid, at \(not in the file: filled by their defaults\)$/m);
  });

  it('prints the CREATE TABLE of --create, and its publish by rename', () => {
    const create: Strategy = { publish: 'create', loggedStage: true, setLoggedBeforeIndexes: false, buildIndexesOnStage: false, truncate: false, reason: 'the table does not exist' };
    const createTable = 'CREATE TABLE "public"."votes" ("username" text, "link" text, "score" smallint)';
    const text = formatPlan(dryRun({ strategy: create, defaulted: [], createTable, plan: { ...plan, steps: { ...plan.steps, durable: [], indexes: [], foreignKeys: [] } } }));
    expect(text).toMatch(/^create: CREATE TABLE "public"\."votes" \("username" text, "link" text, "score" smallint\)$/m);
    expect(text).toMatch(/^stage: .* \(LOGGED\)$/m);
    expect(text).toMatch(/^publish: one transaction: rename the stage to public\.votes, drop its ledger$/m);
    expect(formatReport(report({ strategy: create, createTable }))).toMatch(/^created +CREATE TABLE "public"\."votes" /m);
  });

  it('lists every chunk with its byte range and first line', () => {
    const text = formatPlan(dryRun());
    expect(text).toMatch(/^chunks: 2 over 2 workers$/m);
    expect(text).toMatch(/^ {2}#0: bytes \[20, 1000\) from line 2$/m);
    expect(text).toMatch(/^ {2}#1: bytes \[1000, 2048\) from line 40$/m);
  });

  it('gives the SQL of every step, in the order they run', () => {
    const lines = formatPlan(dryRun()).split('\n');
    const expected = [
      `each chunk: ${copySql}`,
      `durable: ${plan.steps.durable[0].sql}`,
      `index (parallel): ${plan.steps.indexes[0].sql}`,
      `index (parallel): ${plan.steps.indexes[1].sql}`,
      `foreign key: ${plan.steps.foreignKeys[0].sql}`,
    ];
    const positions = expected.map((line) => lines.indexOf(line));
    expect(positions.every((p) => p >= 0), positions.join(',')).toBe(true);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  });

  it('says it is a dry run, and names the stage and the strategy', () => {
    const text = formatPlan(dryRun());
    expect(text.split('\n')[0]).toBe('plan for loading votes.csv (2048 bytes) into public.votes — dry run, nothing loaded');
    expect(text).toMatch(/^stage: "public"\."ploader_votes_a1b2c3d4" \(UNLOGGED\)$/m);
    expect(text).toContain(`strategy: swap — ${SWAP.reason}`);
    expect(text).toMatch(/^publish: one transaction: rename the stage into the target's place/m);
  });

  it.each([
    [false, 'publish: one transaction: INSERT INTO the target SELECT FROM the stage, drop the stage'],
    [true, 'publish: one transaction: TRUNCATE the target, INSERT INTO the target SELECT FROM the stage, drop the stage'],
  ])('an insert (truncate %s) says what the publishing transaction does', (truncate, publish) => {
    const strategy: Strategy = { ...SWAP, publish: 'insert', setLoggedBeforeIndexes: false, buildIndexesOnStage: false, truncate };
    const text = formatPlan(dryRun({ strategy, plan: { ...plan, steps: { ...plan.steps, durable: [], indexes: [], foreignKeys: [] } } }));
    expect(text.split('\n').at(-1)).toBe(publish);
    expect(text).not.toMatch(/^(durable|index \(parallel\)|foreign key): /m);
  });

  it('gives the index builds\' schedule: order, settings and estimated CPU', () => {
    const indexBuilds = [{ label: 'index votes_link_idx', order: 1, maintenanceWorkMem: '128MB', parallelWorkers: 1, estimatedCpuS: 7.66 }];
    expect(formatPlan(dryRun({ plan: { ...plan, indexBuilds } })).split('\n')).toContain(
      '  build 1: index votes_link_idx: maintenance_work_mem 128MB, 1 parallel worker, about 7.7 CPU s',
    );
  });

  it('without a plan it is the report', () => {
    expect(formatPlan(report())).toBe(formatReport(report()));
  });
});
