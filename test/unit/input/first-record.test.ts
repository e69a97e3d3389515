/**
 * One record split into fields by COPY's rules (csv quotes and escapes, text backslash escapes, the
 * NULL string, CRLF), table-driven; and the same records found whatever the data is cut at.
 */
import { describe, expect, it } from 'vitest';
import { decoderLabel, fieldSyntaxOf, splitRecord, type FieldSyntax } from '../../../src/input/first-record.ts';

const csv = (over: Partial<Parameters<typeof fieldSyntaxOf>[0]> = {}): FieldSyntax =>
  fieldSyntaxOf({ format: 'csv', quote: undefined, escape: undefined, delimiter: undefined, null: undefined, encoding: undefined, ...over });
const text = (over: Partial<Parameters<typeof fieldSyntaxOf>[0]> = {}): FieldSyntax =>
  fieldSyntaxOf({ format: 'text', quote: undefined, escape: undefined, delimiter: undefined, null: undefined, encoding: undefined, ...over });

describe('splitRecord, csv', () => {
  it.each([
    ['plain fields', 'a,b,c\n', csv(), ['a', 'b', 'c'], 6],
    ['an unquoted empty field is NULL (the default NULL string)', 'a,,c\n', csv(), ['a', null, 'c'], 5],
    ['a quoted empty field is an empty string', 'a,"",c\n', csv(), ['a', '', 'c'], 7],
    ['a delimiter and a doubled quote inside quotes', '"a,b","c""d"\n', csv(), ['a,b', 'c"d'], 13],
    ['a newline inside quotes does not end the record', '"multi\nline",x\nnext\n', csv(), ['multi\nline', 'x'], 15],
    ['CRLF: the CR is the line ending', 'a,b\r\n', csv(), ['a', 'b'], 5],
    ['a quoted CR is data', '"a\r"\r\n', csv(), ['a\r'], 6],
    ['quotes anywhere in a field toggle quoting, as COPY reads them', 'ab"c,d"e,f\n', csv(), ['abc,de', 'f'], 11],
    ['an empty line is one NULL field', '\nx\n', csv(), [null], 1],
    ['the NULL string as given; quoted it is a string', 'NULL,"NULL",x\n', csv({ null: 'NULL' }), [null, 'NULL', 'x'], 14],
    ['with the NULL string given, an empty field is an empty string', 'a,,b\n', csv({ null: 'NULL' }), ['a', '', 'b'], 5],
    ['ESCAPE before QUOTE or ESCAPE', '"a\\"b","c\\\\d",e\n', csv({ escape: '\\' }), ['a"b', 'c\\d', 'e'], 16],
    ['ESCAPE before any other byte is data', '"a\\xb"\n', csv({ escape: '\\' }), ['a\\xb'], 7],
    ['ESCAPE outside quotes is data', 'a\\,b\n', csv({ escape: '\\' }), ['a\\', 'b'], 5],
    ['another delimiter and quote', "'a;b';c\n", csv({ delimiter: ';', quote: "'" }), ['a;b', 'c'], 8],
    ['UTF-8 names', 'prénom,€\n', csv(), ['prénom', '€'], 12],
    ['a header with a byte-order mark keeps it, as COPY does', '\ufeffid,x\n', csv(), ['\ufeffid', 'x'], 8],
  ])('%s', (_, data, syntax, fields, end) => {
    expect(splitRecord(Buffer.from(data), 0, syntax, false)).toEqual({ fields, end });
  });
});

describe('splitRecord, text', () => {
  it.each([
    ['tab-separated fields', 'a\tb\tc\n', text(), ['a', 'b', 'c']],
    ['\\N is NULL, an empty field an empty string', '\\N\t\tx\n', text(), [null, '', 'x']],
    ['escapes: \\t \\n \\r \\b \\f \\v', 'a\\tb\\nc\\rd\\be\\ff\\vg\n', text(), ['a\tb\nc\rd\be\ff\vg']],
    ['octal and hex escapes, an escaped backslash', '\\101\\x42\\x4a\\\\\n', text(), ['ABJ\\']],
    ['a backslash before any other byte stands for it', '\\q\\,x\n', text(), ['q,x']],
    ['an escaped delimiter is data', 'a\\,b,c\n', text({ delimiter: ',' }), ['a,b', 'c']],
    ['an escaped newline is data', 'a\\\nb\tc\n', text(), ['a\nb', 'c']],
    ['CRLF: the CR is the line ending; an escaped \\r is data', 'a\tb\\r\r\n', text(), ['a', 'b\r']],
    ['the NULL string as given, compared before escapes', 'NULL\t\\NULL\n', text({ null: 'NULL' }), [null, 'NULL']],
    ['LATIN1 bytes decoded as LATIN1', Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]), text({ encoding: 'LATIN1' }), ['café']],
  ])('%s', (_, data, syntax, fields) => {
    const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data);
    expect(splitRecord(bytes, 0, syntax, false)).toEqual({ fields, end: bytes.length });
  });
});

describe('where a record ends', () => {
  it('needs its LF unless the input ends there', () => {
    expect(splitRecord(Buffer.from('a,b'), 0, csv(), false)).toBeUndefined();
    expect(splitRecord(Buffer.from('a,b'), 0, csv(), true)).toEqual({ fields: ['a', 'b'], end: 3 });
    expect(splitRecord(Buffer.from('"open\n'), 0, csv(), false)).toBeUndefined();
    expect(splitRecord(Buffer.from(''), 0, csv(), true)).toBeUndefined();
    expect(splitRecord(Buffer.from('a\n'), 2, csv(), true)).toBeUndefined();
  });

  const data = Buffer.from('h1,"h\n2"\na,"b\nc"\n"d""\n",e\r\nf,g\n"x\n\ny",z');
  const records = [['h1', 'h\n2'], ['a', 'b\nc'], ['d"\n', 'e'], ['f', 'g'], ['x\n\ny', 'z']];

  it('splits consecutive records from each end', () => {
    const found = [];
    for (let record = splitRecord(data, 0, csv(), true); record; record = splitRecord(data, record.end, csv(), true)) found.push(record.fields);
    expect(found).toEqual(records);
  });

  it('cut at every offset, gives each whole record or none, never a wrong one', () => {
    for (let cut = 0; cut <= data.length; cut++) {
      const found = [];
      const part = data.subarray(0, cut);
      for (let record = splitRecord(part, 0, csv(), false); record; record = splitRecord(part, record.end, csv(), false)) found.push(record.fields);
      expect(found).toEqual(records.slice(0, found.length));
    }
  });
});

describe('decoderLabel', () => {
  it.each([
    [undefined, 'utf-8'],
    ['UTF8', 'utf-8'],
    ['utf-8', 'utf-8'],
    ['LATIN1', 'iso-8859-1'],
    ['win_1252', 'windows-1252'],
    ['WIN1252', 'windows-1252'],
    ['SJIS', 'shift_jis'],
    ['MULE_INTERNAL', 'utf-8'],
  ])('%s → %s', (encoding, label) => {
    expect(decoderLabel(encoding)).toBe(label);
  });
});
