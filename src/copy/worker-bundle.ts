/**
 * What the worker threads run. Not the TypeScript sources through tsx: tsx in a worker thread costs
 * a module-hooks thread of its own, about 0.25 s of CPU and 30 MB per worker (measured on a one-row
 * load). Instead esbuild (the compiler tsx itself uses) bundles copy-chunk.ts and the modules
 * it needs into one plain-JavaScript file, in about 30 ms per run. The file goes under node_modules so
 * that its package imports (pg, pg-copy-streams) resolve; it is named by its content, so runs share
 * it. If it cannot be built or written, workers fall back to the sources through tsx.
 */
import { createHash } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface WorkerEntry {
  filename: string;
  execArgv: string[];
}

const WORKER_SOURCE = fileURLToPath(new URL('./copy-chunk.ts', import.meta.url));
const CACHE_DIR = fileURLToPath(new URL('../../node_modules/.cache/ploader/', import.meta.url));

let built: Promise<WorkerEntry> | undefined;

export function workerEntry(): Promise<WorkerEntry> {
  built ??= bundleWorker().catch(() => sourceWorker());
  return built;
}

async function bundleWorker(): Promise<WorkerEntry> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [WORKER_SOURCE],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    write: false,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0].text;
  const file = path.join(CACHE_DIR, `copy-chunk-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`);
  if (!existsSync(file)) {
    await mkdir(CACHE_DIR, { recursive: true });
    // Written aside and renamed: a concurrent run never sees half a file.
    const partial = `${file}.${process.pid}.tmp`;
    await writeFile(partial, code);
    await rename(partial, file);
  }
  return { filename: pathToFileURL(file).href, execArgv: [] };
}

/** The sources through tsx: slower to start, but needs nothing written. */
function sourceWorker(): WorkerEntry {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return { filename: pathToFileURL(WORKER_SOURCE).href, execArgv: ['--import', tsx] };
}
