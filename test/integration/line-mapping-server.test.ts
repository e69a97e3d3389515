/**
 * simulateServerLines claims to reproduce the server's `CONTEXT: COPY t, line N` counter. Here the
 * server says: for each fixture, one record at a time is made bad (a non-integer in an int column), a
 * plain COPY of the whole input fails, and the record whose simulated count equals the reported N must
 * be exactly the record that was made bad — its index, its bytes and its physical line.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import { beforeAll, describe, expect, it } from 'vitest';
import { serverFields } from '../../src/errors.ts';
import { parseCopyContext, simulateServerLines } from '../../src/rows/line-mapping.ts';
import { scanCopyRecords } from '../../src/rows/copy-records.ts';
import { windowRecordAt } from '../../src/rows/isolate-bad-rows.ts';
import type { RecordSyntax } from '../../src/input/scan/record-syntax.ts';
import { copyFromStdin, quoteIdent, type CopyStatementOptions } from '../../src/db/sql.ts';
import { SQLSTATE } from '../../src/db/sqlstate.ts';
import { useTestDatabase } from '../support/database.ts';

const db = useTestDatabase();

const DOUBLE_QUOTE = 0x22;
const SINGLE_QUOTE = 0x27;
const BACKSLASH = 0x5c;
const LF = 0x0a;
const CR = 0x0d;
/** A value the int column refuses: the server then names that record's line. */
const BAD_VALUE = 'x';
const COLUMNS = ['a', 'n', 'b'];

interface Fixture {
  name: string;
  options: CopyStatementOptions;
  syntax: RecordSyntax;
  /** Each record with its line end; `n` goes into the int column. */
  records: Array<(n: string) => string>;
}

const csv = (quote = DOUBLE_QUOTE, escape = quote): RecordSyntax => ({ format: 'csv', quote, escape });
const TEXT: RecordSyntax = { format: 'text', quote: DOUBLE_QUOTE, escape: DOUBLE_QUOTE };

const fixtures: Fixture[] = [
  {
    name: 'csv, LF: quoted LFs in the first record and later ones',
    options: { format: 'csv' },
    syntax: csv(),
    records: [
      (n) => `"first\nrecord",${n},x\n`,
      (n) => `plain,${n},x\n`,
      (n) => `"two\nquoted\nLFs",${n},"and\none more"\n`,
      (n) => `a,${n},"""quoted"" \n"\n`,
      (n) => `"",${n},\n`,
      (n) => `last,${n},"no final\nnewline"`,
    ],
  },
  {
    name: 'csv, LF: quoted CRLF and bare CR',
    options: { format: 'csv' },
    syntax: csv(),
    records: [
      (n) => `"crlf\r\nfirst",${n},x\n`,
      (n) => `"bare\rcr",${n},x\n`,
      (n) => `b,${n},"crlf\r\nlater"\n`,
      (n) => `c,${n},d\n`,
    ],
  },
  {
    // Before the first unquoted line end the server counts quoted CRs, whatever the line ending turns out to be.
    name: 'csv, LF: a quoted bare CR in the first record',
    options: { format: 'csv' },
    syntax: csv(),
    records: [(n) => `"cr\rfirst",${n},x\n`, (n) => `"lf\nlater",${n},x\n`, (n) => `z,${n},z\n`],
  },
  {
    name: 'csv, CRLF line endings, quoted CRLF and bare LF',
    options: { format: 'csv' },
    syntax: csv(),
    records: [
      (n) => `"a\r\nb",${n},x\r\n`,
      (n) => `plain,${n},x\r\n`,
      (n) => `"bare\nlf",${n},"crlf\r\nhere"\r\n`,
      (n) => `e,${n},f\r\n`,
    ],
  },
  {
    name: 'csv, CR line endings',
    options: { format: 'csv' },
    syntax: csv(),
    records: [(n) => `a,${n},"x\ry"\r`, (n) => `b,${n},c\r`, (n) => `"lf\nin quotes",${n},"cr\rtoo"\r`, (n) => `d,${n},e\r`],
  },
  {
    name: 'csv, ESCAPE \\',
    options: { format: 'csv', escape: '\\' },
    syntax: csv(DOUBLE_QUOTE, BACKSLASH),
    records: [
      (n) => `"esc\\"aped\nquote",${n},x\n`,
      (n) => `b,${n},"back\\\\"\n`,
      (n) => `"a\\\\\\"\n",${n},c\n`,
      (n) => `back\\slash,${n},"x\\"\n\\""\n`,
      (n) => `e,${n},f\n`,
    ],
  },
  {
    name: "csv, QUOTE '",
    options: { format: 'csv', quote: "'" },
    syntax: csv(SINGLE_QUOTE),
    // The double quote is an ordinary byte here.
    records: [(n) => `'it''s\nquoted',${n},x\n`, (n) => `"not,${n},x\n`, (n) => `'a\nb',${n},"too\n`],
  },
  {
    name: 'text: backslash-escaped newlines',
    options: { format: 'text' },
    syntax: TEXT,
    records: [
      (n) => `first\\\nline\t${n}\tx\n`,
      (n) => `plain\t${n}\tx\n`,
      (n) => `two\\\n\\\nescaped\t${n}\t\\\\\n`,
      (n) => `"quotes"\t${n}\tmean nothing\n`,
      (n) => `last\t${n}\tno final newline`,
    ],
  },
  {
    name: 'text: CRLF line endings',
    options: { format: 'text' },
    syntax: TEXT,
    records: [(n) => `a\t${n}\tb\r\n`, (n) => `c\\\nd\t${n}\te\r\n`, (n) => `f\t${n}\tg\r\n`],
  },
];

/** Runs one plain COPY of `data`; returns the error it failed with, or its row count. */
async function copy(sql: string, data: Buffer): Promise<{ rows: number } | { error: Error & Record<string, unknown> }> {
  const stream = db.client.query(copyFrom(sql));
  try {
    await pipeline(Readable.from([data]), stream);
    return { rows: stream.rowCount ?? 0 };
  } catch (error) {
    return { error: error as Error & Record<string, unknown> };
  }
}

/** The physical line at `offset`, counting the line ends of the stream's style: CR in a CR-only stream
 * (its first unquoted line end is a CR not followed by LF), else LF. */
function lineAt(data: Buffer, offset: number): number {
  const lineEnd = isCrOnly(data) ? CR : LF;
  let line = 1;
  for (let i = 0; i < offset; i++) if (data[i] === lineEnd) line++;
  return line;
}

function isCrOnly(data: Buffer): boolean {
  let inQuotes = false;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === DOUBLE_QUOTE) inQuotes = !inQuotes;
    else if (!inQuotes && data[i] === LF) return false;
    else if (!inQuotes && data[i] === CR) return data[i + 1] !== LF;
  }
  return false;
}

describe.each(fixtures.map((fixture, i) => ({ ...fixture, table: `t${i}` })))('$name', ({ table, options, syntax, records }) => {
  const sql = copyFromStdin({ schema: 'public', name: table }, COLUMNS, options);

  beforeAll(async () => {
    await db.client.query(`CREATE TABLE ${quoteIdent(table)} (a text, n int, b text)`);
  });

  it('loads every record when none is bad (the fixture is valid COPY input)', async () => {
    const data = Buffer.from(records.map((record, i) => record(String(i))).join(''));
    expect(await copy(sql, data)).toEqual({ rows: records.length });
    expect(simulateServerLines(data, syntax)).toHaveLength(records.length);
    await db.client.query(`TRUNCATE ${quoteIdent(table)}`);
  });

  it.each(records.map((_, bad) => bad))('record %i made bad: the server\'s line N is that record', async (bad) => {
    const texts = records.map((record, i) => record(i === bad ? BAD_VALUE : String(i)));
    const data = Buffer.from(texts.join(''));
    const start = Buffer.byteLength(texts.slice(0, bad).join(''));
    const end = start + Buffer.byteLength(texts[bad]);

    const outcome = await copy(sql, data);
    if (!('error' in outcome)) throw new Error(`COPY loaded ${outcome.rows} rows with record ${bad} bad`);
    const server = serverFields(outcome.error)!;
    expect(server.sqlstate).toBe(SQLSTATE.INVALID_TEXT_REPRESENTATION);
    const at = parseCopyContext(server.where);
    expect(at, `CONTEXT: ${server.where}`).toMatchObject({ column: 'n' });

    const simulated = simulateServerLines(data, syntax);
    const index = simulated.findIndex((record) => record.serverLine === at!.line);
    expect(index, `server line ${at!.line}, simulated ${simulated.map((r) => r.serverLine).join(',')}`).toBe(bad);
    // The same mapping as the worker makes for --max-errors: the bad record's exact bytes and line.
    const scanned = scanCopyRecords(data, syntax).find((record) => record.serverLine === at!.line);
    expect(scanned).toMatchObject({ index: bad, start, end, line: lineAt(data, start) });
  });

  // The probe of bad-row isolation COPYs windows that start in the middle of a chunk, primed with the
  // good record before them (or not, when there is none): its line N must name the same record.
  it.each(records.flatMap((_, bad) => records.slice(0, bad + 1).flatMap((__, from) => [{ bad, from, primed: from > 0 }, ...(from > 0 ? [{ bad, from, primed: false }] : [])])))(
    'a window from record $from (primed: $primed) with record $bad bad: its line N is that record',
    async ({ bad, from, primed }) => {
      const texts = records.map((record, i) => record(i === bad ? BAD_VALUE : String(i)));
      const all = scanCopyRecords(Buffer.from(texts.join('')), syntax).map((record) => ({ ...record, bytes: Buffer.from(texts[record.index]) }));
      const primer = primed ? all[from - 1] : undefined;
      const window = all.slice(from);
      const outcome = await copy(sql, Buffer.concat([...(primer ? [primer.bytes] : []), ...window.map((r) => r.bytes)]));
      if (!('error' in outcome)) throw new Error(`COPY loaded ${outcome.rows} rows with record ${bad} bad`);
      const at = parseCopyContext(serverFields(outcome.error)!.where)!;
      expect(windowRecordAt(window, primer, at.line)).toBe(bad - from);
      await db.client.query(`TRUNCATE ${quoteIdent(table)}`);
    },
  );
});

describe('csv, LF: a stray unquoted CR', () => {
  const table = 'stray_cr';
  const sql = copyFromStdin({ schema: 'public', name: table }, COLUMNS, { format: 'csv' });
  const records = ['a,0,x\n', 'b,1,x\rc,2,d\n', 'd,3,x\n'];
  const data = Buffer.from(records.join(''));
  const bad = { start: 6, end: 6 + records[1].length };

  beforeAll(async () => {
    await db.client.query(`CREATE TABLE ${quoteIdent(table)} (a text, n int, b text)`);
  });

  it('the server refuses the record holding it, and the simulation finds where that record starts', async () => {
    const outcome = await copy(sql, data);
    if (!('error' in outcome)) throw new Error('COPY accepted a stray CR');
    const server = serverFields(outcome.error)!;
    expect(server.sqlstate).toBe(SQLSTATE.BAD_COPY_FILE_FORMAT);
    const simulated = simulateServerLines(data, csv());
    const index = simulated.findIndex((record) => record.serverLine === parseCopyContext(server.where)?.line);
    expect(simulated[index]?.offset).toBe(bad.start);
  });

  // Once the line ending is known to be LF, an unquoted CR does not end a record (the server refuses
  // it), so the bad record runs to the LF: with --max-errors the whole physical line is set aside.
  it('the bad record found is the whole line the server refused', async () => {
    const outcome = await copy(sql, data);
    const server = serverFields('error' in outcome ? outcome.error : undefined)!;
    const record = scanCopyRecords(data, csv()).find((r) => r.serverLine === parseCopyContext(server.where)?.line);
    expect(record).toMatchObject({ ...bad, stray: true });
  });
});
