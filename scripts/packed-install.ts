/**
 * The package as a user gets it: `npm pack` of this checkout (which builds dist/ through `prepare`),
 * installed from the tarball into a scratch project, as `npm install ploader` would. Used by the
 * package test and by `npm run budgets`.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '..');

export interface PackedInstall {
  /** The scratch project: package.json, node_modules/ploader and its dependencies. */
  dir: string;
  tarball: string;
}

/**
 * Packs the checkout into `dir` and installs it there; `omitOptional` leaves out the embedded server's
 * binaries. `build: false` packs the dist/ already built (the test suite's global setup builds it; a
 * rebuild by `prepare` would swap dist/ under the CLI tests running meanwhile).
 */
export function installPacked(dir: string, options: { omitOptional: boolean; build: boolean }): PackedInstall {
  mkdirSync(dir, { recursive: true });
  const scripts = options.build ? [] : ['--ignore-scripts'];
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', ...scripts, '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as Array<{ filename: string }>;
  const tarball = path.join(dir, packed[0].filename);
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'ploader-consumer', private: true, type: 'module' }));
  const omit = options.omitOptional ? ['--omit=optional'] : [];
  execFileSync('npm', ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund', ...omit], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  return { dir, tarball };
}

/** Bytes on disk under a directory (file sizes, links not followed), as `du --apparent-size` counts. */
export function treeBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSync(path.join(entry.parentPath, entry.name)).size;
  }
  return total;
}

/** A strict TypeScript consumer: `strict`, `moduleResolution: nodenext`, nothing else, no @types of its own. */
export function writeStrictConsumer(dir: string): void {
  writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', noEmit: true }, files: ['consumer.ts'] }),
  );
  writeFileSync(
    path.join(dir, 'consumer.ts'),
    `import { load, cleanup, formatReport, PloaderError, type CreateOption, type HeaderOption, type LoadOptions, type LoadReport, type ProgressEvent } from 'ploader';

const options: LoadOptions = {
  file: 'votes.csv',
  table: 'public.votes',
  columns: ['username', 'link', 'score'],
  workers: 2,
  maxErrors: 10,
  onConflict: 'skip',
  onProgress: (event: ProgressEvent) => {
    if (event.kind === 'chunk') console.log(event.doneBytes / event.totalBytes);
  },
};
try {
  const report: LoadReport = await load(options);
  console.log(formatReport(report), report.rows, report.rejected);
  const header: HeaderOption = 'names';
  const create: CreateOption = 'if-missing';
  const made: LoadReport = await load({ file: 'people.csv', header, create });
  console.log(made.columns.join(), made.defaulted.join(), made.createTable ?? 'appended');
  const cleaned = await cleanup({ table: 'votes' });
  console.log(cleaned.dropped.length);
} catch (error) {
  if (error instanceof PloaderError) console.log(error.code, error.position?.line);
}
`,
  );
}

/** Runs the project's own TypeScript compiler on the consumer; returns its output (empty: 0 errors). */
export function typeCheck(dir: string): { ok: boolean; output: string } {
  try {
    const output = execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { ok: true, output };
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}
