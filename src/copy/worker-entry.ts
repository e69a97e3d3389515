/**
 * The file the worker threads run. In the built package it is the compiled copy-chunk.js beside this
 * module: plain JavaScript, nothing loaded or written at run time. Run from the TypeScript sources
 * (tests, scripts through tsx), there is no such file, and tsx in every worker thread would cost a
 * module-hooks thread of its own (about 0.25 s of CPU and 30 MB per worker, measured on a one-row
 * load); instead a development-only esbuild bundle of the current sources is used (dev-worker-bundle.ts).
 */
import { fileURLToPath } from 'node:url';

export async function workerFile(): Promise<string> {
  if (!import.meta.url.endsWith('.ts')) return fileURLToPath(new URL('./copy-chunk.js', import.meta.url));
  // Through a computed specifier: the build never follows it, and the package never imports esbuild.
  const bundler = new URL('./dev-worker-bundle.ts', import.meta.url).href;
  const { bundleWorker } = (await import(bundler)) as typeof import('./dev-worker-bundle.ts');
  return bundleWorker(fileURLToPath(new URL('./copy-chunk.ts', import.meta.url)));
}
