import { describe, expect, it } from 'vitest';
import { describeFiles, fileListChange } from '../../../src/stage/run-ledger.ts';

describe('fileListChange: a resumed run must name the files it recorded, unchanged, in order', () => {
  const a = { file: '/d/a.csv', size: 100, mtimeMs: 1_700_000_000_000 };
  const b = { file: '/d/b.csv', size: 200, mtimeMs: 1_700_000_000_000 };
  const c = { file: '/d/c.csv', size: 300, mtimeMs: 1_700_000_000_000 };
  it.each([
    ['the same files', [a, b, c], [a, b, c], undefined],
    ['one file, the same', [a], [a], undefined],
    ['a file fewer', [a, b, c], [a, b], 'this load names 2 files (/d/a.csv, /d/b.csv), not those 3 files in that order'],
    ['another order', [a, b, c], [b, a, c], 'this load names 3 files (/d/b.csv, /d/a.csv, /d/c.csv), not those 3 files in that order'],
    ['another file', [a], [b], 'this load names /d/b.csv, not that file'],
    ['a file grown', [a, b, c], [a, { ...b, size: 250 }, c], '/d/b.csv has changed since (200 → 250 bytes)'],
    ['a file touched', [a, b], [a, { ...b, mtimeMs: 1_700_000_001_000 }], '/d/b.csv has been modified since (mtime 2023-11-14T22:13:20.000Z → 2023-11-14T22:13:21.000Z)'],
  ])('%s', (_, recorded, now, expected) => {
    expect(fileListChange(recorded, now)).toBe(expected);
  });

  it('describeFiles names one file as itself, several with their count', () => {
    expect(describeFiles(['a.csv'])).toBe('a.csv');
    expect(describeFiles(['a.csv', 'b.csv'])).toBe('2 files (a.csv, b.csv)');
  });
});
