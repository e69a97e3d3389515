/**
 * The file shell must give the same answers as the in-memory scan, however small its read blocks.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanFileRecordStarts } from '../../../../src/input/scan/file-boundaries.ts';
import { findRecordStarts } from '../../../../src/input/scan/record-boundaries.ts';
import type { RecordSyntax } from '../../../../src/input/scan/record-syntax.ts';

const CSV: RecordSyntax = { format: 'csv', quote: 0x22, escape: 0x22 };
const CSV_BACKSLASH_ESCAPE: RecordSyntax = { format: 'csv', quote: 0x22, escape: 0x5c };
const TEXT: RecordSyntax = { format: 'text', quote: 0x22, escape: 0x22 };
/** Smaller than most records, so quotes, escapes and CRLFs straddle reads. */
const TINY_BLOCK_BYTES = 5;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ploader-scan-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const longCsv = Array.from({ length: 400 }, (_, i) => `${i},"multi\nline ""${i}""",x\r\n`).join('');

describe.each<[string, RecordSyntax, string]>([
  ['quoted CSV with CRLF', CSV, '"a\nb",1\r\n"c,""d""",2\r\nlast'],
  ['CSV with ESCAPE \\', CSV_BACKSLASH_ESCAPE, '"a\\"\nb"\n"c\\\\"\nd\n'],
  ['text with escaped newlines', TEXT, 'a\\\nb\nc\\\\\nd\\\\\\\ne\n'],
  ['multibyte UTF-8', CSV, '名前,"東京\n大阪"\n€,😀\n'],
  ['empty file', CSV, ''],
  ['long quoted CSV', CSV, longCsv],
])('%s', (name, syntax, content) => {
  const data = Buffer.from(content);
  const path = () => join(dir, `${name.replace(/\W+/g, '-')}.dat`);
  beforeAll(async () => {
    await writeFile(path(), data);
  });

  it.each([TINY_BLOCK_BYTES, 64, undefined])('matches findRecordStarts at every offset with %s-byte reads', async (blockBytes) => {
    const targets = Array.from({ length: data.length + 2 }, (_, i) => i);
    const expected = findRecordStarts(data, syntax, targets);
    expect(await scanFileRecordStarts(path(), syntax, targets, blockBytes)).toEqual(expected);
  });

  it('matches findRecordStarts when it stops reading early', async () => {
    const targets = [0, Math.floor(data.length / 3)];
    expect(await scanFileRecordStarts(path(), syntax, targets, TINY_BLOCK_BYTES)).toEqual(findRecordStarts(data, syntax, targets));
  });
});

describe('scanFileRecordStarts contract', () => {
  it('rejects a block size that is not a positive integer', async () => {
    await expect(scanFileRecordStarts(join(dir, 'unused'), CSV, [0], 0)).rejects.toThrow(
      'Expected blockBytes to be a positive integer, got 0',
    );
  });

  it('rejects a missing file with the system error', async () => {
    await expect(scanFileRecordStarts(join(dir, 'missing.csv'), CSV, [0])).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
