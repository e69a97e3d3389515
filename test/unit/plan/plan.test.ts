/**
 * Planning from a table of inputs: chunk sizes, chunk cuts, the publish strategy and the stage's name,
 * and the chunker end to end on a nasty CSV cut at every chunk size.
 */
import { describe, expect, it } from 'vitest';
import { buildChunks, chunkTargets, concatChunks, defaultChunkBytes, type ChunkRange, type Cut } from '../../../src/plan/chunks.ts';
import { CHUNKS_PER_WORKER, MAX_DEFAULT_CHUNK_BYTES, MIN_DEFAULT_CHUNK_BYTES } from '../../../src/options.ts';
import { chooseStrategy, type StrategyInput } from '../../../src/plan/strategy.ts';
import { stagingTableName } from '../../../src/stage/stage.ts';
import { findRecordStarts, scanRecords } from '../../../src/input/scan/record-boundaries.ts';
import type { RecordSyntax } from '../../../src/input/scan/record-syntax.ts';

const MB = 1 << 20;
const LF = 0x0a;
const CSV: RecordSyntax = { format: 'csv', quote: 0x22, escape: 0x22 };
/** PostgreSQL's NAMEDATALEN - 1: longer identifiers are silently truncated. */
const MAX_IDENTIFIER_BYTES = 63;

describe('defaultChunkBytes', () => {
  it.each([
    ['an empty file gets the floor', 0, 4, MIN_DEFAULT_CHUNK_BYTES],
    ['a small file gets the floor', 10 * MB, 8, MIN_DEFAULT_CHUNK_BYTES],
    ['4 chunks per worker in between', 64 * MB, 2, 8 * MB],
    ['rounds up so 4 × workers chunks cover the file', 64 * MB + 1, 2, 8 * MB + 1],
    ['exactly at the floor', 8 * MB, 2, MIN_DEFAULT_CHUNK_BYTES],
    ['exactly at the ceiling', 512 * MB, 2, MAX_DEFAULT_CHUNK_BYTES],
    ['a huge file gets the ceiling', 100 * 1024 * MB, 2, MAX_DEFAULT_CHUNK_BYTES],
    ['one worker', 40 * MB, 1, 10 * MB],
  ])('%s (%d bytes, %d workers → %d)', (_, dataBytes, workers, expected) => {
    expect(defaultChunkBytes(dataBytes, workers)).toBe(expected);
  });

  it.each([[1], [2], [3], [8], [64]])('gives %d workers 4 chunks each when the size is within bounds', (workers) => {
    const dataBytes = workers * CHUNKS_PER_WORKER * 3 * MB;
    const chunkBytes = defaultChunkBytes(dataBytes, workers);
    expect(Math.ceil(dataBytes / chunkBytes)).toBe(workers * CHUNKS_PER_WORKER);
  });
});

describe('chunkTargets', () => {
  it.each([
    ['every chunkBytes after the data start', 0, 10, 3, [3, 6, 9]],
    ['measured from the data start', 4, 20, 5, [9, 14, 19]],
    ['a target at the end of the file is left out', 0, 9, 3, [3, 6]],
    ['one chunk when chunkBytes covers the file', 0, 10, 10, []],
    ['one chunk when chunkBytes exceeds the file', 0, 10, 1000, []],
    ['empty file', 0, 0, 3, []],
    ['data start at the end of the file', 7, 7, 1, []],
    ['one byte per chunk', 0, 4, 1, [1, 2, 3]],
  ])('%s', (_, dataStart, size, chunkBytes, expected) => {
    expect(chunkTargets(dataStart, size, chunkBytes)).toEqual(expected);
  });
});

describe('buildChunks', () => {
  /** A cut at `offset` on `line` with `records` records before it. */
  const at = (offset: number, line: number, records = line - 1) => ({ offset, line, records });
  const chunk = (start: number, end: number, line: number, firstRecord: number, records: number) => ({ start, end, line, firstRecord, records });

  it.each<[string, Cut, Cut, Cut[], Array<Omit<ChunkRange, 'index'>>]>([
    ['one chunk without starts', at(0, 1), at(10, 4, 3), [], [chunk(0, 10, 1, 0, 3)]],
    ['a chunk per distinct start', at(0, 1), at(10, 4, 3), [at(4, 2), at(7, 3)], [chunk(0, 4, 1, 0, 1), chunk(4, 7, 2, 1, 1), chunk(7, 10, 3, 2, 1)]],
    ['targets that found the same start collapse (a record longer than a chunk)', at(0, 1), at(10, 5, 2), [at(6, 4, 1), at(6, 4, 1), at(6, 4, 1)], [
      chunk(0, 6, 1, 0, 1),
      chunk(6, 10, 4, 1, 1),
    ]],
    ['a start at the data end closes the last chunk', at(0, 1), at(10, 3), [at(5, 2), at(10, 3), at(10, 3)], [chunk(0, 5, 1, 0, 1), chunk(5, 10, 2, 1, 1)]],
    ['header offset: the first chunk starts after the header, whose record is not counted', at(8, 2), at(20, 4), [at(14, 3)], [
      chunk(8, 14, 2, 0, 1),
      chunk(14, 20, 3, 1, 1),
    ]],
    ['a start at the data start is not a second chunk', at(8, 2), at(20, 4), [at(8, 2), at(14, 3)], [chunk(8, 14, 2, 0, 1), chunk(14, 20, 3, 1, 1)]],
    ['starts inside the header are ignored', at(8, 2), at(20, 4), [at(3, 1), at(14, 3)], [chunk(8, 14, 2, 0, 1), chunk(14, 20, 3, 1, 1)]],
    ['an end-of-data marker ends the last chunk before the end of the file', at(0, 1), at(12, 3), [at(6, 2), at(12, 3), at(18, 4)], [
      chunk(0, 6, 1, 0, 1),
      chunk(6, 12, 2, 1, 1),
    ]],
    ['a last record without a line end counts', at(0, 1), at(9, 2, 2), [at(5, 2)], [chunk(0, 5, 1, 0, 1), chunk(5, 9, 2, 1, 1)]],
  ])('%s', (_, dataStart, dataEnd, starts, expected) => {
    expect(buildChunks(dataStart, dataEnd, starts)).toEqual(expected.map((c, index) => ({ index, ...c })));
  });

  it.each([
    ['empty file', at(0, 1), at(0, 1), []],
    ['a header and nothing after it', at(12, 2), at(12, 2), [at(12, 2)]],
    ['a header that is the whole file, without a newline', at(9, 1, 1), at(9, 1, 1), []],
  ])('no chunks for %s', (_, dataStart, dataEnd, starts) => {
    expect(buildChunks(dataStart, dataEnd, starts)).toEqual([]);
  });
});

describe('concatChunks: several files as their concatenation', () => {
  const range = (index: number, start: number, end: number, firstRecord: number, records: number) => ({ index, start, end, line: 1 + firstRecord, firstRecord, records });

  it('numbers chunks on across the files and counts records on from the files before', () => {
    const chunks = concatChunks([
      { file: 'a.csv', chunks: [range(0, 0, 100, 0, 10), range(1, 100, 180, 10, 7)] },
      { file: 'empty.csv', chunks: [] },
      { file: 'b.csv', chunks: [range(0, 20, 90, 0, 5)] },
      { file: 'c.csv', chunks: [range(0, 0, 40, 0, 3), range(1, 40, 70, 3, 2)] },
    ]);
    expect(chunks.map((c) => [c.index, c.file, c.start, c.end, c.firstRecord, c.records])).toEqual([
      [0, 'a.csv', 0, 100, 0, 10],
      [1, 'a.csv', 100, 180, 10, 7],
      [2, 'b.csv', 20, 90, 17, 5],
      [3, 'c.csv', 0, 40, 22, 3],
      [4, 'c.csv', 40, 70, 25, 2],
    ]);
    // Lines stay each file's own.
    expect(chunks[2].line).toBe(1);
  });

  it('one file is its chunks, with the file named', () => {
    const chunks = [range(0, 0, 100, 0, 10)];
    expect(concatChunks([{ file: 'a.csv', chunks }])).toEqual([{ ...chunks[0], file: 'a.csv' }]);
  });
});

describe('chooseStrategy', () => {
  const input = (overrides: Partial<StrategyInput>): StrategyInput => ({
    server: { walLevel: 'replica' },
    targetHasRows: false,
    truncate: false,
    swapBlockers: [],
    ...overrides,
  });

  it('appends with INSERT ... SELECT when the target holds rows and --truncate is not given', () => {
    const strategy = chooseStrategy(input({ targetHasRows: true, swapBlockers: ['the target is partitioned'] }));
    expect(strategy).toMatchObject({ publish: 'insert', loggedStage: false, setLoggedBeforeIndexes: false, buildIndexesOnStage: false, truncate: false });
    expect(strategy.reason).toMatch(/already holds rows/);
    expect(strategy.reason).toMatch(/INSERT \.\.\. SELECT/);
  });

  // An empty target, or one being replaced, would swap but for the blockers.
  it.each([
    [false, false],
    [false, true],
    [true, true],
  ])('inserts when the swap is blocked, naming every blocker (target has rows: %s, truncate: %s)', (targetHasRows, truncate) => {
    const blockers = ['the target has row-level security policies', 'the target is in publication "pub"'];
    const strategy = chooseStrategy(input({ targetHasRows, truncate, swapBlockers: blockers }));
    expect(strategy).toMatchObject({ publish: 'insert', setLoggedBeforeIndexes: false, buildIndexesOnStage: false, truncate });
    for (const blocker of blockers) expect(strategy.reason).toContain(blocker);
  });

  it.each<[StrategyInput['server']['walLevel'], boolean, RegExp]>([
    ['minimal', true, /wal_level=minimal: the stage is LOGGED; SET LOGGED of an UNLOGGED stage writes no WAL here, but its rewrite cost more/],
    ['replica', true, /wal_level=replica: the stage is LOGGED, so the parallel COPYs write the WAL as they go/],
    ['logical', true, /wal_level=logical: the stage is LOGGED/],
  ])('swaps an empty target into a logged stage, giving the reason for wal_level=%s (logged stage: %s)', (walLevel, loggedStage, reason) => {
    const strategy = chooseStrategy(input({ server: { walLevel } }));
    expect(strategy).toEqual({ publish: 'swap', loggedStage, setLoggedBeforeIndexes: !loggedStage, buildIndexesOnStage: true, truncate: false, reason: expect.stringMatching(reason) });
    expect(strategy.reason).toMatch(/^the target is empty/);
  });

  it.each<['logged-stage' | 'set-logged', boolean]>([
    ['logged-stage', true],
    ['set-logged', false],
  ])('durability %s is honoured whatever the wal_level', (durability, loggedStage) => {
    for (const walLevel of ['minimal', 'replica'] as const) {
      const strategy = chooseStrategy(input({ server: { walLevel }, durability }));
      expect(strategy).toMatchObject({ loggedStage, setLoggedBeforeIndexes: !loggedStage });
      expect(strategy.reason).toMatch(new RegExp(`durability forced to ${durability}`));
    }
  });

  it.each([[false], [true]])('carries --truncate into a swap (target has rows: %s)', (targetHasRows) => {
    const strategy = chooseStrategy(input({ targetHasRows, truncate: true }));
    expect(strategy).toMatchObject({ publish: 'swap', loggedStage: true, setLoggedBeforeIndexes: false, truncate: true });
    expect(strategy.reason).toMatch(/^replacing the target/);
  });
});

describe('stagingTableName', () => {
  const RUN_ID = 'a1b2c3d4';

  it.each([
    ['votes', 'ploader_votes_a1b2c3d4'],
    ['Votes', 'ploader_votes_a1b2c3d4'],
    ['My Table', 'ploader_my_table_a1b2c3d4'],
    ['x"; drop table y; --', 'ploader_x_drop_table_y__a1b2c3d4'],
    ['', 'ploader__a1b2c3d4'],
    ['名前', 'ploader___a1b2c3d4'],
  ])('%j → %s', (target, expected) => {
    expect(stagingTableName(target, RUN_ID)).toBe(expected);
  });

  it.each([
    ['a long ASCII name', 'v'.repeat(200)],
    ['a long unicode name', '投票テーブル'.repeat(30)],
    ['a long name of 4-byte characters', '😀'.repeat(100)],
    ['a long hostile name', 'x"; drop table y; --'.repeat(10)],
    ['a name that lowercases to more characters', 'İ'.repeat(100)],
  ])('%s: at most 63 bytes, only [a-z0-9_], recognisably ours', (_, target) => {
    const name = stagingTableName(target, RUN_ID);
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(MAX_IDENTIFIER_BYTES);
    expect(name).toMatch(/^ploader_[a-z0-9_]*_a1b2c3d4$/);
  });

  it('keeps the run id whole, so two runs on one long name never collide', () => {
    const target = 'a'.repeat(100);
    expect(stagingTableName(target, 'aaaa0001')).not.toBe(stagingTableName(target, 'aaaa0002'));
  });
});

/** All record starts the slow and obvious way (CopyReadLineText's CSV rules, ESCAPE == QUOTE), end of input last. */
function referenceRecordStarts(data: Buffer, quote: number): Array<{ offset: number; line: number }> {
  const starts = [{ offset: 0, line: 1 }];
  let inQuotes = false;
  let line = 1;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === quote) inQuotes = !inQuotes;
    if (data[i] === LF) {
      line++;
      if (!inQuotes) starts.push({ offset: i + 1, line });
    }
  }
  if (starts[starts.length - 1].offset !== data.length) starts.push({ offset: data.length, line });
  return starts;
}

/** Plans chunks as split.ts does: header end found by the scanner, targets from the data start. */
function planChunks(data: Buffer, chunkBytes: number, header: boolean): { dataStart: number; chunks: ChunkRange[] } {
  const dataStart = header ? findRecordStarts(data, CSV, [1])[0] : { offset: 0, line: 1, records: 0 };
  const { starts, end } = scanRecords(data, CSV, chunkTargets(dataStart.offset, data.length, chunkBytes));
  return { dataStart: dataStart.offset, chunks: buildChunks(dataStart, end, starts) };
}

describe.each([
  ['quoted LFs, CRLFs, doubled quotes, no final newline', 'id,"note"\r\n1,"a\nb"\n2,"say ""hi""\r\n, ok"\n3,"\n"\n4,plain\n5,"x,\n\n,y"'],
  ['a quoted header, blank lines and a long record', '"h\n1","h2"\n\n1,2\n"' + 'long\n'.repeat(12) + '",3\n\n'],
])('split at every chunk size: %s', (_, text) => {
  const data = Buffer.from(text);
  const reference = referenceRecordStarts(data, CSV.quote);
  const isRecordStart = new Map(reference.map((start) => [start.offset, start.line]));

  it.each([false, true])('header %s: chunks are contiguous, cover the data exactly and begin at record starts', (header) => {
    for (let chunkBytes = 1; chunkBytes <= data.length; chunkBytes++) {
      const { dataStart, chunks } = planChunks(data, chunkBytes, header);
      expect(dataStart).toBe(header ? reference[1].offset : 0);
      expect(chunks.length).toBeGreaterThan(0);
      expect(chunks[0].start).toBe(dataStart);
      expect(chunks[chunks.length - 1].end).toBe(data.length);
      chunks.forEach((chunk, i) => {
        expect(chunk.index).toBe(i);
        expect(chunk.end).toBeGreaterThan(chunk.start);
        if (i > 0) expect(chunk.start).toBe(chunks[i - 1].end);
        expect(isRecordStart.get(chunk.start), `chunk ${i} at ${chunk.start} (chunkBytes ${chunkBytes})`).toBe(chunk.line);
      });
      // Whole records only: the chunks hold exactly the records after the header, each once.
      const records = reference.filter((start) => start.offset >= dataStart && start.offset < data.length);
      const fromChunks = chunks.flatMap((chunk) => records.filter((r) => r.offset >= chunk.start && r.offset < chunk.end));
      expect(fromChunks).toEqual(records);
      // Each chunk's record count and first record number, as the reference numbers them.
      chunks.forEach((chunk) => {
        const inChunk = records.filter((r) => r.offset >= chunk.start && r.offset < chunk.end);
        expect({ firstRecord: chunk.firstRecord, records: chunk.records }).toEqual({ firstRecord: records.indexOf(inChunk[0]), records: inChunk.length });
      });
      expect(Buffer.concat(chunks.map((c) => data.subarray(c.start, c.end)))).toEqual(data.subarray(dataStart));
    }
  });

  it('one byte per chunk gives one chunk per record', () => {
    const { chunks } = planChunks(data, 1, false);
    expect(chunks.map((c) => c.start)).toEqual(reference.slice(0, -1).map((r) => r.offset));
  });
});

describe('chooseStrategy: what must not be swapped or staged', () => {
  const input = (overrides: Partial<StrategyInput>): StrategyInput => ({ server: { walLevel: 'replica' }, targetHasRows: false, truncate: false, swapBlockers: [], ...overrides });

  it('an UNLOGGED target is swapped for an UNLOGGED stage, never made LOGGED', () => {
    expect(chooseStrategy(input({ persistence: 'u' }))).toMatchObject({ publish: 'swap', loggedStage: false, setLoggedBeforeIndexes: false });
  });

  it('a resumed UNLOGGED stage (an interrupted append) is made LOGGED before it replaces a LOGGED target', () => {
    const strategy = chooseStrategy(input({ truncate: true, resumedStageLogged: false }));
    expect(strategy).toMatchObject({ publish: 'swap', loggedStage: false, setLoggedBeforeIndexes: true });
    expect(strategy.reason).toMatch(/the resumed stage is UNLOGGED: SET LOGGED before the index builds/);
  });

  it.each<[Partial<StrategyInput>, RegExp]>([
    [{ firingTriggers: ['audit'] }, /the target has triggers \(audit\) that must fire as one COPY fires them/],
    [{ stageBlocker: "the current user may not create tables in the target's schema, so there can be no stage" }, /may not create tables/],
  ])('loads straight into the target when %o', (overrides, reason) => {
    const strategy = chooseStrategy(input({ ...overrides, targetHasRows: true }));
    expect(strategy.publish).toBe('direct');
    expect(strategy.reason).toMatch(reason);
    expect(strategy.reason).toMatch(/one COPY straight into the target in one transaction, as \\copy would/);
  });

  it('refuses, naming both, what needs a stage where there can be none', () => {
    expect(() => chooseStrategy(input({ firingTriggers: ['audit'], stageNeededFor: '--max-errors' }))).toThrow(/--max-errors needs a staging table, and the target has triggers \(audit\)/);
  });

  it.each<[Partial<StrategyInput>, RegExp]>([
    [{ targetHasRows: true }, /the target already holds rows \(pass --truncate to replace them\)/],
    [{ swapBlockers: ['the target is partitioned'] }, /the target is partitioned/],
    [{ firingTriggers: ['audit'] }, /the target has triggers/],
  ])('--publish swap refuses when it cannot swap: %o', (overrides, reason) => {
    expect(() => chooseStrategy(input({ ...overrides, publish: 'swap' }))).toThrow(reason);
  });

  it.each<Partial<StrategyInput>>([{}, { publish: 'insert' }, { publish: 'swap' }, { durability: 'set-logged' }, { server: { walLevel: 'minimal' } }, { stageNeededFor: '--max-errors' }])(
    'a table to create (--create) has its LOGGED stage renamed, whatever else: %o',
    (overrides) => {
      const strategy = chooseStrategy(input({ ...overrides, creating: true }));
      expect(strategy).toMatchObject({ publish: 'create', loggedStage: true, setLoggedBeforeIndexes: false, buildIndexesOnStage: false, truncate: false });
      expect(strategy.reason).toMatch(/the table does not exist/);
    },
  );

  it('--publish insert never swaps, even an empty target', () => {
    const strategy = chooseStrategy(input({ publish: 'insert' }));
    expect(strategy).toMatchObject({ publish: 'insert', buildIndexesOnStage: false });
    expect(strategy.reason).toMatch(/old snapshots never see them/);
  });
});
