/**
 * The server's COPY line counter, simulated on hand-checked inputs, and the one reader of CONTEXT text.
 * test/integration/line-mapping-server.test.ts checks the same simulation against a real server.
 */
import { describe, expect, it } from 'vitest';
import { parseCopyContext, parseSkipNotice, simulateServerLines, type RecordLocation } from '../../../src/rows/line-mapping.ts';
import type { RecordSyntax } from '../../../src/input/scan/record-syntax.ts';

const CSV: RecordSyntax = { format: 'csv', quote: 0x22, escape: 0x22 };
const CSV_BACKSLASH_ESCAPE: RecordSyntax = { format: 'csv', quote: 0x22, escape: 0x5c };
const TEXT: RecordSyntax = { format: 'text', quote: 0x22, escape: 0x22 };

/** [offset, physical line, server line] per record, to keep the table readable. */
type Expected = Array<[number, number, number]>;
const locations = (expected: Expected): Array<Omit<RecordLocation, 'nextLine'>> =>
  expected.map(([offset, line, serverLine]) => ({ offset, line, serverLine }));

describe('simulateServerLines', () => {
  it('gives each record the line after its last byte', () => {
    expect(simulateServerLines(Buffer.from('a\n"b\nc"\nd'), CSV).map((r) => r.nextLine)).toEqual([2, 4, 4]);
  });

  it.each<[string, RecordSyntax, string, Expected]>([
    ['csv: one line per record', CSV, 'a\nb\nc\n', [[0, 1, 1], [2, 2, 2], [4, 3, 3]]],
    ['csv: no final newline', CSV, 'a\nb', [[0, 1, 1], [2, 2, 2]]],
    ['csv: empty input', CSV, '', []],
    ['csv: blank lines are records', CSV, '\n\na\n', [[0, 1, 1], [1, 2, 2], [2, 3, 3]]],
    // The line ending is unknown until the first unquoted one, and until then the server counts quoted CRs.
    ['csv: a quoted LF in the first record is not counted', CSV, '"a\nb"\nc\n', [[0, 1, 1], [6, 3, 2]]],
    ['csv: a quoted CR in the first record is counted', CSV, '"a\rb",1\nc\n', [[0, 1, 2], [8, 2, 3]]],
    ['csv: a quoted LF in a later record is counted', CSV, 'a\n"b\nc"\nd\n', [[0, 1, 1], [2, 2, 3], [8, 4, 4]]],
    ['csv: a quoted CR in a later LF record is not counted', CSV, 'a\n"b\rc"\nd\n', [[0, 1, 1], [2, 2, 2], [8, 3, 3]]],
    ['csv: several quoted LFs in one field', CSV, 'a\n"\n\n\n"\nb\n', [[0, 1, 1], [2, 2, 5], [8, 6, 6]]],
    ['csv: quoted newlines across fields', CSV, 'h\n"a\nb","c\nd"\ne\n', [[0, 1, 1], [2, 2, 4], [14, 5, 5]]],
    ['csv: doubled quotes stay inside the field', CSV, 'h\n"a""\nb"\nc\n', [[0, 1, 1], [2, 2, 3], [10, 4, 4]]],
    ['csv CRLF: quoted CRLF counts once', CSV, 'a\r\n"b\r\nc"\r\nd\r\n', [[0, 1, 1], [3, 2, 3], [11, 4, 4]]],
    ['csv CRLF: a quoted bare LF is not counted', CSV, 'a\r\n"b\nc"\r\nd\r\n', [[0, 1, 1], [3, 2, 2], [10, 4, 3]]],
    // A CR-only stream counts its lines by CR, as an editor that takes CR as the line end does.
    ['csv CR: records end at CR, lines count CRs', CSV, 'a\r"b\rc"\rd\r', [[0, 1, 1], [2, 2, 3], [8, 4, 4]]],
    ['csv CR: an unquoted LF stays inside its record (the server refuses it)', CSV, 'a\rb\nc\rd\r', [[0, 1, 1], [2, 2, 2], [6, 3, 3]]],
    ['text CR: an escaped CR does not end the record', TEXT, 'a\\\rb\rc\r', [[0, 1, 1], [5, 3, 2]]],
    ['csv ESCAPE \\: an escaped quote does not close the field', CSV_BACKSLASH_ESCAPE, 'x\n"a\\"\nb"\nc\n', [[0, 1, 1], [2, 2, 3], [10, 4, 4]]],
    ['csv ESCAPE \\: an escaped escape does', CSV_BACKSLASH_ESCAPE, 'x\n"a\\\\"\nb\n', [[0, 1, 1], [2, 2, 2], [8, 3, 3]]],
    ['csv ESCAPE \\: ordinary outside quotes', CSV_BACKSLASH_ESCAPE, 'a\\"\nb"\nc\n', [[0, 1, 1], [7, 3, 2]]],
    ['text: an escaped LF does not end the record', TEXT, 'a\\\nb\nc\n', [[0, 1, 1], [5, 3, 2]]],
    ['text: an escaped backslash before LF does', TEXT, 'a\\\\\nb\n', [[0, 1, 1], [4, 2, 2]]],
    ['text: quotes mean nothing', TEXT, '"a\nb"\n', [[0, 1, 1], [3, 2, 2]]],
    ['text: CRLF line endings', TEXT, 'a\r\nb\r\n', [[0, 1, 1], [3, 2, 2]]],
  ])('%s', (_, syntax, input, expected) => {
    expect(simulateServerLines(Buffer.from(input), syntax)).toMatchObject(locations(expected));
  });

  it('counts thousands of quoted newlines in one record', () => {
    const input = `h\n"${'x\n'.repeat(5000)}"\nlast\n`;
    expect(simulateServerLines(Buffer.from(input), CSV)).toMatchObject(locations([[0, 1, 1], [2, 2, 5002], [10_005, 5003, 5003]]));
  });

  it('csv: a stray CR in an LF file stays inside its record, as the server refuses the whole line', () => {
    expect(simulateServerLines(Buffer.from('1,a\n2,b\r3,c\n4,d\n'), CSV).map((r) => r.offset)).toEqual([0, 4, 12]);
  });
});

describe('parseCopyContext', () => {
  it.each<[string, string | undefined, ReturnType<typeof parseCopyContext>]>([
    ['a column and its value', 'COPY t, line 12, column score: "x"', { line: 12, column: 'score' }],
    ['a column with a null input', 'COPY t, line 3, column link: null input', { line: 3, column: 'link' }],
    ['a line without a column', 'COPY t, line 3', { line: 3, column: undefined }],
    ['a line with the raw line', 'COPY t, line 3: "1,2,3,4"', { line: 3, column: undefined }],
    ['a column name with spaces', 'COPY ploader_votes_a1b2c3d4, line 1, column my score: "x"', { line: 1, column: 'my score' }],
    ['a value that looks like a context', 'COPY t, line 2, column n: "x, line 9, column m: y"', { line: 2, column: 'n' }],
    ['a schema-qualified name', 'COPY app.t, line 5, column n: "x"', { line: 5, column: 'n' }],
    ['a line number past 2^32', 'COPY t, line 4294967297, column n: "x"', { line: 4294967297, column: 'n' }],
    ['a trigger context before the COPY line', 'PL/pgSQL function check_row() line 3 at RAISE\nCOPY t, line 7', { line: 7, column: undefined }],
    ['no context', undefined, undefined],
    ['an empty context', '', undefined],
    ['a context that is not a COPY', 'SQL statement "SELECT 1"\nPL/pgSQL function f() line 2 at SQL statement', undefined],
  ])('%s', (_, where, expected) => {
    expect(parseCopyContext(where)).toEqual(expected);
  });

  // Regression: the column pattern stopped at the first colon of a column name.
  it('a column name with a colon', () => {
    expect(parseCopyContext('COPY t, line 2, column a:b: "x"')).toEqual({ line: 2, column: 'a:b' });
  });
});

describe('parseSkipNotice', () => {
  it.each<[string, ReturnType<typeof parseSkipNotice>]>([
    ['skipping row due to data type incompatibility at line 3 for column "score": "x"', { line: 3, column: 'score', value: 'x' }],
    ['skipping row due to data type incompatibility at line 12 for column "my col": "a "quoted" b"', { line: 12, column: 'my col', value: 'a "quoted" b' }],
    ['1 row was skipped due to data type incompatibility', undefined],
    ['table "t" does not exist, skipping', undefined],
  ])('%s', (message, expected) => {
    expect(parseSkipNotice(message)).toEqual(expected);
  });
});
