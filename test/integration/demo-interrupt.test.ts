/**
 * Ctrl-C in the demo, as a terminal sends it: SIGINT to the whole foreground process group. Whatever
 * phase it lands in, the demo says it was interrupted (no stack trace) and leaves nothing: no server
 * process, no data directory, no password file, no sample file.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { leftoversOf, postmasterOf, waitUntilGone } from '../support/leftovers.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

interface Interrupted {
  code: number | null;
  stdout: string;
  stderr: string;
  pid: number;
  postmaster: number | undefined;
}

/** Runs the demo in a process group of its own and signals the group once `marker` is printed. */
function interruptDemo(args: string[], marker: RegExp): Promise<Interrupted> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', ...args], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let postmaster: number | undefined;
    child.stdout.on('data', (d) => {
      stdout += d;
      if (postmaster === undefined && marker.test(stdout)) {
        postmaster = postmasterOf(child.pid!);
        process.kill(-child.pid!, 'SIGINT');
      }
    });
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, pid: child.pid!, postmaster }));
  });
}

describe('Ctrl-C in the demo', () => {
  it.each([
    ['after generating the sample file', ['--rows', '300000'], /^generated /m, 130],
    ['in the index phase', ['--rows', '300000'], /^ {2}indexes/m, 130],
    ['while --keep holds the server up', ['--rows', '2000', '--keep'], /^server is up/m, 0],
  ])('%s: nothing is left', async (_phase, args, marker, exitCode) => {
    const run = await interruptDemo(args, marker);
    expect(run.postmaster).toBeGreaterThan(0);
    expect(run.stderr).toMatch(/^SIGINT: stopping the demo/m);
    expect(run.stderr).not.toMatch(/\n\s+at |57P01|terminating connection/);
    // The load may have finished before the signal was handled; the clean-up is what is checked.
    expect([exitCode, 0]).toContain(run.code);
    const sample = /^generated (\S+):/m.exec(run.stdout)?.[1];
    expect(sample).toBeDefined();
    expect(existsSync(path.dirname(sample!))).toBe(false);
    expect(leftoversOf(run.pid)).toEqual([]);
    expect(await waitUntilGone(run.postmaster!)).toBe(true);
  });
});
