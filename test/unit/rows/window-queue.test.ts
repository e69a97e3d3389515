import { describe, expect, it } from 'vitest';
import type { RecordWithBytes } from '../../../src/rows/chunk-records.ts';
import { WindowQueue, type Settled, type Window, type WindowResult } from '../../../src/rows/window-queue.ts';

/** Records of `size` bytes each, indexed from `from`, read in blocks of `perBlock`. */
function recordBlocks(count: number, perBlock: number, size = 10): RecordWithBytes[][] {
  const blocks: RecordWithBytes[][] = [];
  for (let i = 0; i < count; i++) {
    if (i % perBlock === 0) blocks.push([]);
    const bytes = Buffer.from(`${String(i).padStart(size - 1, '0')}\n`);
    blocks[blocks.length - 1].push({ index: i, start: i * size, end: (i + 1) * size, line: i + 1, serverLine: i + 1, ownLines: 1, quotedCR: 0, stray: false, bytes });
  }
  return blocks;
}

async function* iterate(blocks: RecordWithBytes[][]): AsyncGenerator<RecordWithBytes[]> {
  for (const block of blocks) yield block;
}

/**
 * Runs the queue to the end the way isolation does, with `bad` the indexes a server refuses: a window
 * fails at its first bad record, or (`skipping`) skips the bad ones and loads. Returns what was taken,
 * in order, and the batches' sizes.
 */
async function drain(count: number, bad: ReadonlySet<number>, options: { perBlock?: number; maxWindows?: number; skipping?: boolean } = {}) {
  const blocks = recordBlocks(count, options.perBlock ?? 100);
  const records = iterate(blocks);
  const queue = new WindowQueue<string>(records, undefined, [], { first: 40, max: 1000, gapWeight: 0.25 });
  const order: number[] = [];
  const rejected: number[] = [];
  const batches: number[] = [];
  let rounds = 0;
  while (!queue.done) {
    if (++rounds > 100_000) throw new Error('the queue does not settle');
    const windows = await queue.nextBatch(options.maxWindows ?? 8, 400, 2000);
    if (windows.length === 0) continue;
    batches.push(windows.length);
    const results = new Map<Window, WindowResult<string>>();
    for (const window of windows) {
      const skipped: Array<{ at: number; reason: string }> = [];
      let result: WindowResult<string> = { skipped };
      for (let at = 0; at < window.records.length; at++) {
        if (!bad.has(window.records[at].index)) continue;
        if (options.skipping) skipped.push({ at, reason: `skip ${window.records[at].index}` });
        else {
          result = { skipped, failedAt: at, failure: `bad ${window.records[at].index}` };
          break;
        }
      }
      results.set(window, result);
    }
    queue.settle(results);
    for (const piece of queue.takeSettled() as Settled<string>[]) {
      if ('bad' in piece) {
        rejected.push(piece.bad.record.index);
        order.push(piece.bad.record.index);
        expect(piece.bad.reason).toMatch(new RegExp(` ${piece.bad.record.index}$`));
      } else order.push(...piece.good.map((record) => record.index));
    }
  }
  return { order, rejected, batches };
}

const every = (count: number) => Array.from({ length: count }, (_, i) => i);

describe('WindowQueue', () => {
  it('takes every record once, in file order, the bad ones set aside', async () => {
    const bad = new Set([0, 3, 4, 5, 99, 100, 101, 250, 777, 998, 999]);
    const { order, rejected } = await drain(1000, bad);
    expect(order).toEqual(every(1000));
    expect(rejected).toEqual([...bad].sort((a, b) => a - b));
  });

  it('settles a run where every record is bad, and one with none', async () => {
    const all = await drain(300, new Set(every(300)));
    expect(all.order).toEqual(every(300));
    expect(all.rejected).toEqual(every(300));
    const none = await drain(300, new Set());
    expect(none.order).toEqual(every(300));
    expect(none.rejected).toEqual([]);
  });

  it('keeps skipped records in place when the window loads past them', async () => {
    const bad = new Set([1, 2, 50, 51, 52, 299]);
    const { order, rejected } = await drain(300, bad, { skipping: true });
    expect(order).toEqual(every(300));
    expect(rejected).toEqual([...bad]);
  });

  it('checks several windows per batch, never more than asked', async () => {
    const bad = new Set(every(2000).filter((i) => i % 10 === 3));
    const { order, rejected, batches } = await drain(2000, bad, { maxWindows: 8 });
    expect(order).toEqual(every(2000));
    expect(rejected).toEqual([...bad]);
    expect(Math.max(...batches)).toBeLessThanOrEqual(8);
    // Many bad rows per round trip, not one: the batches are what make isolation cheap.
    expect(batches.length).toBeLessThan(bad.size / 2);
  });

  it('cuts windows across read blocks and keeps them near the gap between bad rows', async () => {
    const bad = new Set(every(5000).filter((i) => i % 20 === 0));
    const { order, rejected } = await drain(5000, bad, { perBlock: 7 });
    expect(order).toEqual(every(5000));
    expect(rejected).toEqual([...bad]);
  });

  it('says when only unchecked records are queued: a window cut then can be loaded in place', async () => {
    const queue = new WindowQueue<string>(iterate(recordBlocks(100, 100)), undefined, [], { first: 100, max: 1000, gapWeight: 0.25 });
    const [first, second] = await queue.nextBatch(2, 1000, 1000);
    // The first window failed at its 3rd record, the second loaded: its good records wait behind the first one's tail.
    queue.settle(new Map([[first, { skipped: [], failedAt: 2, failure: 'bad 2' }], [second, { skipped: [] }]]));
    expect(queue.takeSettled().length).toBe(2);
    expect(queue.onlyUnchecked).toBe(false);
    const [tail] = await queue.nextBatch(1, 1000, 1000);
    expect(tail.records.map((r) => r.index)).toEqual(every(10).slice(3));
    queue.settle(new Map([[tail, { skipped: [] }]]));
    expect(queue.takeSettled().length).toBe(2);
    // Only the records not read into a window yet are left.
    expect(queue.onlyUnchecked).toBe(true);
  });

  it('remembers the latest good record as the primer', async () => {
    const blocks = recordBlocks(10, 10);
    const queue = new WindowQueue<string>(iterate(blocks), undefined, [], { first: 1000, max: 1000, gapWeight: 0.25 });
    const [window] = await queue.nextBatch(1, 1000, 1000);
    queue.settle(new Map([[window, { skipped: [], failedAt: 6, failure: 'bad' }]]));
    expect(queue.primer?.index).toBe(5);
  });
});
