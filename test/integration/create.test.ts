/**
 * --create: a table made from the file. For each file, the column types it gets (file → expected
 * DDL) and the same values as \copy into that DDL; records sampled over the whole file, a value
 * outside the sample an ordinary bad row; the table appearing with its rows, owned by the loading
 * role, in the schema --table names; --create against an existing table; and two real processes
 * racing to create one table.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PloaderError } from '../../src/errors.ts';
import { load } from '../../src/load.ts';
import { runCli, runCliWithStdin, startCli } from '../support/cli.ts';
import { ploaderRelations, tableFingerprint, useTestDatabase } from '../support/database.ts';
import { plainCopy, useTempDir } from '../support/fixtures.ts';

const db = useTestDatabase();
const write = useTempDir();

afterEach(async () => {
  await db.client.query('DROP SCHEMA IF EXISTS app CASCADE; DROP TABLE IF EXISTS made, oracle, twin CASCADE');
});

/** Column names and types as the catalog has them, in order. */
async function columnsOf(table: string): Promise<Array<[string, string]>> {
  const { rows } = await db.client.query<{ name: string; type: string }>(
    'SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum',
    [table],
  );
  return rows.map((r) => [r.name, r.type]);
}

async function exists(table: string): Promise<boolean> {
  const { rows } = await db.client.query('SELECT to_regclass($1) IS NOT NULL AS exists', [table]);
  return rows[0].exists;
}

/** The table `made` equals \copy of `file` into a table of the expected columns. */
async function expectSameAsCopyInto(expected: Array<[string, string]>, file: string, copyOptions: string): Promise<number> {
  const ident = (name: string) => db.client.escapeIdentifier(name);
  await db.client.query(`CREATE TABLE oracle (${expected.map(([name, type]) => `${ident(name)} ${type}`).join(', ')})`);
  const copied = await plainCopy(db.client, `COPY oracle FROM STDIN (${copyOptions})`, file);
  const names = expected.map(([name]) => name);
  expect(await tableFingerprint(db.client, 'made', names)).toEqual(await tableFingerprint(db.client, 'oracle', names));
  return copied;
}

const MIXED_CSV = [
  'id,big,amount,ratio,ok,day,at,at_zone,clock,uid,doc,code,note,User Name',
  '1,3000000000,1.50,6.02e23,true,2024-02-29,2024-01-02 10:00:00,2024-01-02T10:00:00Z,10:00,a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,"{""a"": [1, 2]}",007,,Ann',
  '2,,-0.25,1.5,f,,2024-01-02T10:00:00.5,2024-01-02 10:00:00+05:30,23:59:59.123456,A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12,[],010,"",Bob "B"',
  ',-5,3,,yes,1999-12-31,2024-01-02,,,,,123,x,',
  '4,7,NaN,-Infinity,0,2000-01-01,,2024-06-01 00:00:00-0800,00:00:01,,{},x1,"multi',
  'line",Cy',
].join('\n') + '\n';

const TEXT_NO_HEADER = ['1\tone\\ttab\t2024-01-01\t\\N', '70000\ttwo\\nlines\t\\N\t1.5', '\\N\t\\\\\t2024-12-31\t2e-3'].join('\n') + '\n';

describe('--create: the types a file gets, and the same values as \\copy into them', () => {
  it.each([
    {
      name: 'a csv file with a header: every type, NULLs and empty strings',
      file: 'mixed.csv',
      content: MIXED_CSV,
      options: { header: true },
      copy: 'FORMAT csv, HEADER true',
      expected: [
        ['id', 'smallint'], ['big', 'bigint'], ['amount', 'numeric'], ['ratio', 'double precision'], ['ok', 'boolean'], ['day', 'date'],
        ['at', 'timestamp without time zone'], ['at_zone', 'timestamp with time zone'], ['clock', 'time without time zone'], ['uid', 'uuid'],
        ['doc', 'jsonb'], ['code', 'text'], ['note', 'text'], ['User Name', 'text'],
      ],
    },
    {
      name: 'a text file without a header: column1..N, backslash escapes and \\N',
      file: 'plain.txt',
      content: TEXT_NO_HEADER,
      options: {},
      copy: 'FORMAT text',
      expected: [['column1', 'integer'], ['column2', 'text'], ['column3', 'date'], ['column4', 'double precision']],
    },
    {
      name: 'a csv file named by --columns, with another delimiter',
      file: 'semi.csv',
      content: 'a;2024-01-01 00:00:00;t\nb;2024-01-01 00:00:00.25;off\n',
      options: { columns: ['word', 'stamp', 'flag'], delimiter: ';' },
      copy: "FORMAT csv, DELIMITER ';'",
      expected: [['word', 'text'], ['stamp', 'timestamp without time zone'], ['flag', 'boolean']],
    },
  ])('$name', async ({ file: name, content, options, copy, expected }) => {
    const file = write(name, content);
    const report = await load({ file, table: 'made', db: db.url, create: true, workers: 2, ...options });
    expect(report.published).toBe('create');
    expect(await columnsOf('made')).toEqual(expected);
    const rows = await expectSameAsCopyInto(expected as Array<[string, string]>, file, copy);
    expect(report.rows).toBe(rows);
    expect(report.createTable).toBe(`CREATE TABLE "public"."made" (${expected.map(([n, t]) => `"${n}" ${t.replace(' without time zone', '').replace('timestamp with time zone', 'timestamptz')}`).join(', ')})`);
    // Owned by the loading role, no stage comment left on it, nothing of the run left behind.
    const { rows: [table] } = await db.client.query("SELECT pg_get_userbyid(relowner) = current_user AS mine, obj_description(oid, 'pg_class') AS comment, relpersistence::text AS persistence FROM pg_class WHERE oid = 'made'::regclass");
    expect(table).toEqual({ mine: true, comment: null, persistence: 'p' });
    expect(await ploaderRelations(db.client)).toEqual([]);
  });

  it('from standard input: types from the stream\'s head, the header read once', async () => {
    const input = 'n,when\n' + Array.from({ length: 5000 }, (_, i) => `${i},2024-01-${String((i % 28) + 1).padStart(2, '0')}\n`).join('');
    const file = write('stream.csv', input);
    const result = await runCliWithStdin(['--db', db.url, '-t', 'made', '--format', 'csv', '--header', '--create', '--chunk-size', '4kB', '-'], input);
    expect(result.stderr).not.toMatch(/ploader:/);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^COPY 5000$/m);
    expect(result.stdout).toMatch(/^created +CREATE TABLE "public"\."made" \("n" smallint, "when" date\)$/m);
    await expectSameAsCopyInto([['n', 'smallint'], ['when', 'date']], file, 'FORMAT csv, HEADER true');
  });
});

describe('the sample spans the whole file', () => {
  // 300,000 records of 10 bytes, cut into 1MiB chunks: chunk 1 starts at record 104858, chunk 2 at 209716.
  const RECORDS = 300_000;
  const CHUNK = 1 << 20;
  const fileWith = (name: string, decimalAt: number) =>
    write(name, Array.from({ length: RECORDS }, (_, i) => `${i === decimalAt ? '10000.5' : 1_000_000 + i},x\n`).join(''));

  it('a decimal at a later chunk\'s start makes the column numeric', async () => {
    const file = fileWith('late.csv', 209_716);
    const report = await load({ file, table: 'made', db: db.url, create: true, workers: 2, chunkBytes: CHUNK });
    expect(report.chunks).toBe(3);
    expect(await columnsOf('made')).toEqual([['column1', 'numeric'], ['column2', 'text']]);
    expect(await expectSameAsCopyInto([['column1', 'numeric'], ['column2', 'text']], file, 'FORMAT csv')).toBe(RECORDS);
  });

  it('a value outside the sample that does not fit is a bad row: the load fails, nothing is created', async () => {
    const file = fileWith('hidden.csv', 157_286);
    const error = (await load({ file, table: 'made', db: db.url, create: true, workers: 2, chunkBytes: CHUNK }).catch((e: unknown) => e)) as PloaderError;
    expect(error).toBeInstanceOf(PloaderError);
    expect(error.code).toBe('BAD_ROW');
    expect(error.position).toMatchObject({ file, line: 157_287 });
    expect(error.message).toMatch(/invalid input syntax for type integer: "10000\.5"/);
    expect(await exists('made')).toBe(false);
    expect(await ploaderRelations(db.client)).toEqual([]);
  });

  it('... and with --max-errors it is set aside, the rest loaded', async () => {
    const file = fileWith('hidden.csv', 157_286);
    const report = await load({ file, table: 'made', db: db.url, create: true, workers: 2, chunkBytes: CHUNK, maxErrors: 1 });
    expect(report).toMatchObject({ rows: RECORDS - 1, rejected: 1 });
    expect(await columnsOf('made')).toEqual([['column1', 'integer'], ['column2', 'text']]);
  });
});

describe('where and when a table is created', () => {
  it('in the schema --table names; --dry-run prints the CREATE TABLE and creates nothing', async () => {
    await db.client.query('CREATE SCHEMA app');
    const file = write('made.csv', 'id,label\n1,a\n2,b\n');
    const plan = await runCli(['--db', db.url, '-t', 'app.made', '--header', '--create', '--dry-run', file]);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(/^create: CREATE TABLE "app"\."made" \("id" smallint, "label" text\)$/m);
    expect(plan.stdout).toMatch(/^strategy: create — /m);
    expect(await exists('app.made')).toBe(false);
    expect(await ploaderRelations(db.client)).toEqual([]);

    const result = await runCli(['--db', db.url, '-t', 'app.made', '--header', '--create', file]);
    expect(result.code).toBe(0);
    expect(await columnsOf('app.made')).toEqual([['id', 'smallint'], ['label', 'text']]);
    expect((await tableFingerprint(db.client, 'app.made', ['id', 'label'])).rows).toBe(2);
    expect(await exists('public.made')).toBe(false);
  });

  it('--create against an existing table is an error; --create if-missing loads into it', async () => {
    const file = write('made.csv', 'id,label\n1,a\n2,b\n');
    await load({ file, table: 'made', db: db.url, create: true, header: true });
    const again = await runCli(['--db', db.url, '-t', 'made', '--header', '--create', file]);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe('ploader: table made already exists, and --create makes a new one — load into it without --create, or pass --create if-missing\n');
    const appended = await runCli(['--db', db.url, '-t', 'made', '--header', '--create', 'if-missing', file]);
    expect(appended.code).toBe(0);
    expect(appended.stdout).not.toMatch(/^created/m);
    expect((await tableFingerprint(db.client, 'made', ['id', 'label'])).rows).toBe(4);
  });

  it('an empty file cannot make a table; a header alone loads nothing and creates nothing', async () => {
    const empty = await runCli(['--db', db.url, '-t', 'made', '--create', write('empty.csv', '')]);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/empty\.csv is empty: there is nothing to infer "public"\."made"'s columns from/);
    const header = await runCli(['--db', db.url, '-t', 'made', '--header', '--create', write('header.csv', 'a,b\n')]);
    expect(header.code).toBe(0);
    expect(header.stderr).toMatch(/holds no rows after its header: nothing was loaded and "public"\."made" was not created/);
    expect(await exists('made')).toBe(false);
    expect(await ploaderRelations(db.client)).toEqual([]);
  });

  it('refuses a schema that does not exist, by name', async () => {
    const error = (await load({ file: write('x.csv', '1\n'), table: 'nowhere.made', db: db.url, create: true }).catch((e: unknown) => e)) as PloaderError;
    expect(error.message).toBe('schema "nowhere" does not exist, so "nowhere"."made" cannot be created there — create the schema first, or name another in --table');
  });
});

describe('two ploaders creating the same table', () => {
  const rows = (tag: string, n: number) => 'id,tag\n' + Array.from({ length: n }, (_, i) => `${i},${tag}\n`).join('');

  it('the second fails at once while the first loads (it holds the name); the first publishes its rows alone', async () => {
    const first = write('first.csv', rows('first', 20_000));
    const second = write('second.csv', rows('second', 10));
    const loading = startCli(['--db', db.url, '-t', 'made', '--header', '--create', '--workers', '2', '--chunk-size', '64kB', first]);
    await loading.waitForStderr(/^load:/m);
    // Frozen mid-load, it keeps its sessions and its claim on the name.
    loading.child.kill('SIGSTOP');
    let racer;
    try {
      racer = await runCli(['--db', db.url, '-t', 'made', '--header', '--create', 'if-missing', second]);
    } finally {
      loading.child.kill('SIGCONT');
    }
    expect(racer.code).toBe(1);
    expect(racer.stderr).toMatch(/^ploader: another ploader \(run [0-9a-f]{8}\) is creating "public"\."made" right now with --create, so nothing was loaded — wait for it to finish/);
    const done = await loading.done;
    expect(done.code).toBe(0);
    const { rows: tags } = await db.client.query('SELECT tag, count(*)::int AS n FROM made GROUP BY tag');
    expect(tags).toEqual([{ tag: 'first', n: 20_000 }]);
    expect(await ploaderRelations(db.client)).toEqual([]);

    // Afterwards --create if-missing appends to the table the first one made.
    const after = await runCli(['--db', db.url, '-t', 'made', '--header', '--create', 'if-missing', second]);
    expect(after.code).toBe(0);
    expect((await tableFingerprint(db.client, 'made', ['id', 'tag'])).rows).toBe(20_010);
  });

  it('started together, exactly one succeeds and the table holds its rows only', async () => {
    const files = [write('a.csv', rows('a', 5000)), write('b.csv', rows('b', 5000))];
    const results = await Promise.all(files.map((file) => runCli(['--db', db.url, '-t', 'made', '--header', '--create', '--workers', '2', file])));
    expect(results.map((r) => r.code).sort()).toEqual([0, 1]);
    const loser = results.find((r) => r.code === 1)!;
    expect(loser.stderr).toMatch(/is creating "public"\."made" right now|already exists, and --create makes a new one/);
    const winner = results.findIndex((r) => r.code === 0);
    const { rows: tags } = await db.client.query('SELECT tag, count(*)::int AS n FROM made GROUP BY tag');
    expect(tags).toEqual([{ tag: ['a', 'b'][winner], n: 5000 }]);
    expect(await ploaderRelations(db.client)).toEqual([]);
  });
});
