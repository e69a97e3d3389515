/**
 * Before the run: build dist/ from the current sources, since the CLI tests run bin/ploader.js as a
 * user would, and that runs the compiled package. Then one PostgreSQL server for the whole test run:
 * the one named by PLOADER_TEST_DATABASE_URL, or a throwaway embedded server that is stopped and
 * removed when the run ends (also on Ctrl-C).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedServer, type EmbeddedServer } from '../../src/embedded/embedded-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

let server: EmbeddedServer | undefined;

export async function setup(project: TestProject): Promise<void> {
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: path.resolve(import.meta.dirname, '../..'), stdio: 'inherit' });
  const given = process.env.PLOADER_TEST_DATABASE_URL;
  if (given) {
    project.provide('databaseUrl', given);
    return;
  }
  server = await startEmbeddedServer({ settings: { max_connections: 200 } });
  project.provide('databaseUrl', server.url);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}
