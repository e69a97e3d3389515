/**
 * `import { load } from 'ploader'` from plain JavaScript (no TypeScript loader of the caller's own):
 * the package entry brings its own and a real load works through it.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/database.ts';
import { useTempDir } from '../support/fixtures.ts';

const db = useTestDatabase();
const write = useTempDir();

describe("import { load } from 'ploader'", () => {
  it('loads a file from a plain JavaScript caller', async () => {
    await db.client.query('CREATE TABLE votes (voteid serial PRIMARY KEY, username text, link text, score int)');
    const file = write('votes.csv', 'a,l1,1\nb,"l\n2",-1\n');
    const script = `
      const { load, PloaderError } = await import('ploader');
      const report = await load({ file: process.argv[1], table: 'votes', db: process.argv[2], columns: ['username', 'link', 'score'], workers: 2 });
      console.log(JSON.stringify({ rows: report.rows, error: typeof PloaderError }));`;
    const root = path.resolve(import.meta.dirname, '../..');
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script, file, db.url], { cwd: root, encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ rows: 2, error: 'function' });
    const { rows } = await db.client.query('SELECT count(*)::int AS n FROM votes');
    expect(rows[0].n).toBe(2);
  });
});
