/**
 * The incremental record scanner that bad-row isolation reads chunks with: fed in blocks of any size
 * it finds the same records as fed at once, with the server's line counts, and flags line ends of
 * the wrong kind. The window arithmetic of the probe (windowRecordAt) is checked here on hand-made
 * windows, and against a real server in test/integration/line-mapping-server.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { CopyRecordScanner, countCopyRecords, scanCopyRecords, type CopyRecord } from '../../../src/rows/copy-records.ts';
import { windowRecordAt } from '../../../src/rows/isolate-bad-rows.ts';
import type { RecordSyntax } from '../../../src/input/scan/record-syntax.ts';

const CSV: RecordSyntax = { format: 'csv', quote: 0x22, escape: 0x22 };
const CSV_BACKSLASH_ESCAPE: RecordSyntax = { format: 'csv', quote: 0x22, escape: 0x5c };
const TEXT: RecordSyntax = { format: 'text', quote: 0x22, escape: 0x22 };

const inputs: Array<[string, RecordSyntax, string]> = [
  ['csv LF with quoted newlines', CSV, 'h\n"a\nb","c\r\nd"\ne,"f""\ng"\nlast'],
  ['csv CRLF', CSV, 'a\r\n"b\r\nc"\r\nd\r\n'],
  ['csv CR', CSV, 'a\r"b\rc"\rd\r'],
  ['csv a stray CR in an LF file', CSV, '1,a\n2,b\r3,c\n4,d\n'],
  ['csv a bare LF in a CRLF file', CSV, '1,a\r\n2,b\n3,c\r\n'],
  ['csv ESCAPE \\', CSV_BACKSLASH_ESCAPE, 'x\n"a\\"\nb"\nc\n'],
  ['text escaped newlines', TEXT, 'a\\\nb\tc\n\\\\\nd\r\n'],
  ['a quoted CR in the first record', CSV, '"cr\rfirst",1\n"lf\nlater",2\n'],
  ['text: runs of backslashes before line ends', TEXT, 'a\\\\\nb\\\\\\\nc\n\\\\\\\\\nd'],
  ['csv: quotes far apart', CSV, `a,"x\n${'y'.repeat(50)}\n"\n${'b,c\n'.repeat(20)}"z"\n`],
];

const all = (data: Buffer, syntax: RecordSyntax, blockBytes: number): CopyRecord[] => {
  const scanner = new CopyRecordScanner(syntax);
  const records: CopyRecord[] = [];
  const keep = (r: CopyRecord) => {
    records.push(r);
  };
  for (let i = 0; i < data.length; i += blockBytes) scanner.push(data.subarray(i, i + blockBytes), keep);
  scanner.finish(keep);
  return records;
};

describe('CopyRecordScanner', () => {
  it.each(inputs)('%s: the same records however the input is cut into blocks', (_, syntax, text) => {
    const data = Buffer.from(text);
    const whole = scanCopyRecords(data, syntax);
    for (let block = 1; block <= data.length; block++) expect(all(data, syntax, block)).toEqual(whole);
    // The records cover the input without gaps.
    expect(whole.map((r) => [r.start, r.end]).flat()).toEqual([0, ...whole.slice(1).flatMap((r) => [r.start, r.start]), data.length]);
  });

  it.each(inputs)('%s: countCopyRecords (the fast count) agrees, however the input is cut into blocks', (_, syntax, text) => {
    const data = Buffer.from(text);
    const expected = scanCopyRecords(data, syntax).length;
    for (let block = 1; block <= data.length; block++) {
      const blocks: Buffer[] = [];
      for (let i = 0; i < data.length; i += block) blocks.push(data.subarray(i, i + block));
      expect(countCopyRecords(blocks, syntax)).toBe(expected);
    }
  });

  it('counts what the server counts per record: quoted LFs once the line end is LF, quoted CRs in the first', () => {
    expect(scanCopyRecords(Buffer.from('"cr\rfirst",1\n"lf\nlater",2\nz\n'), CSV)).toMatchObject([
      { index: 0, line: 1, serverLine: 2, ownLines: 2, quotedCR: 1 },
      { index: 1, line: 2, serverLine: 4, ownLines: 2, quotedCR: 0 },
      { index: 2, line: 4, serverLine: 5, ownLines: 1, quotedCR: 0 },
    ]);
  });

  it.each<[string, RecordSyntax, string, boolean[]]>([
    ['a bare CR in an LF file', CSV, '1,a\n2,b\r3,c\n4,d\n', [false, true, false]],
    ['a bare LF in a CRLF file', CSV, '1,a\r\n2,b\n3,c\r\n', [false, true, false]],
    ['a CR without LF in a CRLF file', CSV, '1,a\r\n2,\rb\r\n', [false, true]],
    // The LF is refused inside its record, which runs on to the CR: records are those the split scan cuts (at CRs only).
    ['an LF in a CR file', CSV, '1,a\r2,b\n3,c\r', [false, true]],
    ['quoted line ends of any kind are data', CSV, '1,a\n2,"b\rc"\n', [false, false]],
    ['text: an escaped CR is data', TEXT, '1\ta\n2\\\rb\n', [false, false]],
  ])('flags %s', (_, syntax, text, stray) => {
    expect(scanCopyRecords(Buffer.from(text), syntax).map((r) => r.stray)).toEqual(stray);
  });
});

describe('windowRecordAt', () => {
  // Records 0..3 of an LF chunk; record 2 holds a quoted LF and a quoted CR.
  const records = scanCopyRecords(Buffer.from('a,1\nb,2\n"c\nc\rc",3\nd,4\n'), CSV).map((r) => ({ ...r, bytes: Buffer.alloc(0) }));

  it.each([
    // Primed with record 0: the primer is line 1, then every record counts as in the chunk.
    ['primed, the first of the window', records.slice(1), records[0], 2, 0],
    ['primed, a record with a quoted LF', records.slice(1), records[0], 4, 1],
    ['primed, after it', records.slice(1), records[0], 5, 2],
    // Unprimed from record 2: its quoted LF is not counted (the line end is not known yet), its CR is.
    ['unprimed, a first record with quoted newlines', records.slice(2), undefined, 2, 0],
    ['unprimed, the record after it', records.slice(2), undefined, 3, 1],
    ['a line no record ends on', records.slice(1), records[0], 3, -1],
    ['a line past the window', records.slice(1), records[0], 9, -1],
  ])('%s', (_, window, primer, line, expected) => {
    expect(windowRecordAt(window, primer, line)).toBe(expected);
  });
});
