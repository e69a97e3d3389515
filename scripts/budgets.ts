/**
 * `npm run budgets`: the numbers a new user feels first, checked against their budgets on the packed
 * package installed from its tarball (without the optional embedded-server binaries). Exits 1 when a
 * budget is exceeded. Timings are the best of N runs (the least noisy figure on a shared machine):
 * warm, and cold, where the installed files are first dropped from the page cache
 * (posix_fadvise DONTNEED, through python3) so they are read from disk again.
 *
 *   npm run budgets [-- --runs 7]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { installPacked, treeBytes, typeCheck, writeStrictConsumer } from './packed-install.ts';

const BUDGETS = { helpSeconds: 0.3, importSeconds: 0.15, installedMB: 15 };
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 9;

const dir = mkdtempSync(path.join(tmpdir(), 'ploader-budgets-'));
const results: Array<{ budget: string; measured: string; limit: string; ok: boolean }> = [];
try {
  const install = installPacked(dir, { omitOptional: true, build: true });
  const modules = path.join(install.dir, 'node_modules');
  const cli = path.join(modules, '.bin', 'ploader');
  const importer = path.join(install.dir, 'time-import.mjs');
  writeFileSync(importer, "const started = performance.now(); await import('ploader'); console.log((performance.now() - started) / 1000);");

  const evict = evictor(modules);
  const help = () => wallSeconds(() => run([cli, '--help'], install.dir));
  const importTime = () => Number(run([importer], install.dir));
  check('ploader --help, warm', best(help, runs), BUDGETS.helpSeconds);
  check('import(\'ploader\'), warm', best(importTime, runs), BUDGETS.importSeconds);
  if (evict) {
    check('ploader --help, cold', best(() => (evict(), help()), runs), BUDGETS.helpSeconds);
    check('import(\'ploader\'), cold', best(() => (evict(), importTime()), runs), BUDGETS.importSeconds);
  } else {
    console.log('cold timings skipped: python3 (for posix_fadvise) is not available');
  }
  const mb = treeBytes(modules) / 1024 / 1024;
  results.push({ budget: 'installed size, no embedded server', measured: `${mb.toFixed(1)} MB`, limit: `${BUDGETS.installedMB} MB`, ok: mb <= BUDGETS.installedMB });
  writeStrictConsumer(install.dir);
  const checked = typeCheck(install.dir);
  const errors = checked.ok ? 0 : (checked.output.match(/error TS/g)?.length ?? 1);
  results.push({ budget: 'strict TypeScript consumer', measured: `${errors} errors`, limit: '0 errors', ok: errors === 0 });
  if (!checked.ok) console.log(checked.output);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.table(results);
const failed = results.filter((r) => !r.ok);
if (failed.length > 0) {
  console.error(`over budget: ${failed.map((r) => r.budget).join(', ')}`);
  process.exitCode = 1;
}

function check(budget: string, seconds: number, limit: number): void {
  results.push({ budget, measured: `${seconds.toFixed(3)} s (best of ${runs})`, limit: `${limit} s`, ok: seconds <= limit });
}

function run(args: string[], cwd: string): string {
  const result = spawnSync(process.execPath, args, { cwd, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

function wallSeconds(work: () => unknown): number {
  const started = performance.now();
  work();
  return (performance.now() - started) / 1000;
}

function best(measure: () => number, times: number): number {
  let least = Infinity;
  for (let i = 0; i < times; i++) least = Math.min(least, measure());
  return least;
}

/** Drops the installed files from the page cache (only these files: nothing else on the machine is touched). */
function evictor(root: string): (() => void) | undefined {
  if (spawnSync('python3', ['-c', 'import os; os.posix_fadvise']).status !== 0) return undefined;
  const files = readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
  const listFile = path.join(root, '..', 'files.txt');
  writeFileSync(listFile, files.join('\n'));
  const script = `import os, sys
for name in open(sys.argv[1]).read().split('\\n'):
    fd = os.open(name, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)`;
  return () => {
    spawnSync('python3', ['-c', script, listFile], { stdio: 'inherit' });
  };
}
