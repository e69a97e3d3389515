/**
 * The file shell must give the same answers as the in-memory scan, however small its read blocks.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanFileRecords } from '../../../../src/input/scan/file-boundaries.ts';
import { scanRecords } from '../../../../src/input/scan/record-boundaries.ts';
import type { RecordSyntax, ScanRules } from '../../../../src/input/scan/record-syntax.ts';

const CSV: RecordSyntax = { format: 'csv', quote: 0x22, escape: 0x22 };
const CSV_BACKSLASH_ESCAPE: RecordSyntax = { format: 'csv', quote: 0x22, escape: 0x5c };
const TEXT: RecordSyntax = { format: 'text', quote: 0x22, escape: 0x22 };
const STRICT_PG15: ScanRules = { endMarker: 'csv-line', strict: true };
const STRICT_PG15_TEXT: ScanRules = { endMarker: 'text', strict: true };
/** Smaller than most records, so quotes, escapes and CRLFs straddle reads. */
const TINY_BLOCK_BYTES = 5;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ploader-scan-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const longCsv = Array.from({ length: 400 }, (_, i) => `${i},"multi\r\nline ""${i}""",x\r\n`).join('');

describe.each<[string, RecordSyntax, string, ScanRules]>([
  ['quoted CSV with CRLF', CSV, '"a\nb",1\r\n"c,""d""",2\r\nlast', STRICT_PG15],
  ['CSV with ESCAPE \\', CSV_BACKSLASH_ESCAPE, '"a\\"\nb"\n"c\\\\"\nd\n', STRICT_PG15],
  ['text with escaped newlines', TEXT, 'a\\\nb\nc\\\\\nd\\\\\\\ne\n', STRICT_PG15_TEXT],
  ['multibyte UTF-8', CSV, '名前,"東京\n大阪"\n€,😀\n', STRICT_PG15],
  ['empty file', CSV, '', STRICT_PG15],
  ['long quoted CSV', CSV, longCsv, STRICT_PG15],
  ['CR-only CSV', CSV, 'h\r"a\rb",1\r"c\nd",2\r', STRICT_PG15],
  ['text with an end-of-data marker', TEXT, 'a\tb\nc\td\n\\.\nnot\tloaded\n', STRICT_PG15_TEXT],
])('%s', (name, syntax, content, rules) => {
  const data = Buffer.from(content);
  const path = () => join(dir, `${name.replace(/\W+/g, '-')}.dat`);
  beforeAll(async () => {
    await writeFile(path(), data);
  });

  it.each([TINY_BLOCK_BYTES, 64, undefined])('matches scanRecords at every offset with %s-byte reads', async (blockBytes) => {
    const targets = Array.from({ length: data.length + 2 }, (_, i) => i);
    const expected = scanRecords(data, syntax, targets, rules);
    expect(await scanFileRecords(path(), syntax, targets, { rules, blockBytes })).toEqual(expected);
  });
});

describe('scanFileRecords', () => {
  it('stops reading at an end-of-data marker', async () => {
    const file = join(dir, 'marker-then-garbage.txt');
    // What follows the marker is not even valid COPY text: it is never read.
    await writeFile(file, 'a\n\\.\nb\\.x\r\n');
    const scan = await scanFileRecords(file, TEXT, [1, 5], { rules: STRICT_PG15_TEXT, blockBytes: TINY_BLOCK_BYTES });
    expect(scan.end).toEqual({ offset: 2, line: 2, records: 1, marker: { line: 2, end: 5 } });
    expect(scan.starts).toEqual([{ offset: 2, line: 2, records: 1 }, { offset: 2, line: 2, records: 1 }]);
  });

  it('fails on a line end of another style, naming the file and line', async () => {
    const file = join(dir, 'mixed.csv');
    await writeFile(file, 'a,1\r\nb,2\r\nc,3\nd,4\r\n');
    await expect(scanFileRecords(file, CSV, [], { rules: { ...STRICT_PG15, file } })).rejects.toMatchObject({
      code: 'BAD_ROW',
      position: { file, line: 3, record: 3 },
      message: expect.stringMatching(/^record 3: unquoted newline found in data \(SQLSTATE 22P04\); hint: Use quoted CSV field to represent newline\. — the data's first line ends in CR LF/),
    });
  });

  it('rejects a block size that is not a positive integer', async () => {
    await expect(scanFileRecords(join(dir, 'unused'), CSV, [0], { blockBytes: 0 })).rejects.toThrow(
      'Expected blockBytes to be a positive integer, got 0',
    );
  });

  it('rejects a missing file with the system error', async () => {
    await expect(scanFileRecords(join(dir, 'missing.csv'), CSV, [0])).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
