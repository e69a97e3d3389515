/**
 * Development only (see worker-entry.ts): esbuild bundles copy-chunk.ts and the project modules it
 * needs into one JavaScript file, about 30 ms per run, so workers always run the current sources.
 * Package imports (pg, pg-copy-streams) are left as imports of their resolved files, so the bundle
 * works from any directory; it goes to a directory of this user's own under the OS temp dir, named by
 * its content, so runs share it, and is written aside and renamed so a concurrent run never sees half.
 */
import { createHash } from 'node:crypto';
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureOwnedDir } from '../fs/owned-dir.ts';

let built: Promise<string> | undefined;

export function bundleWorker(source: string): Promise<string> {
  built ??= build(source);
  return built;
}

async function build(source: string): Promise<string> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [source],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    logLevel: 'silent',
    plugins: [
      {
        name: 'packages-by-path',
        setup(plugin) {
          plugin.onResolve({ filter: /^[^./]/ }, (args) => {
            if (args.path.startsWith('node:')) return { path: args.path, external: true };
            // Resolved as Node would from the sources (they share one node_modules), imported by that file's URL.
            return { path: import.meta.resolve(args.path), external: true };
          });
        },
      },
    ],
  });
  const code = result.outputFiles[0].text;
  const dir = path.join(tmpdir(), `ploader-dev-${process.getuid?.() ?? 'user'}`);
  ensureOwnedDir(dir, 0o700);
  const file = path.join(dir, `copy-chunk-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`);
  if (!existsSync(file)) {
    const partial = `${file}.${process.pid}.tmp`;
    writeFileSync(partial, code);
    renameSync(partial, file);
  }
  return file;
}
