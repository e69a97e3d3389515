import { describe, expect, it } from 'vitest';
import { describeStall, stallPollMs, StallWatch, type ChunkSession } from '../../../src/copy/stall-watch.ts';

const session = (over: Partial<ChunkSession> = {}): ChunkSession => ({
  pid: 101, chunk: 3, state: 'active', waitEvent: null, queryStart: 't0', stateChange: 't0', query: 'COPY "public"."ploader_votes_x" FROM STDIN', bytes: '1000', tuples: '10', ...over,
});

describe('StallWatch', () => {
  it('reports a session whose statement, state, bytes and rows stay the same for the timeout', () => {
    const watch = new StallWatch(1000);
    expect(watch.observe([session()], 0)).toBeUndefined();
    expect(watch.observe([session()], 999)).toBeUndefined();
    expect(watch.observe([session()], 1000)).toMatchObject({ session: { pid: 101 }, stillMs: 1000 });
  });

  it.each<[string, Partial<ChunkSession>]>([
    ['bytes', { bytes: '2000' }],
    ['rows', { tuples: '11' }],
    ['a new statement', { queryStart: 't1' }],
    ['a state change', { state: 'idle in transaction', stateChange: 't1' }],
  ])('starts the clock again on a change of %s', (_, change) => {
    const watch = new StallWatch(1000);
    watch.observe([session()], 0);
    expect(watch.observe([session(change)], 900)).toBeUndefined();
    expect(watch.observe([session(change)], 1800)).toBeUndefined();
    expect(watch.observe([session(change)], 1900)).toBeDefined();
  });

  it('never reports an idle session (the worker is between statements), nor one that went away', () => {
    const watch = new StallWatch(1000);
    watch.observe([session(), session({ pid: 102 })], 0);
    expect(watch.observe([session({ state: 'idle' })], 500)).toBeUndefined();
    expect(watch.observe([session({ state: 'idle' })], 5000)).toBeUndefined();
    // pid 102 left at 500: seen again, its clock starts afresh.
    expect(watch.observe([session({ pid: 102 })], 5000)).toBeUndefined();
    expect(watch.observe([session({ pid: 102 })], 6000)).toMatchObject({ session: { pid: 102 } });
  });

  it('names first the session still the longest (a stopped process), then those stopped behind it', () => {
    const watch = new StallWatch(1000);
    watch.observe([session({ pid: 101, chunk: 1 }), session({ pid: 102, chunk: 2, tuples: '5' })], 0);
    // pid 101 stopped at 0; pid 102 moved until 300, then waits behind it.
    watch.observe([session({ pid: 101, chunk: 1 }), session({ pid: 102, chunk: 2, tuples: '9' })], 300);
    const stall = watch.observe([session({ pid: 102, chunk: 2, tuples: '9' }), session({ pid: 101, chunk: 1 })], 1300);
    expect(stall).toMatchObject({ session: { pid: 101 }, stillMs: 1300, others: [{ pid: 102 }] });
    expect(describeStall(stall!, 1000)).toMatch(/^the server session copying chunk 1 \(pid 101, active: COPY .*\) made no progress for 1 s \(--stall-timeout\), nor did the one copying chunk 2 \(pid 102, active: COPY .*\): the load was stopped/);
  });

  it('polls a few times per timeout, between 0.1 s and 5 s', () => {
    expect(stallPollMs(300_000)).toBe(5000);
    expect(stallPollMs(2000)).toBe(500);
    expect(stallPollMs(100)).toBe(100);
  });

  it('says which session, what it waits on, and what to do', () => {
    const text = describeStall({ session: session({ waitEvent: 'SyncRep', query: 'COMMIT' }), stillMs: 300_000, others: [] }, 300_000);
    expect(text).toBe(
      'the server session copying chunk 3 (pid 101, active, waiting on SyncRep: COMMIT) made no progress for 5 min (--stall-timeout): the load was stopped and nothing was published; ' +
        "the chunks already committed are kept — have the server's administrator look at process 101 (pg_terminate_backend, or a restart), then run the same command with --resume",
    );
  });
});
