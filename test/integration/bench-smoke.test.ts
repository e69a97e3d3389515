/**
 * Keeps `npm run bench` working: a 100k-row run of every method. It asserts correctness only (each
 * method leaves the full table; runBench itself checks indexes and persistence), never timings.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runBench } from '../../scripts/bench/run.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'ploader-bench-smoke-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm run bench (smoke)', () => {
  it('runs B, ploader and the hand recipe on 100k rows and every one loads them all', async () => {
    const out = path.join(dir, 'runs.jsonl');
    const result = await runBench({ rows: 100_000, rounds: 1, workers: [2], out, fileDir: dir, log: () => {} });
    expect(result.runs.map((r) => r.method).sort()).toEqual(['B', 'H', 'P2']);
    for (const run of result.runs) expect(run.rows).toBe(100_000);
    expect(readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(3);
    expect(result.table).toMatch(/×B/);
  });
});
