/**
 * The oracle for how data ends and how lines end: for end-of-data markers, line ends of mixed styles,
 * CR-only files and binary files without a trailer, ploader's outcome equals one plain COPY of the same
 * file into a twin table on the server the suite runs against (PostgreSQL 18 embedded, or 15):
 * both fail with the same SQLSTATE, message and line, the target untouched; or both succeed with the
 * same rows. At 1, 2 and 3 workers, chunks from a few bytes up, from a file and from a stream (.gz).
 */
import { gzipSync } from 'node:zlib';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import { describe, expect, it } from 'vitest';
import { PloaderError } from '../../src/errors.ts';
import { load } from '../../src/load.ts';
import { runCli } from '../support/cli.ts';
import { tableFingerprint, useTestDatabase } from '../support/database.ts';
import { useTempDir } from '../support/fixtures.ts';

const db = useTestDatabase();
const write = useTempDir();

const rows = (count: number, make: (i: number) => string) => Array.from({ length: count }, (_, i) => make(i)).join('');
const before = (end: string) => rows(30, (i) => `row ${i}${end}`);
const after = (end: string) => rows(30, (i) => `late ${i}${end}`);

interface Case {
  name: string;
  format: 'csv' | 'text';
  header?: boolean;
  content: string;
}

const cases: Case[] = [
  { name: 'csv: \\. line mid-file', format: 'csv', content: `${before('\n')}\\.\n${after('\n')}` },
  { name: 'csv: \\. line mid-file, CR LF', format: 'csv', content: `${before('\r\n')}\\.\r\n${after('\r\n')}` },
  { name: 'csv: \\. CR LF in an LF file', format: 'csv', content: `${before('\n')}\\.\r\n${after('\n')}` },
  { name: 'csv: \\. last, without a line end', format: 'csv', content: `${before('\n')}\\.` },
  { name: 'text: \\. line mid-file', format: 'text', content: `${before('\n')}\\.\n${after('\n')}` },
  { name: 'text: \\. line in a CR file', format: 'text', content: `${before('\r')}\\.\r${after('\r')}` },
  { name: 'text: data before \\. on its line', format: 'text', content: `${before('\n')}x\\.\n${after('\n')}` },
  { name: 'text: \\.x', format: 'text', content: `${before('\n')}\\.x\n${after('\n')}` },
  { name: 'text: \\\\. is data', format: 'text', content: `${before('\n')}\\\\.\n${after('\n')}` },
  { name: 'text: \\. as the header', format: 'text', header: true, content: `\\.\n${after('\n')}` },
  { name: 'csv: CR LF, then one LF', format: 'csv', content: `${before('\r\n')}x\n${after('\r\n')}` },
  { name: 'csv: LF, then one CR LF', format: 'csv', content: `${before('\n')}x\r\n${after('\n')}` },
  { name: 'csv: LF, then a bare CR', format: 'csv', content: `${before('\n')}x\ry\n${after('\n')}` },
  { name: 'csv: CR, then LF', format: 'csv', content: `${before('\r')}x\n${after('\r')}` },
  { name: 'text: LF, then CR LF', format: 'text', content: `${before('\n')}x\r\n${after('\n')}` },
  { name: 'text: CR LF, then an escaped CR before the LF', format: 'text', content: `${before('\r\n')}x\\\r\n${after('\r\n')}` },
  { name: 'csv: CR only, with a header', format: 'csv', header: true, content: `"v"\r${rows(60, (i) => `"cr ${i}\nquoted lf, ""q"""\r`)}` },
  { name: 'text: CR only', format: 'text', content: rows(60, (i) => `cr ${i}\\\rescaped\r`) },
  { name: 'csv: CR LF with bare LFs in quoted fields, as spreadsheets write', format: 'csv', header: true, content: `v\r\n${rows(60, (i) => `"cell ${i}\nsecond line"\r\n`)}` },
];

/** One chunk; a chunk per byte (every record start is a cut, so every line is some chunk's first);
 * a stream in batches of a few bytes. */
const runs = [
  { workers: 1, chunkBytes: undefined, stream: false },
  { workers: 2, chunkBytes: 1, stream: false },
  { workers: 3, chunkBytes: 4, stream: true },
];

type Outcome = { rows: number } | { sqlstate: string; message: string; line: number };

async function plainCopyOutcome(sql: string, file: string): Promise<Outcome> {
  const copy = db.client.query(copyFrom(sql));
  try {
    await pipeline(createReadStream(file), copy);
    return { rows: copy.rowCount ?? 0 };
  } catch (error) {
    const e = error as { code: string; message: string; where?: string };
    return { sqlstate: e.code, message: e.message, line: Number(/line (\d+)/.exec(e.where ?? '')?.[1]) };
  }
}

async function fresh(): Promise<void> {
  await db.client.query('DROP TABLE IF EXISTS target, twin; CREATE TABLE target (id serial, v text); CREATE TABLE twin (id serial, v text)');
}

describe.each(cases)('$name', (fixture) => {
  const content = Buffer.from(fixture.content);
  const file = write(`${fixture.name.replace(/\W+/g, '-')}.dat`, content);
  const gz = write(`${fixture.name.replace(/\W+/g, '-')}.dat.gz`, gzipSync(content));

  it.each(runs)('workers $workers, chunk $chunkBytes bytes, stream $stream: the outcome of one COPY', async ({ workers, chunkBytes, stream }) => {
    await fresh();
    const options = `FORMAT ${fixture.format}${fixture.header ? ', HEADER true' : ''}`;
    const expected = await plainCopyOutcome(`COPY twin (v) FROM STDIN (${options})`, file);
    const loading = load({ file: stream ? gz : file, table: 'target', db: db.url, columns: ['v'], format: fixture.format, header: fixture.header, workers, chunkBytes });
    if ('rows' in expected) {
      const report = await loading;
      expect(report.rows).toBe(expected.rows);
      expect(await tableFingerprint(db.client, 'target', ['v'])).toEqual(await tableFingerprint(db.client, 'twin', ['v']));
      return;
    }
    const error = await loading.then(() => undefined, (caught: unknown) => caught);
    expect(error, `COPY failed with ${expected.message}`).toBeInstanceOf(PloaderError);
    const failure = error as PloaderError;
    expect(failure.server?.sqlstate).toBe(expected.sqlstate);
    expect(failure.message).toContain(`: ${expected.message} (SQLSTATE ${expected.sqlstate})`);
    // Each line here is one record and no field spans lines, so COPY's line counter is the physical line.
    expect(failure.position?.line).toBe(expected.line);
    expect(failure.message).not.toMatch(/fix the row and load again \(nothing was loaded\).*fix the row/);
    const { rows: [{ n }] } = await db.client.query('SELECT count(*)::int AS n FROM target');
    expect(n).toBe(0);
  });
});

describe('what ploader says about how the data ends', () => {
  it('warns, naming the line, when data follows an end-of-data marker', async () => {
    await fresh();
    const file = write('marker.txt', `${before('\n')}\\.\n${after('\n')}`);
    const report = await load({ file, table: 'target', db: db.url, columns: ['v'], format: 'text', workers: 2, chunkBytes: 16 });
    expect(report.rows).toBe(30);
    expect(report.warnings).toContain(`${file}:31: a \\. (end-of-data marker) ends the text data here, as it ends one COPY's: the ${Buffer.byteLength(after('\n'))} bytes after it were not loaded`);
  });

  it('says the same for a stream, which is read to its end', async () => {
    await fresh();
    const gz = write('marker.txt.gz', gzipSync(`${before('\n')}\\.\n${after('\n')}`));
    const report = await load({ file: gz, table: 'target', db: db.url, columns: ['v'], format: 'text', workers: 2, chunkBytes: 16 });
    expect(report.rows).toBe(30);
    expect(report.warnings).toContain(`${gz}:31: a \\. (end-of-data marker) ends the text data here, as it ends one COPY's: the ${Buffer.byteLength(after('\n'))} bytes after it were not loaded`);
  });

  it('prints the COPY error with file, line and SQLSTATE, and no stack trace, for mixed line ends', async () => {
    await fresh();
    const file = write('mixed.csv', `${before('\r\n')}x\n${after('\r\n')}`);
    const { code, stderr } = await runCli([file, '--table', 'target', '--db', db.url, '--columns', 'v', '--format', 'csv']);
    expect(code).toBe(1);
    expect(stderr).toContain(`${file}:31: record 31: unquoted newline found in data (SQLSTATE 22P04); hint: Use quoted CSV field to represent newline.`);
    expect(stderr).toMatch(/convert the file to one line-end style \(e\.g\. dos2unix\), or pass --max-errors to set this record aside/);
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});

/** A binary COPY file of `count` one-int tuples, its trailer left out or cut as asked. */
function binaryFile(count: number, ending: 'trailer' | 'none' | 'stray byte' | 'cut tuple'): Buffer {
  const header = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
  const tuples = Array.from({ length: count }, (_, i) => {
    const tuple = Buffer.alloc(10);
    tuple.writeInt16BE(1, 0);
    tuple.writeInt32BE(4, 2);
    tuple.writeInt32BE(i, 6);
    return tuple;
  });
  const end = { trailer: Buffer.from([0xff, 0xff]), none: Buffer.alloc(0), 'stray byte': Buffer.from([0]), 'cut tuple': tuples[0].subarray(0, 7) }[ending];
  return Buffer.concat([header, ...tuples, end]);
}

describe.each(['trailer', 'none', 'stray byte', 'cut tuple'] as const)('binary file ending: %s', (ending) => {
  const file = write(`ending-${ending.replace(' ', '-')}.bin`, binaryFile(50, ending));

  it.each([
    { workers: 1, chunkBytes: undefined },
    { workers: 2, chunkBytes: 10 },
    { workers: 3, chunkBytes: 25 },
  ])('workers $workers, chunk $chunkBytes bytes: the outcome of one COPY', async ({ workers, chunkBytes }) => {
    await db.client.query('DROP TABLE IF EXISTS target, twin; CREATE TABLE target (n int); CREATE TABLE twin (n int)');
    const expected = await plainCopyOutcome('COPY twin FROM STDIN (FORMAT binary)', file);
    const loading = load({ file, table: 'target', db: db.url, format: 'binary', workers, chunkBytes });
    if ('rows' in expected) {
      const report = await loading;
      expect(report.rows).toBe(expected.rows);
      expect(await tableFingerprint(db.client, 'target', ['n'])).toEqual(await tableFingerprint(db.client, 'twin', ['n']));
      expect(report.warnings.some((w) => /trailer|field count/.test(w))).toBe(ending !== 'trailer');
      return;
    }
    // COPY: "unexpected EOF in COPY data"; ploader refuses the file before loading, naming the byte.
    expect(expected.sqlstate).toBe('22P04');
    await expect(loading).rejects.toMatchObject({ code: 'INPUT_UNREADABLE', message: expect.stringMatching(/is truncated: the file ends at byte \d+/) });
    const { rows: [{ n }] } = await db.client.query('SELECT count(*)::int AS n FROM target');
    expect(n).toBe(0);
  });
});
