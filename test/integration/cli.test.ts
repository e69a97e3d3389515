/**
 * The command line as a user runs it: exit codes, the report, and errors that say what to do
 * without ever printing a password.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { useTestDatabase } from '../support/database.ts';
import { useTempDir } from '../support/fixtures.ts';

const db = useTestDatabase();
const write = useTempDir();
const file = write('votes.csv', Array.from({ length: 300 }, (_, i) => `user_${i},t3_${i},1\n`).join(''));

describe('ploader CLI', () => {
  it('loads a file and prints the report (exit 0)', async () => {
    await db.client.query('CREATE TABLE votes (voteid serial PRIMARY KEY, username text NOT NULL, link text NOT NULL, score int NOT NULL)');
    const result = await runCli(['--workers', '2', '--db', db.url, '--columns', 'username,link,score', file]);
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^COPY 300$/m);
    expect(result.stdout).toMatch(/strategy\s+swap/);
    const { rows } = await db.client.query('SELECT count(*)::int AS n FROM votes');
    expect(rows[0].n).toBe(300);
  });

  it('reads the connection from PG* variables when --db is absent', async () => {
    const url = new URL(db.url);
    const env = { PGHOST: url.hostname, PGPORT: url.port, PGUSER: decodeURIComponent(url.username), PGPASSWORD: decodeURIComponent(url.password), PGDATABASE: url.pathname.slice(1) };
    const result = await runCli(['--workers', '2', '--table', 'votes', '--truncate', '--columns', 'username,link,score', file], { env });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^COPY 300$/m);
  });

  it.each([
    { args: ['--workers', '0'], message: /workers must be an integer from 1/ },
    { args: ['--format', 'xml'], message: /format/ },
    { args: ['--no-such-flag'], message: /Unknown argument/ },
    { args: ['--delimiter', '"'], message: /^ploader: --delimiter and --quote must differ/ },
  ])('rejects $args with exit 2 and a message naming the option', async ({ args, message }) => {
    const result = await runCli([...args, '--db', db.url, file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it('names a missing file (exit 1)', async () => {
    const result = await runCli(['--db', db.url, '/nonexistent/votes.csv']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/cannot read \/nonexistent\/votes\.csv: no such file/);
  });

  it('never prints the password of a failed connection', async () => {
    const url = new URL(db.url);
    url.password = 'Sup3rSecretPw';
    const result = await runCli(['--db', url.toString(), '--table', 'votes', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`could not connect to ${decodeURIComponent(url.username)}@${url.hostname}:${url.port}${url.pathname}: password authentication failed`);
    expect(result.stderr + result.stdout).not.toContain('Sup3rSecretPw');
  });

  it('names an unknown table and says what to do', async () => {
    const result = await runCli(['--db', db.url, '--table', 'nope', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/table nope does not exist .* create it first/);
  });
});

describe('ploader --config', () => {
  it('takes options from a JSON file; flags on the command line win; unknown keys are refused', async () => {
    await db.client.query('DROP TABLE IF EXISTS votes; CREATE TABLE votes (voteid serial PRIMARY KEY, username text NOT NULL, link text NOT NULL, score int NOT NULL)');
    const config = write('ploader.json', JSON.stringify({ db: db.url, table: 'votes', columns: 'username,link,score', workers: 3, json: true }));
    const result = await runCli(['--config', config, '--workers', '2', file]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ rows: 300, workers: 2, table: '"public"."votes"' });

    const bad = write('bad.json', JSON.stringify({ db: db.url, wokers: 3 }));
    const refused = await runCli(['--config', bad, file]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/Unknown argument: wokers/);
  });
});
