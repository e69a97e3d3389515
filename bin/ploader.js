#!/usr/bin/env node
// The CLI, compiled to dist/ by `npm run build` (run by npm at install, `npm ci` and pack time).
try {
  await import('../dist/cli.js');
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes('dist/cli.js')) throw error;
  process.stderr.write('ploader: dist/ is not built: run `npm install` (or `npm run build`) in the ploader folder\n');
  process.exitCode = 1;
}
