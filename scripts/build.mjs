// `npm run build` (run by npm at `prepare`: `npm ci`/`npm install` in a clone, a git install, `npm pack`):
// dist/ from the TypeScript sources, built aside and swapped in, so no module that was renamed or removed
// lingers, and a CLI running meanwhile (the test suite's) sees the old dist/ or the new one, never none.
// Plain JavaScript, because it must run before anything is built.
import { spawnSync } from 'node:child_process';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  // `npm install <folder>` links a clone without installing its dev dependencies.
  if (existsSync(path.join(root, 'dist', 'cli.js'))) process.exit(0);
  process.stderr.write(`ploader: cannot build dist/: TypeScript (a dev dependency) is not installed in ${root} — run \`npm ci\` there first\n`);
  process.exit(1);
}
const dist = path.join(root, 'dist');
const fresh = `${dist}.build-${process.pid}`;
const old = `${dist}.old-${process.pid}`;
try {
  const result = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--outDir', fresh], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
  if (existsSync(dist)) renameSync(dist, old);
  renameSync(fresh, dist);
} finally {
  rmSync(fresh, { recursive: true, force: true });
  rmSync(old, { recursive: true, force: true });
}
