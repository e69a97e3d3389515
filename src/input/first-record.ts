/**
 * Splits one record of COPY input into its fields, by the rules the server applies, so that the plan
 * can read a header's names, count the fields of the first line, and sample values to infer types.
 * Pure: bytes in, strings out. The loaded data itself is never parsed here: the server parses it.
 *
 * The rules mirror CopyReadAttributesCSV and CopyReadAttributesText in PostgreSQL's
 * src/backend/commands/copyfromparse.c:
 * - csv: DELIMITER ends a field outside quotes; QUOTE opens and closes quoting anywhere in a field;
 *   inside quotes ESCAPE followed by QUOTE or ESCAPE stands for that byte. A field is NULL when it was
 *   never quoted and its bytes equal the NULL string (default: empty), so `""` is an empty string.
 * - text: DELIMITER ends a field; a backslash escapes the next byte (\n \t \r \b \f \v, octal \123,
 *   hex \x41, anything else stands for itself). A field is NULL when its raw bytes, before escapes,
 *   equal the NULL string (default: \N).
 * A record ends at the first LF that ends a record (see scan/format-states.ts); a CR right before
 * it is part of the line ending, as COPY treats CRLF.
 */
import type { ResolvedLoadOptions } from '../options.ts';
import { syntaxOf } from './split.ts';
import type { RecordSyntax } from './scan/record-syntax.ts';

const LF = 0x0a;
const CR = 0x0d;
const BACKSLASH = 0x5c;

/** What splitting a record into fields needs beyond where records end. */
export interface FieldSyntax extends RecordSyntax {
  delimiter: number;
  /** COPY's NULL string, as the file spells it. */
  null: string;
  /** How the file's bytes become text (a WHATWG encoding label, see `decoderLabel`). */
  encoding: string;
}

/** A field as COPY reads it: its text, or null where COPY reads NULL. */
export type FieldValue = string | null;

export interface SplitRecord {
  fields: FieldValue[];
  /** Offset just past the record: after its LF, or the end of the data. */
  end: number;
}

export function fieldSyntaxOf(options: Pick<ResolvedLoadOptions, 'format' | 'quote' | 'escape' | 'delimiter' | 'null' | 'encoding'>): FieldSyntax {
  const csv = options.format === 'csv';
  return {
    ...syntaxOf(options as ResolvedLoadOptions),
    delimiter: (options.delimiter ?? (csv ? ',' : '\t')).charCodeAt(0),
    null: options.null ?? (csv ? '' : '\\N'),
    encoding: decoderLabel(options.encoding),
  };
}

/**
 * The record that starts at `start`: its fields and where it ends. Undefined when there is no record
 * there (start at the end of the data), or when it does not end within `data` and more may follow
 * (`atEnd` false). At the end of the input, an unterminated record ends with the data, as COPY reads it.
 */
export function splitRecord(data: Buffer, start: number, syntax: FieldSyntax, atEnd: boolean): SplitRecord | undefined {
  if (start >= data.length) return undefined;
  const parsed = syntax.format === 'csv' ? splitCsv(data, start, syntax) : splitText(data, start, syntax);
  if (parsed.end < 0 && !atEnd) return undefined;
  // ignoreBOM: a byte-order mark is data to COPY, and so it is here.
  const decoder = new TextDecoder(syntax.encoding, { ignoreBOM: true });
  const fields = parsed.fields.map((f) => {
    const raw = decoder.decode(Buffer.from(f.raw));
    if (syntax.format === 'csv' ? !f.quoted && raw === syntax.null : raw === syntax.null) return null;
    return decoder.decode(Buffer.from(f.bytes));
  });
  return { fields, end: parsed.end < 0 ? data.length : parsed.end + 1 };
}

interface RawField {
  /** The field's bytes as written (what the NULL string is compared with). */
  raw: number[];
  /** Its value's bytes, quotes and escapes resolved. */
  bytes: number[];
  quoted: boolean;
}

/** Fields up to the record's end; `end` is the index of the LF that ends it, or -1 when the data ends first. */
function splitCsv(data: Buffer, start: number, syntax: FieldSyntax): { fields: RawField[]; end: number } {
  const { delimiter, quote, escape } = syntax;
  const fields: RawField[] = [];
  let field: RawField = { raw: [], bytes: [], quoted: false };
  let inQuotes = false;
  for (let i = start; i < data.length; i++) {
    const c = data[i];
    if (inQuotes) {
      field.raw.push(c);
      if (c === escape && i + 1 < data.length && (data[i + 1] === escape || data[i + 1] === quote)) {
        field.bytes.push(data[++i]);
        field.raw.push(data[i]);
      } else if (c === quote) {
        inQuotes = false;
      } else {
        field.bytes.push(c);
      }
      continue;
    }
    if (c === LF) {
      fields.push(withoutLineEndCr(field));
      return { fields, end: i };
    }
    if (c === delimiter) {
      fields.push(field);
      field = { raw: [], bytes: [], quoted: false };
      continue;
    }
    field.raw.push(c);
    if (c === quote) {
      inQuotes = true;
      field.quoted = true;
    } else {
      field.bytes.push(c);
    }
  }
  fields.push(withoutLineEndCr(field));
  return { fields, end: -1 };
}

function splitText(data: Buffer, start: number, syntax: FieldSyntax): { fields: RawField[]; end: number } {
  const fields: RawField[] = [];
  let field: RawField = { raw: [], bytes: [], quoted: false };
  for (let i = start; i < data.length; i++) {
    const c = data[i];
    if (c === LF) {
      fields.push(withoutLineEndCr(field));
      return { fields, end: i };
    }
    if (c === syntax.delimiter) {
      fields.push(field);
      field = { raw: [], bytes: [], quoted: false };
      continue;
    }
    field.raw.push(c);
    if (c !== BACKSLASH) {
      field.bytes.push(c);
      continue;
    }
    if (i + 1 >= data.length) break;
    const escaped = unescapeText(data, i + 1);
    for (let j = i + 1; j < escaped.next; j++) field.raw.push(data[j]);
    field.bytes.push(escaped.byte);
    i = escaped.next - 1;
    // An escaped LF is data: it neither ends the record nor the field.
  }
  fields.push(withoutLineEndCr(field));
  return { fields, end: -1 };
}

const TEXT_ESCAPES: Record<number, number> = { 0x62: 0x08, 0x66: 0x0c, 0x6e: LF, 0x72: CR, 0x74: 0x09, 0x76: 0x0b };

/** The byte a backslash escape starting at `at` (the byte after the backslash) stands for. */
function unescapeText(data: Buffer, at: number): { byte: number; next: number } {
  const c = data[at];
  if (c >= 0x30 && c <= 0x37) {
    let value = c - 0x30;
    let next = at + 1;
    for (; next < data.length && next < at + 3 && data[next] >= 0x30 && data[next] <= 0x37; next++) value = value * 8 + data[next] - 0x30;
    return { byte: value & 0xff, next };
  }
  if (c === 0x78 && at + 1 < data.length && isHex(data[at + 1])) {
    let value = hexValue(data[at + 1]);
    let next = at + 2;
    if (next < data.length && isHex(data[next])) value = value * 16 + hexValue(data[next++]);
    return { byte: value, next };
  }
  return { byte: TEXT_ESCAPES[c] ?? c, next: at + 1 };
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function hexValue(c: number): number {
  return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10;
}

/** The last field of a CRLF line: its CR belongs to the line ending. */
function withoutLineEndCr(field: RawField): RawField {
  if (field.raw.at(-1) !== CR || field.bytes.at(-1) !== CR) return field;
  return { ...field, raw: field.raw.slice(0, -1), bytes: field.bytes.slice(0, -1) };
}

/**
 * PostgreSQL's encoding names (as COPY's ENCODING takes them, any case, `-` and `_` ignored) → the
 * WHATWG label TextDecoder takes; UTF-8 when none is given or the name is not one of these.
 */
const DECODER_LABELS: Record<string, string> = {
  utf8: 'utf-8', unicode: 'utf-8', sqlascii: 'utf-8', latin1: 'iso-8859-1', latin2: 'iso-8859-2', latin3: 'iso-8859-3',
  latin4: 'iso-8859-4', latin5: 'iso-8859-9', latin6: 'iso-8859-10', latin7: 'iso-8859-13', latin8: 'iso-8859-14',
  latin9: 'iso-8859-15', latin10: 'iso-8859-16', iso88595: 'iso-8859-5', iso88596: 'iso-8859-6', iso88597: 'iso-8859-7',
  iso88598: 'iso-8859-8', win866: 'ibm866', win874: 'windows-874', win1250: 'windows-1250', win1251: 'windows-1251',
  win1252: 'windows-1252', win1253: 'windows-1253', win1254: 'windows-1254', win1255: 'windows-1255', win1256: 'windows-1256',
  win1257: 'windows-1257', win1258: 'windows-1258', koi8r: 'koi8-r', koi8u: 'koi8-u', eucjp: 'euc-jp', sjis: 'shift_jis',
  gbk: 'gbk', gb18030: 'gb18030', big5: 'big5', euckr: 'euc-kr', uhc: 'euc-kr',
};

export function decoderLabel(encoding: string | undefined): string {
  return DECODER_LABELS[(encoding ?? 'utf8').toLowerCase().replace(/[^a-z0-9]/g, '')] ?? 'utf-8';
}
