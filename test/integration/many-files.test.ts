/**
 * Many files, one load (issue 14 items 4 and 5): several files of one layout loaded as one atomic
 * load equal one `\copy` of each, in order, row by row and id by id; a bad row in any file leaves
 * the target as it was and names that file's line; rejects, --resume, headers and --dry-run work
 * per file; a shell glob is a list of files.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { to as copyTo } from 'pg-copy-streams';
import { describe, expect, it } from 'vitest';
import { PloaderError } from '../../src/errors.ts';
import { load } from '../../src/index.ts';
import { CLI, runCli } from '../support/cli.ts';
import { ploaderRelations, tableFingerprint, useTestDatabase } from '../support/database.ts';
import { plainCopy, useTempDir } from '../support/fixtures.ts';
import { killMidLoad } from '../support/kill-mid-load.ts';

const db = useTestDatabase();
const write = useTempDir();
const COLUMNS = ['username', 'link', 'score'];

/** `count` records from `from` on, a quoted newline in every seventh (so lines and records differ). */
function records(from: number, count: number): string[] {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    return i % 7 === 0 ? `u${i},"two\nlines ${i}",${i % 3}\n` : `u${i},link ${i},${i % 5}\n`;
  });
}

const parts = [records(0, 900), records(900, 1300), records(2200, 700)];
const [first, second, third] = ['first.csv', 'second.csv', 'third.csv'].map((name, i) => write(name, parts[i].join('')));
const FILES = [first, second, third];
/** A file in a folder of the temp dir (so that it can have the same name as another). */
function writeAt(relative: string, content: string | Buffer): string {
  mkdirSync(path.join(path.dirname(first), path.dirname(relative)), { recursive: true });
  return write(relative, content);
}

/** The physical line of record `index` (0-based) of a file of `lines`. */
function lineOf(recordsOfFile: readonly string[], index: number): number {
  return 1 + recordsOfFile.slice(0, index).reduce((sum, r) => sum + r.split('\n').length - 1, 0);
}

const serial = (name: string) => `CREATE TABLE ${name} (voteid serial PRIMARY KEY, username text NOT NULL, link text NOT NULL, score int NOT NULL)`;

async function freshPair(ddl = serial): Promise<void> {
  await db.client.query(`DROP TABLE IF EXISTS votes, twin; ${ddl('votes')}; ${ddl('twin')};`);
}

async function binaryOf(query: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  await pipeline(db.client.query(copyTo(`COPY (${query}) TO STDOUT (FORMAT binary)`)), new Writable({ write(chunk: Buffer, _e, done) { parts.push(chunk); done(); } }));
  return Buffer.concat(parts);
}

/** `\copy` of each file into the twin, in order: what the load must equal. */
async function copyEachIntoTwin(files: readonly string[], options = 'FORMAT csv'): Promise<void> {
  for (const file of files) await plainCopy(db.client, `COPY twin (${COLUMNS.join(', ')}) FROM STDIN (${options})`, file);
}

/** Both tables row by row in id order, and their sequences where they stopped. */
async function expectSameRowsAndIds(): Promise<void> {
  const rows = async (table: string) => (await db.client.query(`SELECT voteid, username, link, score FROM ${table} ORDER BY voteid`)).rows;
  const [loaded, copied] = [await rows('votes'), await rows('twin')];
  expect(loaded.length).toBe(copied.length);
  expect(loaded).toEqual(copied);
  const last = async (table: string) => (await db.client.query(`SELECT last_value::text AS v FROM ${table}_voteid_seq`)).rows[0].v;
  expect(await last('votes')).toBe(await last('twin'));
}

describe('several files in one load', () => {
  it.each([
    { workers: 1, chunkBytes: undefined },
    { workers: 1, chunkBytes: 700 },
    { workers: 3, chunkBytes: 700 },
  ])('equal one \\copy of each, in order, rows and serial ids (workers $workers, chunks of $chunkBytes bytes)', async ({ workers, chunkBytes }) => {
    await freshPair();
    const report = await load({ files: FILES, table: 'votes', db: db.url, columns: COLUMNS, workers, chunkBytes });
    await copyEachIntoTwin(FILES);
    expect(report.rows).toBe(2900);
    expect(report.files).toEqual(FILES);
    expect(report.bytes).toBe(FILES.reduce((sum, f) => sum + readFileSync(f).length, 0));
    await expectSameRowsAndIds();
    expect(await ploaderRelations(db.client)).toEqual([]);
  });

  it('a table with a row trigger: one COPY of each file straight into the target, as \\copy of each', async () => {
    const withTrigger = (name: string) =>
      `${serial(name)}; CREATE FUNCTION ${name}_upper() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.username := upper(NEW.username); RETURN NEW; END$$;
       CREATE TRIGGER ${name}_upper BEFORE INSERT ON ${name} FOR EACH ROW EXECUTE FUNCTION ${name}_upper()`;
    await db.client.query('DROP FUNCTION IF EXISTS votes_upper, twin_upper CASCADE');
    await freshPair(withTrigger);
    const report = await load({ files: FILES, table: 'votes', db: db.url, columns: COLUMNS, workers: 2 });
    expect(report.strategy.publish).toBe('direct');
    await copyEachIntoTwin(FILES);
    await expectSameRowsAndIds();
  });

  it.each([
    { workers: 3, chunkBytes: 4096, trigger: false },
    { workers: 1, chunkBytes: undefined, trigger: true },
  ])('binary files, each with its own header and trailer: equal one binary COPY of each (workers $workers, straight into the target: $trigger)', async ({ workers, chunkBytes, trigger }) => {
    await db.client.query('CREATE OR REPLACE FUNCTION pass_row() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$');
    const withTrigger = (name: string) => `${serial(name)}; CREATE TRIGGER ${name}_fires BEFORE INSERT ON ${name} FOR EACH ROW EXECUTE FUNCTION pass_row()`;
    await freshPair(trigger ? withTrigger : serial);
    const binary = await Promise.all(FILES.map(async (file, i) => {
      await db.client.query('TRUNCATE twin');
      await plainCopy(db.client, `COPY twin (${COLUMNS.join(', ')}) FROM STDIN (FORMAT csv)`, file);
      return writeAt(`binary/part-${i}.bin`, await binaryOf(`SELECT ${COLUMNS.join(', ')} FROM twin ORDER BY voteid`));
    }));
    await freshPair(trigger ? withTrigger : serial);
    const report = await load({ files: binary, table: 'votes', db: db.url, columns: COLUMNS, workers, chunkBytes });
    expect(report.strategy.publish).toBe(trigger ? 'direct' : 'swap');
    for (const file of binary) await plainCopy(db.client, `COPY twin (${COLUMNS.join(', ')}) FROM STDIN (FORMAT binary)`, file);
    await expectSameRowsAndIds();
  });

  describe('a bad row in the third file', () => {
    const badIndex = 412;
    const bad = writeAt('bad/third.csv', parts[2].map((r, i) => (i === badIndex ? 'u-bad,link,not-a-number\n' : r)).join(''));

    it.each([
      { workers: 1, chunkBytes: undefined },
      { workers: 3, chunkBytes: 700 },
    ])('leaves the target untouched and names third.csv:LINE (workers $workers, chunks of $chunkBytes)', async ({ workers, chunkBytes }) => {
      await freshPair();
      await db.client.query("INSERT INTO votes (username, link, score) SELECT 'old' || g, 'kept', g FROM generate_series(1, 50) g");
      const before = await tableFingerprint(db.client, 'votes', ['voteid', ...COLUMNS]);
      const failure = (await load({ files: [first, second, bad], table: 'votes', db: db.url, columns: COLUMNS, workers, chunkBytes }).catch((e: unknown) => e)) as PloaderError;
      expect(failure).toBeInstanceOf(PloaderError);
      expect(failure.code).toBe('BAD_ROW');
      expect(failure.position).toMatchObject({ file: bad, line: lineOf(parts[2], badIndex), record: 900 + 1300 + badIndex + 1 });
      expect(failure.toString()).toContain(`third.csv:${lineOf(parts[2], badIndex)}: `);
      expect(await tableFingerprint(db.client, 'votes', ['voteid', ...COLUMNS])).toEqual(before);
      expect(await ploaderRelations(db.client)).toEqual([]);
    });

    it('after a bad row in the second file too, the second file\'s is reported: the first in the files\' order', async () => {
      await freshPair();
      const badSecond = writeAt('bad/second.csv', parts[1].map((r, i) => (i === 1200 ? 'u-bad,link,x\n' : r)).join(''));
      const failure = (await load({ files: [first, badSecond, bad], table: 'votes', db: db.url, columns: COLUMNS, workers: 3, chunkBytes: 700 }).catch((e: unknown) => e)) as PloaderError;
      expect(failure.position).toMatchObject({ file: badSecond, line: lineOf(parts[1], 1200) });
      expect(await ploaderRelations(db.client)).toEqual([]);
    });
  });

  it('--max-errors with bad rows in two files: the reject file holds them byte for byte in input order, the log names each file:line', async () => {
    await freshPair();
    const badAt = { 1: [5, 600], 2: [0, 699] } as Record<number, number[]>;
    const badRecord = (f: number, i: number) => `bad ${f} ${i},"quoted\nbad",zz\n`;
    const written = parts.map((recs, f) => recs.map((r, i) => (badAt[f]?.includes(i) ? badRecord(f, i) : r)));
    const files = written.map((recs, f) => writeAt(`rejects/${['first', 'second', 'third'][f]}.csv`, recs.join('')));
    const rejectFile = writeAt('rejects/out.rejects', '');
    const report = await load({ files, table: 'votes', db: db.url, columns: COLUMNS, workers: 3, chunkBytes: 700, maxErrors: 10, rejectFile });
    expect(report.rows).toBe(2896);
    expect(report.rejected).toBe(4);
    // Records are numbered across the files, as in their concatenation.
    const recordsBefore = [0, 900, 2200];
    const expected = [1, 2].flatMap((f) => badAt[f].map((i) => ({ file: files[f], line: lineOf(written[f], i), record: recordsBefore[f] + i + 1, bytes: badRecord(f, i) })));
    expect(readFileSync(rejectFile, 'utf8')).toBe(expected.map((e) => e.bytes).join(''));
    const log = readFileSync(`${rejectFile}.log`, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { file: string; line: number; record: number; sqlstate: string });
    expect(log.map(({ file, line, record, sqlstate }) => ({ file, line, record, sqlstate }))).toEqual(expected.map(({ file, line, record }) => ({ file, line, record, sqlstate: '22P02' })));
    // The good rows, each exactly once.
    const good = parts.map((recs, f) => writeAt(`rejects/good-${f}.csv`, recs.filter((_, i) => !badAt[f]?.includes(i)).join('')));
    await copyEachIntoTwin(good);
    expect(await tableFingerprint(db.client, 'votes', COLUMNS)).toEqual(await tableFingerprint(db.client, 'twin', COLUMNS));
  });

  it('--on-conflict skip with a key repeated in a later file: the first is kept, the later set aside naming its file:line', async () => {
    await db.client.query('DROP TABLE IF EXISTS users; CREATE TABLE users (id int PRIMARY KEY, name text)');
    const files = [writeAt('keys/u1.csv', '1,a\n2,b\n3,c\n'), writeAt('keys/u2.csv', '4,d\n2,"B\nB"\n5,e\n'), writeAt('keys/u3.csv', '6,f\n1,A\n')];
    const report = await load({ files, table: 'users', db: db.url, onConflict: 'skip', workers: 2, chunkBytes: 4 });
    expect(report.rows).toBe(6);
    expect(readFileSync(`${files[0]}.rejects`, 'utf8')).toBe('2,"B\nB"\n1,A\n');
    const log = readFileSync(`${files[0]}.rejects.log`, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { file: string; line: number; record: number });
    expect(log.map(({ file, line, record }) => [file, line, record])).toEqual([[files[1], 2, 5], [files[2], 2, 8]]);
    expect((await db.client.query("SELECT string_agg(id || '=' || name, ' ' ORDER BY id) AS rows FROM users")).rows[0].rows).toBe('1=a 2=b 3=c 4=d 5=e 6=f');
  });

  describe('headers, one per file', () => {
    const header = 'username,link,score\n';
    const withHeader = parts.map((recs, i) => writeAt(`headers/h${i}.csv`, header + recs.join('')));

    it.each([true, 'match', 'names'] as const)('--header %s: each file\'s header is skipped, the rows are the files\' own', async (mode) => {
      await freshPair();
      await load({ files: withHeader, table: 'votes', db: db.url, header: mode, workers: 2, chunkBytes: 900, ...(mode === 'names' ? {} : { columns: COLUMNS }) });
      await copyEachIntoTwin(withHeader, 'FORMAT csv, HEADER true');
      await expectSameRowsAndIds();
    });

    it('--header names: an empty first file and a file of only a header load nothing; the columns come from the first header there is', async () => {
      await freshPair();
      const empty = writeAt('headers/empty.csv', '');
      const headerOnly = writeAt('headers/header-only.csv', header);
      const report = await load({ files: [empty, withHeader[0], headerOnly, withHeader[1], withHeader[2]], table: 'votes', db: db.url, header: 'names', workers: 2 });
      expect(report.columns).toEqual(COLUMNS);
      await copyEachIntoTwin(withHeader, 'FORMAT csv, HEADER true');
      await expectSameRowsAndIds();
    });

    it('--header names with a second file whose columns are in another order is refused before loading, naming the file and the field', async () => {
      await freshPair();
      const shuffled = writeAt('headers/shuffled.csv', `link,username,score\n${parts[1].map((r) => r).join('')}`);
      const failure = (await load({ files: [withHeader[0], shuffled, withHeader[2]], table: 'votes', db: db.url, header: 'names' }).catch((e: unknown) => e)) as PloaderError;
      expect(failure).toBeInstanceOf(PloaderError);
      expect(failure.code).toBe('TARGET_INVALID');
      expect(failure.position).toEqual({ file: shuffled, line: 1 });
      expect(failure.message).toContain(`--header names: header field 1 is "link", but ${withHeader[0]}'s is "username"`);
      expect(failure.message).toMatch(/every header must name the same columns in the same order/);
      expect((await db.client.query('SELECT count(*)::int AS n FROM votes')).rows[0].n).toBe(0);
      expect(await ploaderRelations(db.client)).toEqual([]);
    });
  });

  it('--dry-run lists the files and their chunks', async () => {
    await freshPair();
    const result = await runCli(['--db', db.url, '--table', 'votes', '--columns', COLUMNS.join(','), '--workers', '2', '--chunk-size', '8kB', '--dry-run', ...FILES]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^plan for loading 3 files \(\d+ bytes\) into "public"\."votes" — dry run, nothing loaded$/m);
    expect(result.stdout).toMatch(new RegExp(`^  file 1: ${escape(first)}, chunks #0-#\\d+ \\(900 records\\)$`, 'm'));
    expect(result.stdout).toMatch(new RegExp(`^  file 3: ${escape(third)}, chunks? #\\d+(-#\\d+)? \\(700 records\\)$`, 'm'));
    expect(result.stdout).toMatch(new RegExp(`^  #0: ${escape(first)} bytes \\[0, \\d+\\) from line 1$`, 'm'));
    expect((await db.client.query('SELECT count(*)::int AS n FROM votes')).rows[0].n).toBe(0);
  });

  it('the CLI loads what a shell glob expands to, in the glob\'s (sorted) order', async () => {
    await freshPair();
    const dir = path.dirname(writeAt('glob/part-1.csv', parts[0].join('')));
    writeAt('glob/part-2.csv', parts[1].join(''));
    writeAt('glob/part-3.csv', parts[2].join(''));
    const { stdout } = await promisify(execFile)('sh', ['-c', `"${process.execPath}" "${CLI}" --db '${db.url}' -t votes --columns ${COLUMNS.join(',')} -j 2 --chunk-size 4kB "${dir}"/part-*.csv`]);
    expect(stdout).toMatch(/^COPY 2900$/m);
    expect(stdout).toMatch(/^files +3: .*part-1\.csv, .*part-2\.csv, .*part-3\.csv$/m);
    await copyEachIntoTwin(FILES);
    await expectSameRowsAndIds();
  });

  describe('refused, by name', () => {
    it.each([
      ['file and files together', { file: first, files: [second] }, 'options.file and options.files contradict each other'],
      ['an empty list', { files: [] }, 'options.files must be a non-empty list of input files'],
      ['standard input among files', { files: [first, '-'] }, 'standard input ("-") is read as a stream, which is loaded on its own'],
      ['a .gz among files', { files: [first, 'more.csv.gz'] }, 'more.csv.gz is read as a stream, which is loaded on its own'],
      ['the same file twice', { files: [first, second, first] }, `options.files names ${first} twice: its rows would be loaded twice`],
      ['names that say different formats', { files: [first, 'other.txt'] }, 'would be read as csv and other.txt as text'],
    ])('%s', async (_, files, message) => {
      const failure = (await load({ ...files, table: 'votes', db: db.url } as Parameters<typeof load>[0]).catch((e: unknown) => e)) as PloaderError;
      expect(failure).toBeInstanceOf(PloaderError);
      expect(failure.code).toBe('INVALID_OPTION');
      expect(failure.message).toContain(message);
    });

    it('the same file under a second name (a link)', async () => {
      await freshPair();
      const link = path.join(path.dirname(first), 'link-to-first.csv');
      symlinkSync(first, link);
      const failure = (await load({ files: [first, link], table: 'votes', db: db.url, columns: COLUMNS }).catch((e: unknown) => e)) as PloaderError;
      expect(failure.code).toBe('INVALID_OPTION');
      expect(failure.message).toBe(`${link} is the same file as ${first} (a link to it): its rows would be loaded twice — name it once`);
    });

    it('a .gz given with other files on the command line', async () => {
      const gz = write('stream.csv.gz', gzipSync(parts[0].join('')));
      const result = await runCli(['--db', db.url, '-t', 'votes', first, gz]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(`the FILE arguments: ${gz} is read as a stream, which is loaded on its own`);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    });
  });
});

describe('an interrupted load of several files', () => {
  // Slow rows, so that a kill lands mid-load.
  const slow = (name: string) =>
    `CREATE TABLE ${name} (voteid serial PRIMARY KEY, username text NOT NULL, link text NOT NULL, score int NOT NULL CHECK (slow_ok(score)))`;
  const args = ['--db', db.url, '--table', 'votes', '--columns', COLUMNS.join(','), '--workers', '2', '--chunk-size', '4kB', ...FILES];

  it('kill -9, a --resume with another list is refused with the reason, then --resume with the same list equals the three \\copys', async () => {
    await db.client.query("CREATE OR REPLACE FUNCTION slow_ok(int) RETURNS boolean LANGUAGE sql AS 'SELECT pg_sleep(0.001) IS NOT NULL'");
    await freshPair(slow);
    // An mtime that can be put back exactly (stat's has more precision than utimes takes).
    const wholeSecond = Math.floor(Date.now() / 1000) - 60;
    utimesSync(second, wholeSecond, wholeSecond);
    expect(await killMidLoad(db.client, args, { table: 'votes', doneChunks: 3 })).toBeGreaterThanOrEqual(3);
    const ledger = (await db.client.query(`SELECT relname FROM pg_class WHERE relname LIKE 'ploader\\_votes\\_%\\_chunks'`)).rows[0].relname as string;
    // The ledger says which file each chunk is of: all three are there.
    expect((await db.client.query(`SELECT array_agg(DISTINCT file ORDER BY file) AS files FROM "${ledger}"`)).rows[0].files).toEqual([0, 1, 2]);
    expect((await db.client.query('SELECT count(*)::int AS n FROM votes')).rows[0].n).toBe(0);

    const fewer = await runCli(['--resume', ...args.slice(0, -1)]);
    expect(fewer.code).not.toBe(0);
    expect(fewer.stderr).toContain(`was of 3 files (${FILES.map((f) => path.resolve(f)).join(', ')}); this load names 2 files`);
    expect(fewer.stderr).toMatch(/resume it with the same files, unchanged, in the same order, or run ploader --cleanup/);
    const reordered = await runCli(['--resume', ...args.slice(0, -3), second, first, third]);
    expect(reordered.stderr).toMatch(/this load names 3 files .*, not those 3 files in that order/);

    // A file touched since: refused too, naming it (its whole-second mtime, set before the load, put back after).
    utimesSync(second, wholeSecond + 5, wholeSecond + 5);
    const touched = await runCli(['--resume', ...args]);
    expect(touched.code).not.toBe(0);
    expect(touched.stderr).toContain(`${path.resolve(second)} has been modified since`);
    utimesSync(second, wholeSecond, wholeSecond);

    const resumed = await runCli(['--resume', ...args]);
    expect(resumed.stderr).toMatch(/load: \d+ chunks \(\d+ done before\)/);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/^COPY 2900$/m);
    await copyEachIntoTwin(FILES);
    await expectSameRowsAndIds();
    expect(await ploaderRelations(db.client)).toEqual([]);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
