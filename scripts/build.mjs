// `npm run build` (run by npm at `prepare`: `npm ci`/`npm install` in a clone, a git install, `npm pack`):
// dist/ from the TypeScript sources, emptied first so no module that was renamed or removed lingers.
// Plain JavaScript, because it must run before anything is built.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
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
rmSync(path.join(root, 'dist'), { recursive: true, force: true });
const result = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
process.exit(result.status ?? 1);
