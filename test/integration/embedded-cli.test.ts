/**
 * `ploader --embedded`: a local server started in a data directory of its own, reused by the next
 * run, reachable with the printed psql URL, and stopped by --embedded-stop.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { CLI, runCli } from '../support/cli.ts';
import { leftoversOf } from '../support/leftovers.ts';
import { useTempDir } from '../support/fixtures.ts';

const write = useTempDir();
const dir = mkdtempSync(path.join(tmpdir(), 'ploader-embedded-'));
// As root the server runs as the postgres OS user, which must be able to enter the directory.
chmodSync(dir, 0o755);
const dataDir = path.join(dir, 'pg');
afterAll(async () => {
  await runCli(['--embedded-stop', '--embedded-dir', dataDir]);
  rmSync(dir, { recursive: true, force: true });
});

describe('--embedded', () => {
  it('starts a server, says how to create the table, reuses the server, and stops it', async () => {
    const file = write('votes.csv', 'alice,t3_a,1\nbob,"t3_b\nx",-1\n');
    const args = ['--embedded', '--embedded-dir', dataDir, '--columns', 'username,link,score', file];

    const first = await runCli(args);
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(/started the embedded PostgreSQL/);
    const url = /psql '([^']+)'/.exec(first.stderr)?.[1];
    expect(url).toMatch(/^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/postgres$/);

    const client = new pg.Client(url);
    await client.connect();
    await client.query('CREATE TABLE votes (voteid serial PRIMARY KEY, username text, link text, score int)');

    const second = await runCli(args);
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/reusing the embedded PostgreSQL/);
    expect(second.stdout).toMatch(/^COPY 2$/m);
    const { rows } = await client.query('SELECT username, link FROM votes ORDER BY voteid');
    expect(rows).toEqual([{ username: 'alice', link: 't3_a' }, { username: 'bob', link: 't3_b\nx' }]);
    await client.end();

    const pid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const stopped = await runCli(['--embedded-stop', '--embedded-dir', dataDir]);
    expect(stopped.stdout).toMatch(/^stopped /);
    expect(existsSync(path.join(dataDir, 'postmaster.pid'))).toBe(false);
    // Gone, or a zombie nobody has reaped yet (a container's PID 1 may not reap).
    const state = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] : 'gone';
    expect(['gone', 'Z']).toContain(state);
  });

  it('says so when the postgres OS user could not reach the data directory', async () => {
    const locked = mkdtempSync(path.join(tmpdir(), 'ploader-locked-'));
    try {
      const result = await runCli(['--embedded', '--embedded-dir', path.join(locked, 'pg'), 'votes.csv']);
      if (process.getuid?.() === 0) {
        expect(result.code).toBe(1);
        expect(result.stderr).toMatch(/^ploader: the postgres OS user the server runs as cannot enter the --embedded-dir parent .*ploader-locked-\w+: .*ploader-locked-\w+ is closed to it — choose a place it can reach/m);
        expect(result.stderr).not.toMatch(/\n\s+at /);
      }
    } finally {
      rmSync(locked, { recursive: true, force: true });
    }
  });

  it('Ctrl-C during the first start leaves nothing: no data directory, no password file, no server', async () => {
    const fresh = path.join(dir, 'interrupted');
    let pid = 0;
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, '--embedded', '--embedded-dir', fresh, 'votes.csv'], { stdio: ['ignore', 'ignore', 'pipe'] });
      pid = child.pid!;
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      // The data directory is made just before initdb runs: interrupt then.
      const poll = setInterval(() => {
        if (existsSync(fresh)) {
          clearInterval(poll);
          child.kill('SIGINT');
        }
      }, 10);
      child.on('error', reject);
      child.on('close', (code) => {
        clearInterval(poll);
        resolve({ code, stderr });
      });
    });
    expect(result.code).toBe(130);
    expect(result.stderr).toBe('');
    expect(existsSync(fresh)).toBe(false);
    expect(leftoversOf(pid)).toEqual([]);
  });

  it('refuses --embedded with --db', async () => {
    const result = await runCli(['--embedded', '--embedded-dir', dataDir, '--db', 'postgres://x@127.0.0.1/x', 'votes.csv']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--embedded and --db contradict each other/);
  });
});
