/**
 * The first thing a new user does: clone into a private directory (a 0700 `mktemp -d`, like /root),
 * install, and run the demo's server and a load; then `ploader --embedded` from inside the clone.
 * As root, the server's OS user (postgres) cannot enter that directory: the binaries and the data
 * directory must live where it can, and nothing may be left behind.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leftoversOf } from '../support/leftovers.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const home = mkdtempSync(path.join(tmpdir(), 'ploader-clone-'));
const clone = path.join(home, 'ploader');
afterAll(() => rmSync(home, { recursive: true, force: true }));

beforeAll(() => {
  execFileSync('git', ['clone', '--quiet', ROOT, clone]);
  execFileSync('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: clone, stdio: ['ignore', 'pipe', 'pipe'] });
}, 600_000);

describe('a fresh clone in a 0700 directory', () => {
  it('is private, and npm ci built dist/', () => {
    expect(statSync(home).mode & 0o777).toBe(0o700);
    expect(existsSync(path.join(clone, 'dist/cli.js'))).toBe(true);
  });

  it("runs the demo's server and a load, and leaves nothing behind", () => {
    const demo = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', '--rows', '5000'], { cwd: clone, encoding: 'utf8' });
    expect(demo.stderr).toBe('');
    expect(demo.status).toBe(0);
    expect(demo.stdout).toMatch(/^COPY 5000\b/m);
    expect(demo.stdout).toMatch(/top-voted links/);
    expect(leftoversOf(demo.pid!)).toEqual([]);
    const sample = /^generated (\S+):/m.exec(demo.stdout)?.[1];
    expect(existsSync(path.dirname(sample!))).toBe(false);
  });

  it('runs ploader --embedded from inside the clone, in a data directory the server can reach', () => {
    const file = path.join(clone, 'votes.csv');
    writeFileSync(file, 'alice,t3_a,1\n');
    const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(clone, 'bin/ploader.js'), ...args], { cwd: clone, encoding: 'utf8' });
    const first = cli('--embedded', '--columns', 'username,link,score', 'votes.csv');
    const dataDir = /^started the embedded PostgreSQL in (\S+)$/m.exec(first.stderr)?.[1];
    try {
      expect(dataDir).toBeDefined();
      // The table does not exist yet: the CLI says how to create it, with no stack trace.
      expect(first.status).toBe(1);
      expect(first.stderr).toMatch(/create the table with psql 'postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/postgres'/);
      expect(first.stderr).not.toMatch(/\n\s+at /);
      if (process.getuid?.() === 0) expect(dataDir!.startsWith(clone)).toBe(false);
      else expect(dataDir).toBe(path.join(clone, '.ploader/embedded'));
      expect(cli('--embedded-stop').stdout).toBe(`stopped ${dataDir}\n`);
    } finally {
      if (dataDir && !dataDir.startsWith(clone)) {
        cli('--embedded-stop');
        rmSync(dataDir, { recursive: true, force: true });
        rmSync(`${dataDir}.port`, { force: true });
      }
    }
  });
});
