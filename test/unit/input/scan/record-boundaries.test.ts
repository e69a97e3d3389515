/**
 * The scanner against a statement-by-statement transcription of CopyReadLineText (copy-reference.ts),
 * at every target offset, for every way of cutting the input into blocks, with the end-of-data marker
 * rules of PostgreSQL 15-17 and 18; and its record counts against simulateServerLines.
 */
import { describe, expect, it } from 'vitest';
import { findRecordStarts, RecordBoundaryScanner, scanRecords, type RecordScan } from '../../../../src/input/scan/record-boundaries.ts';
import type { EndMarkerRule, RecordSyntax, ScanRules } from '../../../../src/input/scan/record-syntax.ts';
import { simulateServerLines } from '../../../../src/rows/line-mapping.ts';
import { referenceAnswers, referenceScan } from './copy-reference.ts';

const LF = 0x0a;
const CR = 0x0d;
const BACKSLASH = 0x5c;
const CSV: RecordSyntax = { format: 'csv', quote: 0x22, escape: 0x22 };
const CSV_SINGLE_QUOTE: RecordSyntax = { format: 'csv', quote: 0x27, escape: 0x27 };
const CSV_BACKSLASH_ESCAPE: RecordSyntax = { format: 'csv', quote: 0x22, escape: BACKSLASH };
const TEXT: RecordSyntax = { format: 'text', quote: 0x22, escape: 0x22 };
const BLOCK_SIZES = [1, 2, 3, 7, 64, Infinity];
const SPARSE_TARGETS = 60;

/** The marker rules a format meets: none (the lenient default), before 18, from 18. */
const markerRules = (syntax: RecordSyntax): EndMarkerRule[] => (syntax.format === 'csv' ? ['none', 'csv-line'] : ['none', 'text', 'text-alone']);

/** Pushes `data` in blocks of `blockBytes`, each a view at its own offset, so word alignment varies too. */
function scanInBlocks(data: Buffer, syntax: RecordSyntax, targets: readonly number[], { blockBytes, rules }: { blockBytes: number; rules: ScanRules }): RecordScan {
  const scanner = new RecordBoundaryScanner(syntax, targets, rules);
  for (let offset = 0; offset < data.length && !scanner.done; offset += blockBytes) scanner.push(data.subarray(offset, offset + blockBytes));
  return scanner.finish();
}

const everyOffset = (data: Buffer) => Array.from({ length: data.length + 3 }, (_, i) => i);

/** What the scan must answer: the reference's starts, data end and line ending. */
function expectedScan(data: Buffer, syntax: RecordSyntax, targets: readonly number[], endMarker: EndMarkerRule): RecordScan {
  const reference = referenceScan(data, syntax, endMarker);
  return { starts: referenceAnswers(reference, targets), end: reference.end, lineEnding: reference.lineEnding };
}

const fixtures: [string, RecordSyntax, string][] = [
  ['csv: plain', CSV, 'a,b\nc,d\n'],
  ['csv: quoted LF, CRLF, delimiter and doubled quotes', CSV, '"x\ny",1\r\n"a,b","say ""hi""\r\nok"\r\nlast,"""" \r\n'],
  ['csv: quoted field at start of file', CSV, '"start\n",1\nz\n'],
  ['csv: quoted field at end of file, no final newline', CSV, 'a\n1,"end\nfield"'],
  ['csv: quote in mid-field', CSV, 'ab"c\nd"e,f\ng\n'],
  ['csv: CRLF line endings', CSV, 'a,b\r\nc,d\r\n\r\n'],
  ['csv: CR line endings, quoted LF and CR', CSV, 'h,x\r"a\nb",1\r"c\rd",2\r\r'],
  ['csv: CRLF with quoted bare LFs (as spreadsheets write)', CSV, 'h\r\n"a\nb",1\r\n"c\rd",2\r\n'],
  ['csv: LF, then a stray CR', CSV, 'a\nb\rc\nd\n'],
  ['csv: CRLF, then a bare LF', CSV, 'a\r\nb\nc\r\n'],
  ['csv: CRLF, then a bare CR', CSV, 'a\r\nb\rc\r\n'],
  ['csv: CRLF, then a bare CR before a quote, long enough for the word loop', CSV, `h\r\n${'a,b\r\n'.repeat(20)}b\r"c"\r\n${'d,e\r\n'.repeat(20)}`],
  ['csv: CRLF, a quoted field ending in a bare CR', CSV, `h\r\n${'a,b\r\n'.repeat(20)}"b\r",c\r\n${'d,e\r\n'.repeat(20)}`],
  ['csv: CR, then LF', CSV, 'a\rb\nc\r'],
  ['csv: CR, then CRLF', CSV, 'a\rb\r\nc\r'],
  ['csv: CRLF file ends in a bare CR', CSV, 'a\r\nb\r'],
  ['csv: LF file ends in a CR', CSV, 'a\nb\r'],
  ['csv: no final newline', CSV, 'a\nb'],
  ['csv: empty input', CSV, ''],
  ['csv: single record', CSV, 'only,record\n'],
  ['csv: single record, no newline', CSV, 'only'],
  ['csv: blank lines', CSV, '\n\n\n'],
  ['csv: only a CR', CSV, '\r'],
  ['csv: unbalanced quote runs to the end', CSV, 'a,"b\nc\nd\n'],
  ['csv: \\. mid-file', CSV, 'a\n\\.\nb\n'],
  ['csv: \\. CRLF mid-file', CSV, 'a\r\n\\.\r\nb\r\n'],
  ['csv: \\. in a CR file', CSV, 'a\r\\.\rb\r'],
  ['csv: \\. first line', CSV, '\\.\nb\n'],
  ['csv: \\. first line, CRLF', CSV, '\\.\r\nb\r\n'],
  ['csv: \\. at the end without newline', CSV, 'a\n\\.'],
  ['csv: \\.x and x\\. are data', CSV, 'a\n\\.x\nx\\.\nb\n'],
  ['csv: \\. CRLF in an LF file', CSV, 'a\n\\.\r\nb\n'],
  ['csv: \\. LF in a CRLF file', CSV, 'a\r\n\\.\nb\r\n'],
  ['csv: \\. CR CR in a CRLF file', CSV, 'a\r\n\\.\r\rb\r\n'],
  ['csv: \\. inside quotes', CSV, 'a\n"x\n\\.\n"\nb\n'],
  ['csv: quoted \\.', CSV, 'a\n"\\."\nb\n'],
  ['csv: QUOTE \'', CSV_SINGLE_QUOTE, "'it''s\n',x\n\"not\n\"quoted\n"],
  ['csv: ESCAPE \\ before quote and before escape', CSV_BACKSLASH_ESCAPE, '"a\\"\nb"\n"d\\\\"\ne\n"\\\\\\"\n"\n'],
  ['csv: ESCAPE \\ is ordinary outside quotes', CSV_BACKSLASH_ESCAPE, 'e\\"f\ng"\nh\\\n"x\\\n"\n'],
  ['csv: ESCAPE \\ with doubled quotes', CSV_BACKSLASH_ESCAPE, '"a""\nb"\n"""\n'],
  ['csv: ESCAPE \\ and a \\. line', CSV_BACKSLASH_ESCAPE, 'a\n\\.\n"\\.\n"\n'],
  ['csv: multibyte UTF-8', CSV, '名前,"東京\n大阪"\n€,😀\n"ü""\nß",é\n'],
  ['text: tabs and newlines', TEXT, 'a\tb\nc\td\n'],
  ['text: \\ + LF is an escaped newline', TEXT, 'a\\\nb\nc\n'],
  ['text: \\\\ + LF ends the record', TEXT, 'a\\\\\nb\n'],
  ['text: \\\\\\ + LF is an escaped newline', TEXT, 'a\\\\\\\nb\n'],
  ['text: \\ + CR LF escapes only the CR', TEXT, 'a\\\r\nb\r\n'],
  ['text: \\ + CR in an LF file', TEXT, 'a\nb\\\rc\n'],
  ['text: CR LF, then \\ + CR LF (the LF is then alone)', TEXT, 'a\r\nb\r\nx\\\r\nc\r\n'],
  ['text: CR LF, then \\\\ + CR LF (an escaped backslash)', TEXT, 'a\r\nb\r\nx\\\\\r\nc\r\n'],
  ['text: CR line endings', TEXT, 'a\rb\\\rc\rd\r'],
  ['text: LF then CRLF', TEXT, 'a\nb\r\nc\n'],
  ['text: backslash runs at start and end', TEXT, '\\\n\\\\\n\\'],
  ['text: quotes mean nothing', TEXT, '"a\nb"\n'],
  ['text: \\. mid-file', TEXT, 'a\n\\.\nb\n'],
  ['text: \\. CRLF mid-file', TEXT, 'a\r\n\\.\r\nb\r\n'],
  ['text: \\. in a CR file', TEXT, 'a\r\\.\rb\r'],
  ['text: \\. first line', TEXT, '\\.\nb\n'],
  ['text: \\. at the end without newline', TEXT, 'a\n\\.'],
  ['text: \\.x', TEXT, 'a\n\\.x\nb\n'],
  ['text: data before \\.', TEXT, 'a\nx\\.\nb\n'],
  ['text: \\\\. is data', TEXT, 'a\n\\\\.\nb\n'],
  ['text: \\. CRLF in an LF file', TEXT, 'a\n\\.\r\nb\n'],
  ['text: \\. LF in a CRLF file', TEXT, 'a\r\n\\.\nb\r\n'],
  ['text: \\. LF in a CR file', TEXT, 'a\r\\.\nb\r'],
  ['text: \\. CR x in a CRLF file', TEXT, 'a\r\n\\.\rx\r\n'],
  ['text: \\. after an escaped newline', TEXT, 'a\\\n\\.\nb\n'],
  ['text: multibyte UTF-8', TEXT, 'ü\\\nß\n名\t😀\n'],
];

describe('scanRecords on hand-checked inputs', () => {
  it.each<[string, RecordSyntax, string, EndMarkerRule, Partial<RecordScan>]>([
    ['csv: records and lines', CSV, 'h\n"a\nb"\nc', 'none', { end: { offset: 9, line: 4, records: 3 }, lineEnding: 'lf' }],
    ['csv CR: lines count CRs', CSV, 'h\r"a\rb"\rc\r', 'none', { end: { offset: 10, line: 5, records: 3 }, lineEnding: 'cr' }],
    ['csv CRLF', CSV, 'h\r\na\r\n', 'none', { end: { offset: 6, line: 3, records: 2 }, lineEnding: 'crlf' }],
    ['csv 15: \\. ends the data', CSV, 'a\n\\.\nb\n', 'csv-line', { end: { offset: 2, line: 2, records: 1, marker: { line: 2, end: 5 } } }],
    ['csv 18: \\. is data', CSV, 'a\n\\.\nb\n', 'none', { end: { offset: 7, line: 4, records: 3 } }],
    ['text 15: the data before \\. is a record', TEXT, 'a\nx\\.\nb\n', 'text', { end: { offset: 3, line: 2, records: 2, marker: { line: 2, end: 6 } } }],
  ])('%s', (_, syntax, input, endMarker, expected) => {
    expect(scanRecords(Buffer.from(input), syntax, [], { endMarker, strict: false })).toMatchObject(expected);
  });

  it('cuts a CR-only file at its CRs', () => {
    expect(findRecordStarts(Buffer.from('h\ra\rb\r'), CSV, [1, 3, 5])).toEqual([
      { offset: 2, line: 2, records: 1 },
      { offset: 4, line: 3, records: 2 },
      { offset: 6, line: 4, records: 3 },
    ]);
  });
});

describe.each(fixtures)('%s', (_, syntax, input) => {
  const data = Buffer.from(input);
  const targets = everyOffset(data);

  describe.each(markerRules(syntax))('markers %s', (endMarker) => {
    const rules: ScanRules = { endMarker, strict: false };
    const expected = expectedScan(data, syntax, targets, endMarker);

    it.each(BLOCK_SIZES)('matches the reference at every offset, pushed in blocks of %d bytes', (blockBytes) => {
      expect(scanInBlocks(data, syntax, targets, { blockBytes, rules })).toEqual(expected);
    });

    it('matches the reference for each target alone', () => {
      for (const target of targets) expect(scanRecords(data, syntax, [target], rules).starts).toEqual([expected.starts[target]]);
    });

    it('fails strictly exactly where one COPY would, naming the line', () => {
      const problem = referenceScan(data, syntax, endMarker).problems[0];
      const strict = { ...rules, strict: true, file: 'in.csv' };
      if (!problem) {
        expect(scanInBlocks(data, syntax, targets, { blockBytes: 1, rules: strict })).toEqual(expected);
        expect(scanInBlocks(data, syntax, [], { blockBytes: Infinity, rules: strict }).end).toEqual(expected.end);
        return;
      }
      // Every target, and none at all: long spans take the word loops.
      for (const [some, blockBytes] of [[targets, 1], [targets, Infinity], [[], Infinity], [[], 100]] as const) {
        expect(() => scanInBlocks(data, syntax, some, { blockBytes, rules: strict })).toThrow(
          expect.objectContaining({ code: 'BAD_ROW', position: { file: 'in.csv', line: problem.line, record: problem.records + 1 } }),
        );
      }
    });
  });

  it('cuts into chunks that are whole UTF-8 text and concatenate to the data', () => {
    const { starts, end } = expectedScan(data, syntax, targets, 'none');
    const offsets = [...new Set(starts.map((start) => start.offset))];
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const chunks = offsets.map((offset, i) => decoder.decode(data.subarray(offset, offsets[i + 1] ?? end.offset)));
    expect(chunks.join('')).toBe(input);
  });

  it('counts the records simulateServerLines finds in the whole input', () => {
    const records = simulateServerLines(data, syntax);
    const scan = scanRecords(data, syntax, records.map((r) => r.offset));
    expect(scan.end.records).toBe(records.length);
    expect(scan.starts.map((s) => [s.offset, s.records, s.line])).toEqual(records.map((r, i) => [r.offset, i, r.line]));
  });
});

/** mulberry32: small, seedable, and the same sequence on every machine. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Records of fields drawn from an alphabet heavy in every byte the scanner cares about; `quoteShare`
 * is the chance that a field is quoted and that a character is a bare quote. `lineEnds` are drawn
 * from for each record's end; `dotShare` is the chance of a `\.` line. */
function randomInput(seed: number, syntax: RecordSyntax, bytes: number, quoteShare: number, lineEnds: string[], dotShare = 0): Buffer {
  const random = seededRandom(seed);
  const quote = String.fromCharCode(syntax.quote);
  const escape = String.fromCharCode(syntax.escape);
  const others = [escape, '\n', '\r', '\r\n', ',', '\t', '\\', '\\\\', '\\.', '.', 'é', '😀', 'ab', 'xyz'].filter((s) => s !== quote);
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)];
  const char = () => (random() < quoteShare ? pick([quote, quote + quote]) : pick(others));
  const field = () => {
    const body = Array.from({ length: Math.floor(random() * 6) }, char).join('');
    return random() < quoteShare ? quote + body + quote : body;
  };
  const records: string[] = [];
  for (let length = 0; length < bytes; length += Buffer.byteLength(records[records.length - 1])) {
    const fields = Array.from({ length: 1 + Math.floor(random() * 4) }, field);
    records.push((random() < dotShare ? '\\.' : fields.join(',')) + pick(lineEnds));
  }
  return Buffer.from(records.join(''));
}

const DENSE_QUOTES = 0.4;
const SPARSE_QUOTES = 0.003;
/** Line ends as a file of each style has them, with now and then one of another style, or none. */
const LINE_END_MIXES: Array<[string, string[]]> = [
  ['LF', ['\n', '\n', '\n', '\n', '\r\n', '']],
  ['CR LF', ['\r\n', '\r\n', '\r\n', '\n', '']],
  ['CR', ['\r', '\r', '\r', '\n', '']],
];

describe.each([
  ['csv', CSV],
  ["csv QUOTE '", CSV_SINGLE_QUOTE],
  ['csv ESCAPE \\', CSV_BACKSLASH_ESCAPE],
  ['text', TEXT],
])('random %s input', (_, syntax) => {
  describe.each(LINE_END_MIXES)('%s line ends', (__, lineEnds) => {
    it.each([1, 2, 3])('seed %d: matches the reference at every offset and block size, for every marker rule', (seed) => {
      const data = randomInput(seed, syntax, 1500 + seed * 500, DENSE_QUOTES, lineEnds, 0.01);
      const targets = everyOffset(data);
      for (const endMarker of markerRules(syntax)) {
        const expected = expectedScan(data, syntax, targets, endMarker);
        for (const blockBytes of [...BLOCK_SIZES, 1000]) {
          expect(scanInBlocks(data, syntax, targets, { blockBytes, rules: { endMarker, strict: false } })).toEqual(expected);
        }
        // Strict: the first problem one COPY would meet, wherever the targets and blocks fall.
        const problem = referenceScan(data, syntax, endMarker).problems[0];
        for (const [sparse, blockBytes] of [[1, 1], [97, 1000], [97, Infinity], [Infinity, Infinity]]) {
          const some = targets.filter((t) => t % sparse === 0 && sparse !== Infinity);
          const strict = () => scanInBlocks(data, syntax, some, { blockBytes, rules: { endMarker, strict: true, file: 'f' } });
          if (problem) expect(strict).toThrow(expect.objectContaining({ position: { file: 'f', line: problem.line, record: problem.records + 1 } }));
          else expect(strict).not.toThrow();
        }
      }
    });
  });

  // Sparse targets leave long spans between them, which run the word-at-a-time counting paths.
  it.each([
    [7, DENSE_QUOTES, '\n'],
    [8, SPARSE_QUOTES, '\n'],
    [9, 0, '\n'],
    [10, DENSE_QUOTES, '\r\n'],
    [11, SPARSE_QUOTES, '\r\n'],
    [12, 0, '\r'],
  ])('seed %d (quote share %d): long input with sparse targets, at every alignment', (seed, quoteShare, lineEnd) => {
    const data = randomInput(seed, syntax, 200_000, quoteShare, [lineEnd]);
    // Quadratic spacing: gaps from a few bytes up to several KiB, the last target past the end.
    const targets = Array.from({ length: SPARSE_TARGETS }, (_, i) => Math.floor(((i / (SPARSE_TARGETS - 2)) ** 2) * data.length));
    for (const endMarker of markerRules(syntax)) {
      const expected = expectedScan(data, syntax, targets, endMarker);
      for (const misalignment of [0, 1, 2, 3]) {
        const shifted = Buffer.alloc(data.length + misalignment);
        data.copy(shifted, misalignment);
        const view = shifted.subarray(misalignment);
        for (const blockBytes of [Infinity, 65_536, 4097, 64, 63]) {
          expect(scanInBlocks(view, syntax, targets, { blockBytes, rules: { endMarker, strict: false } })).toEqual(expected);
        }
      }
    }
  });
});

describe('RecordBoundaryScanner contract', () => {
  it.each<[string, RecordSyntax, number[], RegExp]>([
    ['descending targets', CSV, [5, 3], /ascending non-negative integers, got 3 at index 1/],
    ['a negative target', CSV, [-1], /got -1 at index 0/],
    ['a fractional target', CSV, [1.5], /got 1.5 at index 0/],
    ['a quote that is not a byte', { ...CSV, quote: 300 }, [0], /syntax.quote to be a byte .* got 300/],
    ['LF as the escape', { ...CSV, escape: LF }, [0], /syntax.escape to be a byte \(0-255\) other than LF and CR, got 10/],
    ['CR as the quote', { ...CSV, quote: CR }, [0], /syntax.quote to be a byte \(0-255\) other than LF and CR, got 13/],
    ['an unknown format', { ...CSV, format: 'binary' as 'csv' }, [0], /syntax.format to be 'csv' or 'text', got "binary"/],
  ])('rejects %s', (_, syntax, targets, message) => {
    expect(() => new RecordBoundaryScanner(syntax, targets)).toThrow(message);
  });

  it('accepts repeated targets and answers each', () => {
    expect(findRecordStarts(Buffer.from('ab\ncd\n'), CSV, [1, 1, 3, 3, 4])).toEqual([
      { offset: 3, line: 2, records: 1 },
      { offset: 3, line: 2, records: 1 },
      { offset: 3, line: 2, records: 1 },
      { offset: 3, line: 2, records: 1 },
      { offset: 6, line: 3, records: 2 },
    ]);
  });

  it('reports when an end-of-data marker makes the rest unneeded', () => {
    const scanner = new RecordBoundaryScanner(TEXT, [0, 2], { endMarker: 'text', strict: true });
    scanner.push(Buffer.from('a\n\\.\n'));
    expect(scanner.done).toBe(true);
    expect(scanner.finish().end).toEqual({ offset: 2, line: 2, records: 1, marker: { line: 2, end: 5 } });
  });

  it('refuses blocks after finish()', () => {
    const scanner = new RecordBoundaryScanner(TEXT, [1]);
    scanner.finish();
    expect(() => scanner.push(Buffer.from('a\n'))).toThrow(/after finish/);
  });
});
