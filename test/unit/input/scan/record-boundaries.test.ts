/**
 * The scanner against a byte-at-a-time reference that follows CopyReadLineText literally, at every
 * target offset and for every way of cutting the input into blocks.
 */
import { describe, expect, it } from 'vitest';
import { findRecordStarts, RecordBoundaryScanner, type RecordStart } from '../../../../src/input/scan/record-boundaries.ts';
import type { RecordSyntax } from '../../../../src/input/scan/record-syntax.ts';

const LF = 0x0a;
const BACKSLASH = 0x5c;
const CSV: RecordSyntax = { format: 'csv', quote: 0x22, escape: 0x22 };
const CSV_SINGLE_QUOTE: RecordSyntax = { format: 'csv', quote: 0x27, escape: 0x27 };
const CSV_BACKSLASH_ESCAPE: RecordSyntax = { format: 'csv', quote: 0x22, escape: BACKSLASH };
const TEXT: RecordSyntax = { format: 'text', quote: 0x22, escape: 0x22 };
const BLOCK_SIZES = [1, 2, 3, 7, 64, Infinity];
const SPARSE_TARGETS = 60;

/** All record starts, found the slow and obvious way; the last entry is the end of input. */
function referenceRecordStarts(data: Buffer, syntax: RecordSyntax): RecordStart[] {
  const starts: RecordStart[] = [{ offset: 0, line: 1 }];
  // As in PostgreSQL: an ESCAPE equal to QUOTE is no escape at all, the quote just toggles.
  const escape = syntax.escape === syntax.quote ? -1 : syntax.escape;
  let line = 1;
  let inQuotes = false;
  let afterEscape = false;
  let backslashed = false;
  for (let i = 0; i < data.length; i++) {
    const byte = data[i];
    let endsRecord = byte === LF;
    if (syntax.format === 'csv') {
      if (inQuotes && byte === escape) afterEscape = !afterEscape;
      if (byte === syntax.quote && !afterEscape) inQuotes = !inQuotes;
      if (byte !== escape) afterEscape = false;
      endsRecord &&= !inQuotes;
    } else if (backslashed) {
      backslashed = false;
      endsRecord = false;
    } else {
      backslashed = byte === BACKSLASH;
    }
    if (byte === LF) line++;
    if (endsRecord) starts.push({ offset: i + 1, line });
  }
  starts.push({ offset: data.length, line });
  return starts;
}

function referenceAnswers(data: Buffer, syntax: RecordSyntax, targets: readonly number[]): RecordStart[] {
  const starts = referenceRecordStarts(data, syntax);
  return targets.map((target) => starts.find((start) => start.offset >= target) ?? starts[starts.length - 1]);
}

/** Pushes `data` in blocks of `blockBytes`, each a view at its own offset, so word alignment varies too. */
function scanInBlocks(data: Buffer, syntax: RecordSyntax, targets: readonly number[], blockBytes: number): RecordStart[] {
  const scanner = new RecordBoundaryScanner(syntax, targets);
  for (let offset = 0; offset < data.length; offset += blockBytes) scanner.push(data.subarray(offset, offset + blockBytes));
  return scanner.finish();
}

const everyOffset = (data: Buffer) => Array.from({ length: data.length + 3 }, (_, i) => i);

const fixtures: [string, RecordSyntax, string][] = [
  ['csv: plain', CSV, 'a,b\nc,d\n'],
  ['csv: quoted LF, CRLF, delimiter and doubled quotes', CSV, '"x\ny",1\r\n"a,b","say ""hi""\r\nok"\r\nlast,"""" \n'],
  ['csv: quoted field at start of file', CSV, '"start\n",1\nz\n'],
  ['csv: quoted field at end of file, no final newline', CSV, 'a\n1,"end\nfield"'],
  ['csv: quote in mid-field', CSV, 'ab"c\nd"e,f\ng\n'],
  ['csv: CRLF line endings', CSV, 'a,b\r\nc,d\r\n\r\n'],
  ['csv: no final newline', CSV, 'a\nb'],
  ['csv: empty input', CSV, ''],
  ['csv: single record', CSV, 'only,record\n'],
  ['csv: single record, no newline', CSV, 'only'],
  ['csv: blank lines', CSV, '\n\n\n'],
  ['csv: unbalanced quote runs to the end', CSV, 'a,"b\nc\nd\n'],
  ['csv: QUOTE \'', CSV_SINGLE_QUOTE, "'it''s\n',x\n\"not\n\"quoted\n"],
  ['csv: ESCAPE \\ before quote and before escape', CSV_BACKSLASH_ESCAPE, '"a\\"\nb"\n"d\\\\"\ne\n"\\\\\\"\n"\n'],
  ['csv: ESCAPE \\ is ordinary outside quotes', CSV_BACKSLASH_ESCAPE, 'e\\"f\ng"\nh\\\n"x\\\n"\n'],
  ['csv: ESCAPE \\ with doubled quotes', CSV_BACKSLASH_ESCAPE, '"a""\nb"\n"""\n'],
  ['csv: multibyte UTF-8', CSV, '名前,"東京\n大阪"\n€,😀\n"ü""\nß",é\n'],
  ['text: tabs and newlines', TEXT, 'a\tb\nc\td\n'],
  ['text: \\ + LF is an escaped newline', TEXT, 'a\\\nb\nc\n'],
  ['text: \\\\ + LF ends the record', TEXT, 'a\\\\\nb\n'],
  ['text: \\\\\\ + LF is an escaped newline', TEXT, 'a\\\\\\\nb\n'],
  ['text: \\ + CR LF escapes only the CR', TEXT, 'a\\\r\nb\r\n'],
  ['text: backslash runs at start and end', TEXT, '\\\n\\\\\n\\'],
  ['text: quotes mean nothing', TEXT, '"a\nb"\n'],
  ['text: multibyte UTF-8', TEXT, 'ü\\\nß\n名\t😀\n'],
];

describe('findRecordStarts on hand-checked inputs', () => {
  it.each<[string, RecordSyntax, string, number, RecordStart]>([
    ['csv: LF inside quotes is data', CSV, '"a\nb"\nc\n', 1, { offset: 6, line: 3 }],
    ['csv: doubled quote stays inside quotes', CSV, '"a""\nb"\nc\n', 1, { offset: 8, line: 3 }],
    ['csv: quote in mid-field opens quotes', CSV, 'ab"c\nd"e\nf\n', 1, { offset: 9, line: 3 }],
    ['csv: a target just after a record end is a start', CSV, 'a\nb\n', 2, { offset: 2, line: 2 }],
    ['csv: target 0 is always a start', CSV, '"\n', 0, { offset: 0, line: 1 }],
    ['csv: no start after the target gives the end of input', CSV, 'a\n"b\nc', 3, { offset: 6, line: 3 }],
    ['csv: CRLF ends a record after the LF', CSV, 'a\r\nb\r\n', 1, { offset: 3, line: 2 }],
    ['csv QUOTE \': the double quote is ordinary', CSV_SINGLE_QUOTE, '"a\nb"\n', 1, { offset: 3, line: 2 }],
    ['csv QUOTE \': quoted LF is data', CSV_SINGLE_QUOTE, "'a\nb'\nc", 1, { offset: 6, line: 3 }],
    ['csv ESCAPE \\: \\" stays inside quotes', CSV_BACKSLASH_ESCAPE, '"a\\"\nb"\nc', 1, { offset: 8, line: 3 }],
    ['csv ESCAPE \\: \\\\ then the quote closes', CSV_BACKSLASH_ESCAPE, '"a\\\\"\nb\n', 1, { offset: 6, line: 2 }],
    ['csv ESCAPE \\: ordinary outside quotes', CSV_BACKSLASH_ESCAPE, 'a\\"b\nc"\nd\n', 1, { offset: 8, line: 3 }],
    ['text: \\ + LF is data', TEXT, 'a\\\nb\nc', 1, { offset: 5, line: 3 }],
    ['text: \\\\ + LF ends the record', TEXT, 'a\\\\\nb\n', 1, { offset: 4, line: 2 }],
    ['text: \\\\\\ + LF is data', TEXT, 'a\\\\\\\nb\n', 1, { offset: 7, line: 3 }],
    ['text: quotes mean nothing', TEXT, '"a\nb"\n', 1, { offset: 3, line: 2 }],
    ['empty input, target 0', CSV, '', 0, { offset: 0, line: 1 }],
    ['empty input, target past the end', TEXT, '', 10, { offset: 0, line: 1 }],
    ['target past the end', CSV, 'a\nb\n', 99, { offset: 4, line: 3 }],
    // Long LF runs fill every byte lane of the word-at-a-time LF counters.
    ['csv: thousands of blank lines', CSV, '\n'.repeat(5000) + 'a', 4000, { offset: 4000, line: 4001 }],
    ['csv: thousands of quoted LFs', CSV, `"${'\n'.repeat(5000)}"\nb`, 5002, { offset: 5003, line: 5002 }],
    ['text: thousands of escaped LFs', TEXT, `a${'\\\n'.repeat(5000)}\nb`, 10_001, { offset: 10_002, line: 5002 }],
  ])('%s', (_, syntax, input, target, expected) => {
    const data = Buffer.from(input);
    expect(findRecordStarts(data, syntax, [target])).toEqual([expected]);
    expect(referenceAnswers(data, syntax, [target])).toEqual([expected]);
  });
});

describe.each(fixtures)('%s', (_, syntax, input) => {
  const data = Buffer.from(input);
  const targets = everyOffset(data);
  const expected = referenceAnswers(data, syntax, targets);

  it.each(BLOCK_SIZES)('matches the reference at every offset, pushed in blocks of %d bytes', (blockBytes) => {
    expect(scanInBlocks(data, syntax, targets, blockBytes)).toEqual(expected);
  });

  it('matches the reference for each target alone', () => {
    for (const target of targets) expect(findRecordStarts(data, syntax, [target])).toEqual([expected[target]]);
  });

  it('cuts into chunks that are whole UTF-8 text and concatenate to the input', () => {
    const offsets = [...new Set(expected.map((start) => start.offset))];
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const chunks = offsets.map((offset, i) => decoder.decode(data.subarray(offset, offsets[i + 1] ?? data.length)));
    expect(chunks.join('')).toBe(input);
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
 * is the chance that a field is quoted and that a character is a bare quote. */
function randomInput(seed: number, syntax: RecordSyntax, bytes: number, quoteShare: number): Buffer {
  const random = seededRandom(seed);
  const quote = String.fromCharCode(syntax.quote);
  const escape = String.fromCharCode(syntax.escape);
  const others = [escape, '\n', '\r', ',', '\t', '\\', '\\\\', 'é', '😀', 'ab', 'xyz'].filter((s) => s !== quote);
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)];
  const char = () => (random() < quoteShare ? pick([quote, quote + quote]) : pick(others));
  const field = () => {
    const body = Array.from({ length: Math.floor(random() * 6) }, char).join('');
    return random() < quoteShare ? quote + body + quote : body;
  };
  const records: string[] = [];
  for (let length = 0; length < bytes; length += Buffer.byteLength(records[records.length - 1])) {
    const fields = Array.from({ length: 1 + Math.floor(random() * 4) }, field);
    records.push(fields.join(',') + pick(['\n', '\n', '\r\n', '']));
  }
  return Buffer.from(records.join(''));
}

const DENSE_QUOTES = 0.4;
const SPARSE_QUOTES = 0.003;

describe.each([
  ['csv', CSV],
  ["csv QUOTE '", CSV_SINGLE_QUOTE],
  ['csv ESCAPE \\', CSV_BACKSLASH_ESCAPE],
  ['text', TEXT],
])('random %s input', (_, syntax) => {
  it.each([1, 2, 3, 4, 5, 6])('seed %d: matches the reference at every offset and block size', (seed) => {
    const data = randomInput(seed, syntax, 2000 + seed * 500, DENSE_QUOTES);
    const targets = everyOffset(data);
    const expected = referenceAnswers(data, syntax, targets);
    for (const blockBytes of [...BLOCK_SIZES, 1000]) expect(scanInBlocks(data, syntax, targets, blockBytes)).toEqual(expected);
  });

  // Sparse targets leave long spans between them, which run the word-at-a-time counting paths.
  it.each([
    [7, DENSE_QUOTES],
    [8, SPARSE_QUOTES],
    [9, 0],
  ])('seed %d (quote share %d): long input with sparse targets, at every alignment', (seed, quoteShare) => {
    const data = randomInput(seed, syntax, 200_000, quoteShare);
    // Quadratic spacing: gaps from a few bytes up to several KiB, the last target past the end.
    const targets = Array.from({ length: SPARSE_TARGETS }, (_, i) => Math.floor(((i / (SPARSE_TARGETS - 2)) ** 2) * data.length));
    const expected = referenceAnswers(data, syntax, targets);
    for (const misalignment of [0, 1, 2, 3]) {
      const shifted = Buffer.alloc(data.length + misalignment);
      data.copy(shifted, misalignment);
      const view = shifted.subarray(misalignment);
      for (const blockBytes of [Infinity, 65_536, 4097, 64, 63]) {
        expect(scanInBlocks(view, syntax, targets, blockBytes)).toEqual(expected);
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
    ['LF as the escape', { ...CSV, escape: LF }, [0], /syntax.escape to be a byte \(0-255\) other than LF, got 10/],
    ['an unknown format', { ...CSV, format: 'binary' as 'csv' }, [0], /syntax.format to be 'csv' or 'text', got "binary"/],
  ])('rejects %s', (_, syntax, targets, message) => {
    expect(() => new RecordBoundaryScanner(syntax, targets)).toThrow(message);
  });

  it('accepts repeated targets and answers each', () => {
    expect(findRecordStarts(Buffer.from('ab\ncd\n'), CSV, [1, 1, 3, 3, 4])).toEqual([
      { offset: 3, line: 2 },
      { offset: 3, line: 2 },
      { offset: 3, line: 2 },
      { offset: 3, line: 2 },
      { offset: 6, line: 3 },
    ]);
  });

  it('reports when every target has its start, so the rest need not be read', () => {
    const scanner = new RecordBoundaryScanner(CSV, [0, 2]);
    scanner.push(Buffer.from('a\n'));
    expect(scanner.allTargetsFound).toBe(true);
    expect(scanner.finish()).toEqual([
      { offset: 0, line: 1 },
      { offset: 2, line: 2 },
    ]);
  });

  it('refuses blocks after finish()', () => {
    const scanner = new RecordBoundaryScanner(TEXT, [1]);
    scanner.finish();
    expect(() => scanner.push(Buffer.from('a\n'))).toThrow(/after finish/);
  });
});
