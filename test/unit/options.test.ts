/**
 * The one place input is checked: defaults, one fixed message shape per rejected value, and the two
 * CLI parsers that feed it.
 */
import { availableParallelism } from 'node:os';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PloaderError } from '../../src/errors.ts';
import {
  defaultTableName,
  MAX_WORKERS,
  parseByteSize,
  parseMaxErrors,
  resolveLoadOptions,
  type LoadOptions,
} from '../../src/options.ts';

// The host's core count is the one input options.ts reads from the machine; let a test pose as a
// bigger host. Every other call sees the real value.
const host = vi.hoisted(() => ({ cores: undefined as number | undefined }));
vi.mock('node:os', async (importOriginal) => {
  const os = await importOriginal<typeof import('node:os')>();
  return { ...os, availableParallelism: () => host.cores ?? os.availableParallelism() };
});
afterEach(() => {
  host.cores = undefined;
});

/** The error resolveLoadOptions throws for `options`, or undefined if it accepts them. */
function rejection(options: LoadOptions): PloaderError | undefined {
  try {
    resolveLoadOptions(options);
    return undefined;
  } catch (error) {
    return error as PloaderError;
  }
}

describe('resolveLoadOptions defaults', () => {
  it('fills every option for a bare file name', () => {
    // toMatchObject: options added later need their own default test, not an edit here.
    expect(resolveLoadOptions({ file: 'data/votes.csv' })).toMatchObject({
      file: 'data/votes.csv',
      table: 'votes',
      db: undefined,
      columns: undefined,
      format: 'csv',
      header: false,
      delimiter: undefined,
      quote: undefined,
      escape: undefined,
      null: undefined,
      encoding: undefined,
      forceNull: [],
      forceNotNull: [],
      workers: availableParallelism(),
      chunkBytes: undefined,
      maxErrors: 0,
      rejectFile: 'data/votes.csv.rejects',
      truncate: false,
      dryRun: false,
      indexMemory: undefined,
      onProgress: expect.any(Function),
      signal: undefined,
    });
  });

  it.each([
    ['votes.csv', 'csv'],
    ['VOTES.CSV', 'csv'],
    ['votes.txt', 'text'],
    ['votes.tsv', 'text'],
    ['votes', 'text'],
    ['votes.csv.gz', 'csv'], // a .gz suffix is looked through (streams)
    ['votes.tsv.gz', 'text'],
    ['votes.bin', 'binary'],
    ['csv', 'text'],
  ])('format of %s defaults to %s', (file, format) => {
    expect(resolveLoadOptions({ file }).format).toBe(format);
  });

  it('files: all of them, in order; the first names the table and the reject file', () => {
    const resolved = resolveLoadOptions({ files: ['data/votes-1.csv', 'data/votes-2.csv', 'votes-3.csv'] });
    expect(resolved).toMatchObject({ file: 'data/votes-1.csv', files: ['data/votes-1.csv', 'data/votes-2.csv', 'votes-3.csv'], table: 'votes-1', format: 'csv', rejectFile: 'data/votes-1.csv.rejects' });
    expect(resolveLoadOptions({ file: 'votes.csv' }).files).toEqual(['votes.csv']);
    // One stream alone is a list too; an explicit format reads files whose names differ.
    expect(resolveLoadOptions({ files: ['-'], table: 't' }).files).toEqual(['-']);
    expect(resolveLoadOptions({ files: ['a.csv', 'b.txt'], format: 'csv' }).format).toBe('csv');
  });

  it('an explicit format wins over the extension', () => {
    expect(resolveLoadOptions({ file: 'votes.txt', format: 'csv' }).format).toBe('csv');
    expect(resolveLoadOptions({ file: 'votes.csv', format: 'text' }).format).toBe('text');
  });

  it('an explicit table wins over the file name', () => {
    expect(resolveLoadOptions({ file: 'data/votes.csv', table: 'app."My Votes"' }).table).toBe('app."My Votes"');
  });

  it('workers default to the host\'s cores', () => {
    host.cores = 3;
    expect(resolveLoadOptions({ file: 'votes.csv' }).workers).toBe(3);
    expect(resolveLoadOptions({ file: 'votes.csv', workers: 5 }).workers).toBe(5);
  });

  // Regression: the default was the core count unclamped, failing on a host with more than MAX_WORKERS cores.
  it('workers default to at most MAX_WORKERS on a host with more cores', () => {
    host.cores = 512;
    expect(resolveLoadOptions({ file: 'votes.csv' }).workers).toBe(MAX_WORKERS);
  });

  it('quote and escape are dropped for text format, kept for csv', () => {
    expect(resolveLoadOptions({ file: 'v.csv', quote: "'", escape: '\\' })).toMatchObject({ quote: "'", escape: '\\' });
    expect(resolveLoadOptions({ file: 'v.txt', delimiter: '|' })).toMatchObject({ quote: undefined, escape: undefined, delimiter: '|' });
  });

  it.each([
    [{ maxErrors: Infinity }, Infinity],
    [{ maxErrors: 0 }, 0],
    [{ maxErrors: 10, rejectFile: '/tmp/bad.csv' }, 10],
  ])('accepts %o', (given, maxErrors) => {
    expect(resolveLoadOptions({ file: 'votes.csv', ...given }).maxErrors).toBe(maxErrors);
  });

  it.each([['64MB'], ['512kB'], ['1GB'], ['64 MB']])('accepts indexMemory %s', (indexMemory) => {
    expect(resolveLoadOptions({ file: 'votes.csv', indexMemory }).indexMemory).toBe(indexMemory);
  });
});

describe('defaultTableName', () => {
  it.each([
    ['votes.csv', 'votes'],
    ['data/votes.csv', 'votes'],
    ['/srv/imports/votes.2024-01.csv', 'votes'],
    ['votes', 'votes'],
    ['My Votes.csv', 'My Votes'],
    ['.env', '.env'],
  ])('%s → %s', (file, table) => {
    expect(defaultTableName(file)).toBe(table);
  });
});

describe('resolveLoadOptions rejects', () => {
  it.each<[string, LoadOptions, string]>([
    ['workers 0', { file: 'v.csv', workers: 0 }, 'options.workers must be an integer from 1 to 256, got 0'],
    ['workers above the maximum', { file: 'v.csv', workers: 257 }, 'options.workers must be an integer from 1 to 256, got 257'],
    ['fractional workers', { file: 'v.csv', workers: 1.5 }, 'options.workers must be an integer from 1 to 256, got 1.5'],
    ['NaN workers', { file: 'v.csv', workers: NaN }, 'options.workers must be an integer from 1 to 256, got NaN'],
    ['delimiter equal to the default quote', { file: 'v.csv', delimiter: '"' }, 'options.delimiter and options.quote must differ, both are "\\""'],
    ['delimiter equal to the quote', { file: 'v.csv', delimiter: '|', quote: '|' }, 'options.delimiter and options.quote must differ, both are "|"'],
    ['quote equal to the default delimiter', { file: 'v.csv', quote: ',' }, 'options.delimiter and options.quote must differ, both are ","'],
    ['multi-byte delimiter', { file: 'v.csv', delimiter: 'é' }, 'options.delimiter must be a single one-byte character, got "é"'],
    ['two-character delimiter', { file: 'v.csv', delimiter: ',,' }, 'options.delimiter must be a single one-byte character, got ",,"'],
    ['empty delimiter', { file: 'v.txt', delimiter: '' }, 'options.delimiter must be a single one-byte character, got ""'],
    ['newline delimiter', { file: 'v.csv', delimiter: '\n' }, 'options.delimiter cannot be a newline or carriage return'],
    ['carriage return quote', { file: 'v.csv', quote: '\r' }, 'options.quote cannot be a newline or carriage return'],
    ['multi-byte escape', { file: 'v.csv', escape: '€' }, 'options.escape must be a single one-byte character, got "€"'],
    ['quote with text format', { file: 'v.txt', quote: "'" }, 'options.quote is only available with format "csv"'],
    ['escape with text format', { file: 'v.csv', format: 'text', escape: '\\' }, 'options.escape is only available with format "csv"'],
    ['forceNull with text format', { file: 'v.txt', forceNull: ['a'] }, 'options.forceNull is only available with format "csv"'],
    ['forceNotNull with text format', { file: 'v.txt', forceNotNull: ['a'] }, 'options.forceNotNull is only available with format "csv"'],
    ['backslash delimiter with text format', { file: 'v.txt', delimiter: '\\' }, 'options.delimiter cannot be a backslash in format "text"'],
    ['null with a newline', { file: 'v.csv', null: 'NU\nLL' }, 'options.null cannot contain a newline or carriage return'],
    ['duplicate columns', { file: 'v.csv', columns: ['a', 'b', 'a'] }, 'options.columns names "a" twice'],
    ['no columns', { file: 'v.csv', columns: [] }, 'options.columns must be a non-empty list of column names'],
    ['an empty column name', { file: 'v.csv', columns: ['a', ''] }, 'options.columns must be a non-empty list of column names'],
    ['unknown option key', { file: 'v.csv', wokers: 2 } as LoadOptions, 'unknown option "wokers"'],
    ['negative maxErrors', { file: 'v.csv', maxErrors: -1 }, 'options.maxErrors must be a non-negative integer or Infinity ("all"), got -1'],
    ['fractional maxErrors', { file: 'v.csv', maxErrors: 0.5 }, 'options.maxErrors must be a non-negative integer or Infinity ("all"), got 0.5'],
    ['-Infinity maxErrors', { file: 'v.csv', maxErrors: -Infinity }, 'options.maxErrors must be a non-negative integer or Infinity ("all"), got -Infinity'],
    ['rejectFile without maxErrors or onConflict skip|update', { file: 'v.csv', rejectFile: 'bad.csv' }, 'options.rejectFile needs options.maxErrors or options.onConflict skip|update: without them the first bad row fails the load and nothing is rejected'],
    ['indexMemory without a unit', { file: 'v.csv', indexMemory: '64' }, 'options.indexMemory must be a size such as "64MB", got "64"'],
    ['indexMemory in lower case', { file: 'v.csv', indexMemory: '64mb' }, 'options.indexMemory must be a size such as "64MB", got "64mb"'],
    ['indexMemory with SQL in it', { file: 'v.csv', indexMemory: "64MB'; DROP TABLE x; --" }, 'options.indexMemory must be a size such as "64MB", got "64MB\'; DROP TABLE x; --"'],
    ['an unknown format', { file: 'v.csv', format: 'xml' as 'csv' }, 'options.format must be one of csv, text, binary, got "xml"'],
    ['an empty file name', { file: '' }, 'options.file must name the input file'],
    ['neither file nor files', {} as LoadOptions, 'options.file must name the input file'],
    ['file and files', { file: 'a.csv', files: ['b.csv'] }, 'options.file and options.files contradict each other: give one file as `file`, or several as `files`'],
    ['an empty list of files', { files: [] }, 'options.files must be a non-empty list of input files, got []'],
    ['an empty name in files', { files: ['a.csv', ''] }, 'options.files must be a non-empty list of input files, got ["a.csv",""]'],
    ['standard input among files', { files: ['a.csv', '-'], table: 't' }, 'options.files: standard input ("-") is read as a stream, which is loaded on its own — load it in a run of its own'],
    ['a .gz among files', { files: ['a.csv', 'b.csv.gz'] }, 'options.files: b.csv.gz is read as a stream, which is loaded on its own — load it in a run of its own, or decompress it to a file first'],
    ['the same file twice', { files: ['a.csv', 'b.csv', 'a.csv'] }, 'options.files names a.csv twice: its rows would be loaded twice — name each file once (load it again in a run of its own if that is meant)'],
    ['the same file under two paths', { files: ['a.csv', './a.csv'] }, 'options.files names ./a.csv (that is a.csv) twice: its rows would be loaded twice — name each file once (load it again in a run of its own if that is meant)'],
    ['files whose names say different formats', { files: ['a.csv', 'b.txt'] }, 'options.files: a.csv would be read as csv and b.txt as text (by their names) — give options.format'],
    ['an empty table', { file: 'v.csv', table: '' }, 'options.table must not be empty'],
    ['chunkBytes 0', { file: 'v.csv', chunkBytes: 0 }, 'options.chunkBytes must be a positive integer, got 0'],
    ['an unknown header mode', { file: 'v.csv', header: 'yes' as 'names' }, 'options.header must be true (skip it), "match" (check its names) or "names" (map columns by them), got "yes"'],
    ['header names with columns', { file: 'v.csv', header: 'names', columns: ['a'] }, 'options.columns and options.header "names" contradict each other: with "names" the header gives the column list — drop one of them'],
    ['header match with binary', { file: 'v.bin', header: 'match' }, 'options.header does not apply to format "binary"'],
    ['an unknown create mode', { file: 'v.csv', create: 'always' as 'if-missing' }, 'options.create must be true, false or "if-missing", got "always"'],
    ['create with binary', { file: 'v.bin', create: true }, 'options.create needs format "csv" or "text": types are inferred from the values as written'],
    ['fractional chunkBytes', { file: 'v.csv', chunkBytes: 1.5 }, 'options.chunkBytes must be a positive integer, got 1.5'],
  ])('%s', (_, options, message) => {
    const error = rejection(options);
    expect(error).toBeInstanceOf(PloaderError);
    expect(error).toMatchObject({ code: 'INVALID_OPTION', message });
  });
});

describe('header and create', () => {
  it.each([
    [undefined, { header: false, headerMode: undefined }],
    [false, { header: false, headerMode: undefined }],
    [true, { header: true, headerMode: 'skip' }],
    ['match', { header: true, headerMode: 'match' }],
    ['names', { header: true, headerMode: 'names' }],
  ] as const)('header %j: the first record is skipped, and used as %j', (header, resolved) => {
    expect(resolveLoadOptions({ file: 'v.csv', header })).toMatchObject(resolved);
  });

  it.each([[undefined, false], [false, false], [true, true], ['if-missing', 'if-missing']] as const)('create %j → %j', (create, resolved) => {
    expect(resolveLoadOptions({ file: 'v.csv', create }).create).toBe(resolved);
  });
});

describe('parseByteSize', () => {
  it.each([
    ['1048576', 1048576],
    ['10B', 10],
    ['512kB', 512 * 1024],
    ['512KB', 512 * 1024],
    ['32MB', 32 << 20],
    [' 32 mb ', 32 << 20],
    ['2GB', 2 * 2 ** 30],
    ['0', 0],
  ])('%j → %d', (text, bytes) => {
    expect(parseByteSize('chunk-size', text)).toBe(bytes);
  });

  it.each([['1.5MB'], ['MB'], [''], ['-1MB'], ['1TB'], ['64 M'], ['1e6'], ['32MB!']])('rejects %j', (text) => {
    expect(() => parseByteSize('chunk-size', text)).toThrow(
      new PloaderError('INVALID_OPTION', `--chunk-size must be a size such as 32MB, 512kB or a number of bytes, got ${JSON.stringify(text)}`),
    );
  });
});

describe('parseMaxErrors', () => {
  it.each([
    ['0', 0],
    ['10', 10],
    [' 3 ', 3],
    ['all', Infinity],
    ['ALL', Infinity],
    [' All ', Infinity],
  ])('%j → %d', (text, maxErrors) => {
    expect(parseMaxErrors(text)).toBe(maxErrors);
  });

  it.each([['-1'], ['some'], [''], ['1.5'], ['1e3'], ['10 rows']])('rejects %j', (text) => {
    expect(() => parseMaxErrors(text)).toThrow(`--max-errors must be a number of rows or "all", got ${JSON.stringify(text)}`);
  });
});
