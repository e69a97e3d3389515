/**
 * The progress bar as a person sees it: test/fixtures/progress-demo.ts runs in a real terminal
 * (a tmux pane) and the test reads the screen. On a pipe the same script must print plain lines.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DEMO = 'test/fixtures/progress-demo.ts';
const HAS_TMUX = spawnSync('which', ['tmux']).status === 0;
const POLL_MS = 200;
const SCREEN_DEADLINE_MS = 30_000;

const execFileAsync = promisify(execFile);

function percentOf(line: string): number {
  return Number(/ (\d+)% /.exec(line)?.[1]);
}

describe('progress on a terminal', () => {
  it.skipIf(!HAS_TMUX)('draws one bar that updates in place, then leaves the cursor on a fresh line', async () => {
    // A tmux server of our own (-L): the test never sees or touches a user's sessions.
    const name = `ploader-progress-${process.pid}-${Date.now()}`;
    const tmux = async (...args: string[]) => (await execFileAsync('tmux', ['-L', name, ...args], { cwd: ROOT, timeout: 15_000 })).stdout;
    // The pane signals the channel once the demo has exited, then stays open for the last looks.
    await tmux('new-session', '-d', '-s', name, '-x', '120', '-y', '20', '-c', ROOT, `npx tsx ${DEMO}; tmux -L ${name} wait-for -S ${name}-done; sleep 2`);
    const socket = (await tmux('display-message', '-p', '#{socket_path}')).trim();
    try {
      const bars: string[] = [];
      for (const deadline = Date.now() + SCREEN_DEADLINE_MS; Date.now() < deadline; await sleep(POLL_MS)) {
        const loadLines = (await tmux('capture-pane', '-p', '-t', name)).split('\n').filter((line) => line.startsWith('load'));
        // Redrawn in place: never a second load line on the screen.
        expect(loadLines.length).toBeLessThanOrEqual(1);
        const bar = loadLines.find((line) => / \d+% .* rows\/s /.test(line));
        if (bar !== undefined && bar !== bars.at(-1)) bars.push(bar);
        if (bar !== undefined && percentOf(bar) === 100) break;
      }
      expect(bars.length, `bars seen:\n${bars.join('\n')}`).toBeGreaterThanOrEqual(2);
      const percents = bars.map(percentOf);
      expect(percents).toEqual([...percents].sort((a, b) => a - b));
      expect(percents.at(-1)).toBeGreaterThan(percents[0]);

      await tmux('wait-for', `${name}-done`);
      const screen = (await tmux('capture-pane', '-p', '-t', name)).split('\n');
      const [x, y] = (await tmux('display-message', '-p', '-t', name, '#{cursor_x} #{cursor_y}')).trim().split(' ').map(Number);
      const publish = screen.findIndex((line) => line.startsWith('publish: swap'));
      expect(publish).toBeGreaterThanOrEqual(3);
      // Each phase left on a line of its own, as it stood when it ended.
      expect(screen.slice(publish - 3, publish + 1)).toEqual([
        expect.stringMatching(/^load █{30} 100% \| 2\.6 GB\/2\.6 GB \| 7,428,571 rows \| [\d,]+ rows\/s \| [\d.]+ [MG]B\/s \| took \ds$/),
        expect.stringMatching(/^durable: SET LOGGED \| \ds$/),
        expect.stringMatching(/^indexes: index votes_link_idx \(3\/3\) \| \ds$/),
        expect.stringMatching(/^publish: swap \| \ds$/),
      ]);
      expect({ x, y }).toEqual({ x: 0, y: publish + 1 });
    } finally {
      await tmux('kill-session', '-t', name).catch(() => {});
      // The server exits with its last session but leaves its socket file behind.
      await rm(socket, { force: true });
    }
  });
});

describe('progress on a pipe', () => {
  it('prints plain lines, no escape codes', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', DEMO, 'auto', '500'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (data) => (stdout += data));
    child.stderr.on('data', (data) => (stderr += data));
    const code = await new Promise((resolve, reject) => child.on('error', reject).on('close', resolve));
    expect(code).toBe(0);
    expect(stdout).toBe('');
    expect(stderr).not.toContain('\x1b');
    const lines = stderr.trimEnd().split('\n');
    const loadLines = lines.filter((line) => /^load: \d+% /.test(line));
    expect(lines).toEqual([
      'load: 8 chunks, 2 workers',
      ...loadLines,
      'durable: SET LOGGED',
      'indexes: index votes_pkey (1/3)',
      'indexes: index votes_username_idx (2/3)',
      'indexes: index votes_link_idx (3/3)',
      'publish: swap',
    ]);
    expect(loadLines.length).toBeGreaterThanOrEqual(3);
    for (const line of loadLines.slice(0, -1)) {
      expect(line).toMatch(/^load: \d+% [\d.]+ [MG]B of 2\.6 GB, [\d,]+ rows, [\d,]+ rows\/s, [\d.]+ [MG]B\/s, ETA \ds$/);
    }
    expect(loadLines.at(-1)).toMatch(/^load: 100% 2\.6 GB of 2\.6 GB, 7,428,571 rows, [\d,]+ rows\/s, [\d.]+ [MG]B\/s$/);
    const percents = loadLines.map(percentOf);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
  });
});
