/**
 * The command line as people expect it of psql-family tools: --help grouped, with examples that run
 * on the README's table; messages in flag names; a flag given twice refused; --json errors as JSON;
 * a stack trace only with --debug; warnings for flag values that do not help; ploader's own --version.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgEnvOf, runCli } from '../support/cli.ts';
import { useTestDatabase } from '../support/database.ts';

const db = useTestDatabase();
const dir = mkdtempSync(path.join(tmpdir(), 'ploader-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const VOTES = 'alice,t3_a,1\nbob,"t3_b\nx",-1\ncarol,t3_c,1\n';
writeFileSync(path.join(dir, 'votes.csv'), VOTES);
writeFileSync(path.join(dir, 'bad.csv'), 'alice,t3_a,1\nbob,t3_b,minus one\n');

/** PG* variables naming this file's database, as a user's shell would have them. */
const pgEnv = () => pgEnvOf(db.url);

beforeAll(async () => {
  // The README's seed table, as it creates it.
  await db.client.query('CREATE TABLE votes (voteid serial PRIMARY KEY, username text NOT NULL, link text NOT NULL, score int NOT NULL)');
});

describe('--help', () => {
  it('groups the flags as psql-family tools do', async () => {
    const { stdout, code } = await runCli(['--help']);
    expect(code).toBe(0);
    const groups = stdout.split('\n').filter((line) => /^[A-Z][A-Za-z ]+:$/.test(line));
    expect(groups).toEqual(['Positionals:', 'Input:', 'Table and columns:', 'COPY options:', 'Parallelism:', 'Bad rows:', 'Recovery:', 'Output:', 'Connection:', 'Options:']);
  });

  it('shows examples that each work on the README\'s votes table', async () => {
    const { stdout } = await runCli(['--help']);
    const examples = stdout.split('\n').filter((line) => line.startsWith('  ploader ')).map((line) => line.trim().split(/\s+/).slice(1));
    expect(examples.length).toBeGreaterThanOrEqual(5);
    for (const args of examples) {
      // The example's server is the test's: a -d URL is swapped for this database's.
      const at = args.findIndex((a) => a === '-d' || a === '--db');
      if (at >= 0) args[at + 1] = db.url;
      const result = await runCli(args, { cwd: dir, env: pgEnv() });
      expect({ args, code: result.code, stderr: result.stderr }).toEqual({ args, code: 0, stderr: expect.not.stringMatching(/error|ploader:/i) });
    }
    const { rows } = await db.client.query('SELECT count(*)::int AS n FROM votes');
    expect(rows[0].n).toBeGreaterThanOrEqual(3);
  });
});

describe('usage errors', () => {
  it.each([
    [['--workers', 'abc'], 'ploader: --workers must be an integer from 1 to 256, got "abc"'],
    [['--workers', '0'], 'ploader: --workers must be an integer from 1 to 256, got 0'],
    [['--chunk-size', '0'], 'ploader: --chunk-size must be a positive integer, got 0'],
    [['--workers', '2', '--workers', '4'], 'ploader: --workers was given 2 times ("2", "4"): give it once'],
    [['-q', '--quiet'], 'ploader: --quiet was given 2 times (-q, --quiet): give it once'],
    [['-j', '2', '--workers', '3'], 'ploader: --workers was given 2 times ("2", "3"): give it once'],
    [['--header', '--header'], 'ploader: --header was given 2 times (--header, --header): give it once'],
  ])('%j: exit 2, %s', async (args, message) => {
    const result = await runCli([...args, 'votes.csv'], { cwd: dir, env: pgEnv() });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`${message}\n`);
    expect(result.stdout).toBe('');
  });
});

describe('--json', () => {
  it('prints a usage error as JSON on stdout', async () => {
    const result = await runCli(['--json', '--workers', 'abc', 'votes.csv'], { cwd: dir, env: pgEnv() });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ error: { code: 'INVALID_OPTION', message: '--workers must be an integer from 1 to 256, got "abc"', file: null, line: null, column: null, sqlstate: null } });
  });

  it('prints a bad row with its file, line, column and SQLSTATE', async () => {
    const result = await runCli(['--json', '-t', 'votes', '--columns', 'username,link,score', 'bad.csv'], { cwd: dir, env: pgEnv() });
    expect(result.code).toBe(1);
    const { error } = JSON.parse(result.stdout);
    expect(error).toMatchObject({ code: 'BAD_ROW', file: 'bad.csv', line: 2, column: 'score', sqlstate: '22P02' });
    expect(error.message).toMatch(/invalid input syntax for type integer: "minus one"/);
  });
});

describe('--debug', () => {
  it('adds the stack trace; without it there is none', async () => {
    const plain = await runCli(['-t', 'votes', 'missing.csv'], { cwd: dir, env: pgEnv() });
    const debug = await runCli(['--debug', '-t', 'votes', 'missing.csv'], { cwd: dir, env: pgEnv() });
    expect(plain.code).toBe(1);
    expect(debug.code).toBe(1);
    expect(plain.stderr).toMatch(/^ploader: missing\.csv: cannot read missing\.csv/);
    expect(plain.stderr).not.toMatch(/^\s+at /m);
    expect(debug.stderr.startsWith(plain.stderr)).toBe(true);
    expect(debug.stderr).toMatch(/^\s+at .*input-file\.js/m);
  });
});

describe('warnings for values that do not help', () => {
  it('--workers beyond the cores of this machine and the server', async () => {
    const workers = availableParallelism() * 4;
    const result = await runCli(['--dry-run', '--workers', String(workers), '--columns', 'username,link,score', 'votes.csv'], { cwd: dir, env: pgEnv() });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`warning: --workers ${workers} is more than the ${availableParallelism()} cores this machine has, and the server runs here too`);
  });

  it.each([
    ['1', 'warning: --chunk-size 1 bytes is tiny'],
    ['4GB', `warning: --chunk-size ${4 * 2 ** 30} bytes is over 1GB`],
  ])('--chunk-size %s', async (size, warning) => {
    const result = await runCli(['--dry-run', '--workers', '1', '--chunk-size', size, '--columns', 'username,link,score', 'votes.csv'], { cwd: dir, env: pgEnv() });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(warning);
  });

  it('no warning for sensible values', async () => {
    const result = await runCli(['--dry-run', '--workers', '1', '--chunk-size', '8MB', '--columns', 'username,link,score', 'votes.csv'], { cwd: dir, env: pgEnv() });
    expect(result.stderr).not.toMatch(/warning: --(workers|chunk-size)/);
  });
});

describe('--version', () => {
  it("is ploader's, whatever project it runs in", async () => {
    const project = mkdtempSync(path.join(dir, 'project-'));
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'other', version: '9.9.9' }));
    const result = await runCli(['--version'], { cwd: project });
    expect(result.stdout).toBe('0.1.0\n');
  });
});
