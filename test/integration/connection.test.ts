/**
 * Connections as psql makes them: a --db URL, the PG* variables, a pgpass file, PGAPPNAME; and
 * failures (wrong password, no server, SSL the server lacks) that name the server, exit 1 and never
 * print the password.
 */
import { chmodSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { findFreePort } from '../../src/embedded/embedded-server.ts';
import { runCli, type CliResult } from '../support/cli.ts';
import { useTestDatabase } from '../support/database.ts';
import { useTempDir } from '../support/fixtures.ts';

const db = useTestDatabase();
const write = useTempDir();
const ROWS = 50;
const file = write('people.csv', Array.from({ length: ROWS }, (_, i) => `${i},name ${i}\n`).join(''));
const LOAD_ARGS = ['--workers', '2', '--table', 'people', '--truncate', file];

/** No PG* variable of the machine running the tests leaks in; no ~/.pgpass is read by accident. */
const CLEAN_ENV: NodeJS.ProcessEnv = {
  PGHOST: undefined,
  PGPORT: undefined,
  PGUSER: undefined,
  PGPASSWORD: undefined,
  PGDATABASE: undefined,
  PGAPPNAME: undefined,
  PGSSLMODE: undefined,
  PGPASSFILE: '/nonexistent/pgpass',
};

function server() {
  const url = new URL(db.url);
  return {
    host: url.hostname,
    port: url.port,
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: decodeURIComponent(url.pathname.slice(1)),
  };
}

/** PG* variables naming this file's database, without a password. */
function pgEnv(): NodeJS.ProcessEnv {
  const { host, port, user, database } = server();
  return { ...CLEAN_ENV, PGHOST: host, PGPORT: port, PGUSER: user, PGDATABASE: database };
}

function urlWith(change: (url: URL) => void): string {
  const url = new URL(db.url);
  change(url);
  return url.toString();
}

async function peopleCount(): Promise<number> {
  const { rows } = await db.client.query('SELECT count(*)::int AS n FROM people');
  return rows[0].n;
}

async function expectLoaded(result: CliResult): Promise<void> {
  expect(result.stderr).not.toMatch(/error|could not connect/i);
  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(new RegExp(`^COPY ${ROWS}$`, 'm'));
  expect(await peopleCount()).toBe(ROWS);
}

function expectNoStackTrace(result: CliResult): void {
  expect(result.stderr).not.toMatch(/^\s+at /m);
}


beforeAll(async () => {
  await db.client.query('CREATE TABLE people (id int NOT NULL, name text NOT NULL)');
});

describe('where the connection comes from', () => {
  it('a URL given with --db', async () => {
    await expectLoaded(await runCli(['--db', db.url, ...LOAD_ARGS], { env: CLEAN_ENV }));
  });

  it('the PG* variables alone', async () => {
    const env = { ...pgEnv(), PGPASSWORD: server().password };
    await expectLoaded(await runCli(LOAD_ARGS, { env }));
  });

  it.each([
    { given: 'PG* variables without PGPASSWORD', withUrl: false },
    { given: 'a --db URL without a password', withUrl: true },
  ])('a pgpass file (PGPASSFILE) supplies the password for $given', async ({ withUrl }) => {
    const { host, port, database, user, password } = server();
    const passfile = write(`pgpass-${withUrl ? 'url' : 'env'}`, `${host}:${port}:${database}:${user}:${password}\n`);
    chmodSync(passfile, 0o600); // libpq and node-postgres ignore a pgpass file others can read
    const args = withUrl ? ['--db', urlWith((url) => (url.password = '')), ...LOAD_ARGS] : LOAD_ARGS;
    const env = withUrl ? { ...CLEAN_ENV, PGPASSFILE: passfile } : { ...pgEnv(), PGPASSFILE: passfile };
    await expectLoaded(await runCli(args, { env }));
  });

  // Regression: pg 8.x printed its pgpass deprecation warning once per thread, even with --quiet.
  it('a pgpass load with --quiet prints nothing on stderr', async () => {
    const { host, port, database, user, password } = server();
    const passfile = write('pgpass-quiet', `${host}:${port}:${database}:${user}:${password}\n`);
    chmodSync(passfile, 0o600);
    const result = await runCli(['--quiet', ...LOAD_ARGS], { env: { ...pgEnv(), PGPASSFILE: passfile } });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
  });

  it("a key/value conninfo string, as psql takes it, with a quoted password", async () => {
    const { host, port, user, password, database } = server();
    const conninfo = `host=${host} port=${port} dbname='${database}' user=${user} password='${password.replace(/['\\]/g, '\\$&')}'`;
    await expectLoaded(await runCli(['--db', conninfo, ...LOAD_ARGS], { env: CLEAN_ENV }));
  });

  it('--db wins over PG* variables that point elsewhere', async () => {
    const env = { ...CLEAN_ENV, PGHOST: '127.0.0.2', PGPORT: String(await findFreePort()), PGUSER: 'nobody', PGPASSWORD: 'not-this-one', PGDATABASE: 'nonexistent' };
    await expectLoaded(await runCli(['--db', db.url, ...LOAD_ARGS], { env }));
  });
});

describe('PGAPPNAME', () => {
  beforeAll(async () => {
    await db.client.query(`
      CREATE FUNCTION slow_ok(int) RETURNS boolean LANGUAGE sql AS 'SELECT pg_sleep(0.0005) IS NOT NULL';
      CREATE TABLE slow_people (id int NOT NULL CHECK (slow_ok(id)), name text NOT NULL);
    `);
  });

  it.each([
    { given: 'a short name', appName: 'nightly-import' },
    { given: 'a name longer than PostgreSQL keeps (63 bytes)', appName: `nightly-import-${'x'.repeat(80)}` },
  ])('names every session of the load, as psql does: $given, the run id kept whole', async ({ appName }) => {
    // ~0.5 ms a row in the CHECK: 3000 rows keep two workers busy for about a second.
    const slowFile = write('slow_people.csv', Array.from({ length: 3000 }, (_, i) => `${i},name ${i}\n`).join(''));
    await db.client.query('TRUNCATE slow_people');
    const seen = new Set<string>();
    let finished = false;
    const run = runCli(['--db', db.url, '--workers', '2', '--chunk-size', '4kB', slowFile], { env: { ...CLEAN_ENV, PGAPPNAME: appName } }).finally(() => {
      finished = true;
    });
    while (!finished) {
      const { rows } = await db.client.query<{ name: string }>(
        `SELECT application_name AS name FROM pg_stat_activity
          WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()`,
      );
      for (const row of rows) seen.add(row.name);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const result = await run;
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^COPY 3000$/m);
    const names = [...seen];
    // A chunk's session: `<PGAPPNAME, cut to fit> copy <chunk> <run id>`, the name kept whole or cut at 63 bytes.
    const chunkSession = (name: string) => {
      const match = /^(.*) copy (\d+) ([0-9a-f]{8})$/.exec(name);
      return match !== null && appName.startsWith(match[1]) && (match[1] === appName || Buffer.byteLength(name) === 63);
    };
    expect(names.some(chunkSession)).toBe(true);
    for (const name of names) {
      expect(name.startsWith(appName.slice(0, 20))).toBe(true);
      expect(Buffer.byteLength(name)).toBeLessThanOrEqual(63);
    }
  });
});

describe('failures name the server and never print the password', () => {
  const secret = 'S3cret:p@ss/w%rd';

  it.each([
    { given: 'an unencoded # in the password', db: 'postgres://u:S3cret#x@127.0.0.1/db', problem: 'the user or password holds an unencoded "#": percent-encode it as %23' },
    { given: 'an unencoded / in the password', db: 'postgres://u:S3cret/x@127.0.0.1/db', problem: 'the user or password holds an unencoded "/": percent-encode it as %2F' },
    { given: 'a port that is not a number', db: 'postgres://u:S3cret@127.0.0.1:pg/db', problem: 'the port must be a number from 1 to 65535, got "pg"' },
  ])('$given: a usage error (exit 2) that names the problem and --db, with the password hidden', async ({ db: given, problem }) => {
    const result = await runCli(['--db', given, ...LOAD_ARGS], { env: CLEAN_ENV });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`ploader: --db "postgres://u:***@`);
    expect(result.stderr).toContain(problem);
    expect(result.stdout + result.stderr).not.toContain('S3cret');
    expectNoStackTrace(result);
  });

  it.each([
    { given: 'in the --db URL', args: () => ['--db', urlWith((url) => (url.password = encodeURIComponent(secret)))], env: () => CLEAN_ENV },
    { given: 'in PGPASSWORD', args: () => [], env: () => ({ ...pgEnv(), PGPASSWORD: secret }) },
  ])('wrong password $given: exit 1, user@host:port/db, password authentication failed', async ({ args, env }) => {
    const { host, port, user, database } = server();
    const result = await runCli([...args(), ...LOAD_ARGS], { env: env() });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${user}@${host}:${port}/${database}`);
    expect(result.stderr).toMatch(/password authentication failed/);
    expectNoStackTrace(result);
    const output = result.stdout + result.stderr;
    expect(output).not.toContain(secret);
    expect(output).not.toContain(encodeURIComponent(secret));
  });

  it('no server listening: exit 1, could not connect, names host:port', async () => {
    const port = await findFreePort();
    const result = await runCli(['--db', `postgres://someone:${encodeURIComponent(secret)}@127.0.0.1:${port}/somedb`, ...LOAD_ARGS], { env: CLEAN_ENV });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/could not connect/);
    expect(result.stderr).toContain(`127.0.0.1:${port}`);
    expectNoStackTrace(result);
    expect(result.stdout + result.stderr).not.toContain(secret);
  });

  it.each([
    { given: 'sslmode=require in the URL', args: () => ['--db', `${db.url}?sslmode=require`], env: () => CLEAN_ENV },
    { given: 'PGSSLMODE=require', args: () => [], env: () => ({ ...pgEnv(), PGPASSWORD: server().password, PGSSLMODE: 'require' }) },
  ])('$given against a server without SSL: a connection error, exit 1', async ({ args, env }) => {
    const { host, port } = server();
    const result = await runCli([...args(), ...LOAD_ARGS], { env: env() });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`could not connect to \\S+@${host.replace(/\./g, '\\.')}:${port}/\\S+: .*SSL`));
    expectNoStackTrace(result);
    expect(result.stdout + result.stderr).not.toContain(db.url);
  });
});

describe('messages a person can act on', () => {
  // Regression: with no password anywhere the message was node-postgres's "SASL: ... client password must be a string".
  it('no password given anywhere: says that no password was supplied and where to put one', async () => {
    const result = await runCli(LOAD_ARGS, { env: pgEnv() });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/no password (was )?(supplied|given)/i);
  });

  // Regression: the password was redacted wherever its text appeared, garbling messages when it is also the user or database name.
  it('a password equal to the user and database name does not hide them', async () => {
    const port = await findFreePort();
    const result = await runCli(['--db', `postgres://app:app@127.0.0.1:${port}/app`, ...LOAD_ARGS], { env: CLEAN_ENV });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`could not connect to app@127.0.0.1:${port}/app`);
  });
});
