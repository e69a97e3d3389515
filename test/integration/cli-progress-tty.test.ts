/**
 * The real CLI on a real load, in a terminal (a tmux pane): the bar appears and moves; with output
 * piped, the same load prints no escape codes.
 */
import { execFile, spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CLI, runCli } from '../support/cli.ts';
import { useTestDatabase } from '../support/database.ts';
import { useTempDir } from '../support/fixtures.ts';

const db = useTestDatabase();
const write = useTempDir();
const HAS_TMUX = spawnSync('which', ['tmux']).status === 0;
const execFileAsync = promisify(execFile);
const file = write('votes.csv', Array.from({ length: 6000 }, (_, i) => `user_${i % 31},"link ${i}",${i % 2 ? 1 : -1}\n`).join(''));
const ARGS = ['--db', db.url, '--table', 'votes', '--columns', 'username,link,score', '--workers', '2', '--chunk-size', '8kB', file];

async function slowTarget(): Promise<void> {
  // A CHECK that sleeps a little per row: the load lasts a few seconds, long enough to watch.
  await db.client.query(`
    DROP TABLE IF EXISTS votes;
    CREATE OR REPLACE FUNCTION slow_ok(int) RETURNS boolean LANGUAGE sql AS 'SELECT pg_sleep(0.0006) IS NOT NULL';
    CREATE TABLE votes (voteid serial PRIMARY KEY, username text NOT NULL, link text NOT NULL, score int NOT NULL CHECK (slow_ok(score)));
  `);
}

describe('ploader progress as a person sees it', () => {
  it.skipIf(!HAS_TMUX)('on a terminal: a bar with percent and rows/s that updates, then the report', async () => {
    await slowTarget();
    const name = `ploader-cli-${process.pid}-${Date.now()}`;
    const tmux = async (...args: string[]) => (await execFileAsync('tmux', ['-L', name, ...args], { timeout: 15_000 })).stdout;
    const command = [process.execPath, CLI, ...ARGS].map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
    await tmux('new-session', '-d', '-s', name, '-x', '140', '-y', '30', `${command}; tmux -L ${name} wait-for -S ${name}-done; sleep 5`);
    const socket = (await tmux('display-message', '-p', '#{socket_path}')).trim();
    try {
      const seen: string[] = [];
      for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(150)) {
        const screen = await tmux('capture-pane', '-p', '-t', name);
        const bar = screen.split('\n').find((line) => /^load .* \d+% .*rows\/s/.test(line));
        if (bar && bar !== seen.at(-1)) seen.push(bar);
        if (/^COPY 6000$/m.test(screen)) break;
      }
      expect(seen.length, `bars seen:\n${seen.join('\n')}`).toBeGreaterThanOrEqual(2);
      const percents = seen.map((line) => Number(/ (\d+)% /.exec(line)?.[1]));
      expect(percents.at(-1)).toBeGreaterThan(percents[0]);
      await tmux('wait-for', `${name}-done`);
      expect(await tmux('capture-pane', '-p', '-t', name)).toMatch(/^COPY 6000$/m);
    } finally {
      await tmux('kill-session', '-t', name).catch(() => {});
      await rm(socket, { force: true });
    }
  });

  it('piped: plain progress lines, no escape codes', async () => {
    await slowTarget();
    const result = await runCli(ARGS);
    expect(result.code).toBe(0);
    expect(result.stderr + result.stdout).not.toContain('\x1b');
    expect(result.stderr).toMatch(/^load: /m);
    expect(result.stdout).toMatch(/^COPY 6000$/m);
  });
});
