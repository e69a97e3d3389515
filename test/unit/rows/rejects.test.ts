/**
 * Bad-row isolation's pure parts: which record a failed COPY segment stopped at, and global record
 * numbers for the rejects once every chunk has reported.
 */
import { describe, expect, it } from 'vitest';
import type { ServerErrorFields } from '../../../src/errors.ts';
import { simulateServerLines } from '../../../src/rows/line-mapping.ts';
import { findBadRecord, numberRejects, type RejectedRecord } from '../../../src/rows/rejects.ts';
import type { RecordSyntax } from '../../../src/input/scan/record-syntax.ts';
import { SQLSTATE } from '../../../src/db/sqlstate.ts';

const CSV: RecordSyntax = { format: 'csv', quote: 0x22, escape: 0x22 };

/**
 * Four records; the second holds a quoted LF (so its server line is 3), the last has no final newline.
 * offsets 0, 5, 23, 28; physical lines 1, 2, 4, 5; server lines 1, 3, 4, 5.
 */
const SEGMENT = Buffer.from('u1,1\nu2,"multi\nline",1\nu3,x\nu4,1');
const RECORDS = simulateServerLines(SEGMENT, CSV);
const badValue = (line: number): ServerErrorFields => ({
  sqlstate: SQLSTATE.INVALID_TEXT_REPRESENTATION,
  where: `COPY ploader_votes_a1b2c3d4, line ${line}, column score: "x"`,
});

describe('findBadRecord', () => {
  it('the fixture is what its comment says', () => {
    expect(RECORDS).toMatchObject([
      { offset: 0, line: 1, serverLine: 1 },
      { offset: 5, line: 2, serverLine: 3 },
      { offset: 23, line: 4, serverLine: 4 },
      { offset: 28, line: 5, serverLine: 5 },
    ]);
  });

  it.each([
    ['the first record', 1, { index: 0, start: 0, end: 5, line: 1, lineAfter: 2 }],
    ['a record with a quoted newline', 3, { index: 1, start: 5, end: 23, line: 2, lineAfter: 4 }],
    ['the record after it', 4, { index: 2, start: 23, end: 28, line: 4, lineAfter: 5 }],
    // The last record: it ends at the segment's end, and the line after it counts it as one line.
    ['the last record, without a final newline', 5, { index: 3, start: 28, end: 32, line: 5, lineAfter: 5 }],
  ])('%s (server line %d)', (_, line, expected) => {
    const found = findBadRecord(badValue(line), RECORDS, SEGMENT.length);
    expect(found).toEqual({ ...expected, column: 'score' });
    expect(SEGMENT.subarray(found!.start, found!.end).toString()).toBe(SEGMENT.subarray(expected.start, expected.end).toString());
  });

  it('the last record with a final newline ends at the segment end, the next line after it', () => {
    const segment = Buffer.from('a,1\nb,x\n');
    expect(findBadRecord(badValue(2), simulateServerLines(segment, CSV), segment.length)).toEqual({
      index: 1, start: 4, end: 8, line: 2, lineAfter: 3, column: 'score',
    });
  });

  it.each([
    ['unique violation', SQLSTATE.UNIQUE_VIOLATION],
    ['NOT NULL violation', SQLSTATE.NOT_NULL_VIOLATION],
    ['CHECK violation', SQLSTATE.CHECK_VIOLATION],
    ['bad COPY file format', SQLSTATE.BAD_COPY_FILE_FORMAT],
    ['character not in repertoire', SQLSTATE.CHARACTER_NOT_IN_REPERTOIRE],
  ])('a row error (%s) is the row\'s fault', (_, sqlstate) => {
    expect(findBadRecord({ ...badValue(4), sqlstate }, RECORDS, SEGMENT.length)).toMatchObject({ index: 2 });
  });

  it('takes the column from the error fields when the context names none', () => {
    const server = { sqlstate: SQLSTATE.NOT_NULL_VIOLATION, where: 'COPY t, line 4: "u3,x"', column: 'link' };
    expect(findBadRecord(server, RECORDS, SEGMENT.length)).toMatchObject({ index: 2, column: 'link' });
  });

  it.each<[string, ServerErrorFields]>([
    ['query cancelled', { ...badValue(4), sqlstate: SQLSTATE.QUERY_CANCELED }],
    ['server shutting down', { ...badValue(4), sqlstate: SQLSTATE.ADMIN_SHUTDOWN }],
    ['undefined table', { ...badValue(4), sqlstate: SQLSTATE.UNDEFINED_TABLE }],
    ['disk full', { ...badValue(4), sqlstate: '53100' }],
    ['no SQLSTATE', { where: badValue(4).where }],
    ['no context', { sqlstate: SQLSTATE.INVALID_TEXT_REPRESENTATION }],
    ['a context without a COPY line', { sqlstate: SQLSTATE.CHECK_VIOLATION, where: 'PL/pgSQL function f() line 2 at RAISE' }],
    ['a line past the segment', badValue(6)],
    ['line 0', badValue(0)],
  ])('undefined for %s: the load fails whatever --max-errors says', (_, server) => {
    expect(findBadRecord(server, RECORDS, SEGMENT.length)).toBeUndefined();
  });

  // A last record that spans lines: the line after is counted, not assumed to be one more.
  it('lineAfter of a last record that spans lines is the line after its last byte', () => {
    const segment = Buffer.from('a,1\nb,"x\ny",x\n');
    expect(findBadRecord(badValue(3), simulateServerLines(segment, CSV), segment.length)).toMatchObject({ index: 1, line: 2, lineAfter: 4 });
  });
});

describe('numberRejects', () => {
  const reject = (chunk: number, recordInChunk: number, start: number): RejectedRecord => ({
    start,
    end: start + 5,
    line: start + 1,
    chunk,
    recordInChunk,
    message: `bad ${chunk}/${recordInChunk}`,
  });
  // Chunk 0: 3 records, chunk 1: 5, chunk 2: 2 (rows loaded plus rows rejected).
  const recordsPerChunk = new Map([[0, 3], [1, 5], [2, 2]]);

  it.each([
    ['the first record of the first chunk', reject(0, 0, 0), 1],
    ['the last record of the first chunk', reject(0, 2, 20), 3],
    ['the first record of the second chunk', reject(1, 0, 30), 4],
    ['a record inside the second chunk', reject(1, 3, 60), 7],
    ['the last record of the last chunk', reject(2, 1, 95), 10],
  ])('%s is record %d', (_, rejected, record) => {
    expect(numberRejects([rejected], recordsPerChunk)).toEqual([{
      start: rejected.start, end: rejected.end, line: rejected.line, message: rejected.message, record,
    }]);
  });

  it('counts chunks in index order, whatever order they finished in', () => {
    const finishedOutOfOrder = new Map([[2, 2], [0, 3], [1, 5]]);
    expect(numberRejects([reject(2, 0, 90)], finishedOutOfOrder).map((r) => r.record)).toEqual([9]);
  });

  it('orders rejects by file position, not by the order workers reported them', () => {
    const reported = [reject(2, 1, 95), reject(0, 2, 20), reject(1, 3, 60), reject(1, 0, 30)];
    const numbered = numberRejects(reported, recordsPerChunk);
    expect(numbered.map((r) => [r.start, r.record])).toEqual([[20, 3], [30, 4], [60, 7], [95, 10]]);
  });

  it('keeps the column and SQLSTATE, drops the chunk-relative fields', () => {
    const [numbered] = numberRejects([{ ...reject(1, 0, 30), column: 'score', sqlstate: '22P02' }], recordsPerChunk);
    expect(numbered).toEqual({ start: 30, end: 35, line: 31, message: 'bad 1/0', column: 'score', sqlstate: '22P02', record: 4 });
  });

  it('no rejects, no report lines', () => {
    expect(numberRejects([], recordsPerChunk)).toEqual([]);
  });
});
