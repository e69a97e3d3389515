import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseSpoolLine, RejectSpool, spoolFiles, spoolLine, type RejectEntry } from '../../../src/rows/reject-spool.ts';
import { writeRejects } from '../../../src/rows/rejects.ts';

const entry = (record: number, message: string): RejectEntry => ({ file: '/in/a "b".csv', line: record + 1, record, column: null, sqlstate: '23505', message });

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('spool log lines', () => {
  it('carry the size, the record and the reject log line as it is written', () => {
    const e = entry(7, 'duplicate key (id)=(1): "quoted", a\nnewline and a space');
    const line = spoolLine(e, 12);
    expect(line.endsWith('\n')).toBe(true);
    expect(parseSpoolLine(line.slice(0, -1))).toEqual({ size: 12, record: 7, logLine: `${JSON.stringify(e)}\n` });
  });

  it('read the JSON lines with a size field of earlier versions', () => {
    const e = entry(3, 'x');
    expect(parseSpoolLine(JSON.stringify({ ...e, size: 4 }))).toEqual({ size: 4, record: 3, logLine: `${JSON.stringify(e)}\n` });
  });

  it('refuse a line ploader did not write', () => {
    for (const bad of ['', 'garbage', '12 x {}', '-', '3 4']) expect(() => parseSpoolLine(bad), bad).toThrow(/did not write/);
  });
});

describe('writeRejects', () => {
  it('merges each chunk\'s bad rows and duplicates by record, chunks in order, bytes and log exact', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ploader-spool-'));
    const spools = path.join(dir, 'spools');
    const add = (chunk: number, kind: 'rows' | 'duplicates', records: number[]) => {
      const spool = new RejectSpool(spoolFiles(spools, chunk, kind));
      for (const r of records) spool.add(entry(r, `${kind} ${r}`), Buffer.from(`rec ${r}${r % 2 ? '\r\n' : '\n'}`));
      spool.close(true);
    };
    add(0, 'rows', [2, 5]);
    add(0, 'duplicates', [1, 3, 9]);
    add(2, 'duplicates', [20]);
    // A spool of an earlier version, resumed: JSON lines with a size.
    const legacy = spoolFiles(spools, 1, 'rows');
    writeFileSync(legacy.bytes, 'rec 11\n');
    writeFileSync(legacy.log, `${JSON.stringify({ ...entry(11, 'rows 11'), size: 7 })}\n`);
    const rejectFile = path.join(dir, 'out.rej');
    expect(await writeRejects(spools, 3, rejectFile)).toBe(7);
    const order = [1, 2, 3, 5, 9, 11, 20];
    expect(readFileSync(rejectFile, 'latin1')).toBe(order.map((r) => `rec ${r}${r % 2 ? '\r\n' : '\n'}`).join('').replace('rec 11\r\n', 'rec 11\n'));
    const kinds: Record<number, string> = { 1: 'duplicates', 2: 'rows', 3: 'duplicates', 5: 'rows', 9: 'duplicates', 11: 'rows', 20: 'duplicates' };
    expect(readFileSync(`${rejectFile}.log`, 'utf8')).toBe(order.map((r) => `${JSON.stringify(entry(r, `${kinds[r]} ${r}`))}\n`).join(''));
  });
});
