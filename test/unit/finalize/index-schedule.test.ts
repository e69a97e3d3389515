import { describe, expect, it } from 'vitest';
import {
  estimateBuildCpuSeconds,
  MIN_BYTES_PER_PARTICIPANT,
  participantSortBytes,
  scheduleIndexBuilds,
  simulate,
  SWEET_SPOT_SORT_BYTES,
  type IndexBuild,
  type ScheduleInput,
} from '../../../src/finalize/index-schedule.ts';

const MB = 1 << 20;
const pk: IndexBuild = { label: 'index votes_pkey', keys: [{ kind: 'fixed', widthBytes: 4 }] };
const username: IndexBuild = { label: 'index votes_username_idx', keys: [{ kind: 'libc-collated', widthBytes: 10 }] };
const link: IndexBuild = { label: 'index votes_link_idx', keys: [{ kind: 'libc-collated', widthBytes: 40 }] };
const stock = { maintenanceWorkMemBytes: 64 * MB, maxParallelWorkers: 2 };

function schedule(overrides: Partial<ScheduleInput>) {
  return scheduleIndexBuilds({ builds: [pk, username, link], rows: 7_500_000, cores: 2, server: stock, ...overrides });
}

describe('estimateBuildCpuSeconds', () => {
  it('ranks text under a libc collation above abbreviated text above a fixed-width key, for the same rows', () => {
    const cost = (kind: IndexBuild['keys'][0]['kind']) => estimateBuildCpuSeconds({ label: kind, keys: [{ kind, widthBytes: 10 }] }, 1_000_000);
    expect(cost('libc-collated')).toBeGreaterThan(2 * cost('abbreviated'));
    expect(cost('abbreviated')).toBeGreaterThan(cost('fixed'));
  });

  it('grows as rows × log2(rows), and with the text key width', () => {
    const at = (rows: number) => estimateBuildCpuSeconds(username, rows);
    expect(at(75_000_000) / at(7_500_000)).toBeCloseTo(10 * (Math.log2(75e6) / Math.log2(7.5e6)), 5);
    expect(estimateBuildCpuSeconds(link, 1e6)).toBeGreaterThan(estimateBuildCpuSeconds(username, 1e6));
  });

  it('counts only the rows of a partial index, and later key columns at a quarter', () => {
    expect(estimateBuildCpuSeconds({ ...pk, rowFraction: 0.1 }, 1e6)).toBeLessThan(estimateBuildCpuSeconds(pk, 1e6) / 9);
    const twoKeys = { label: 'two', keys: [pk.keys[0], pk.keys[0]] };
    expect(estimateBuildCpuSeconds(twoKeys, 1e6) / estimateBuildCpuSeconds(pk, 1e6)).toBeCloseTo(1.25, 5);
  });
});

describe('participantSortBytes', () => {
  it.each([
    ['a sort that fits in less than the sweet spot gets its size, at least 32MB', 10 * MB, MIN_BYTES_PER_PARTICIPANT],
    ['a 48MB sort gets its size with a margin', 48 * MB, 60 * MB],
    ['a 1GB sort merges in one pass within the sweet spot', 1024 * MB, SWEET_SPOT_SORT_BYTES],
    ['a 16GB sort needs more for one merge pass: 2 × √(sort × 256kB)', 16 * 1024 * MB, 128 * MB],
  ])('%s', (_, bytes, expected) => {
    expect(participantSortBytes(bytes)).toBe(expected);
  });
});

describe('simulate', () => {
  it.each([
    ['two equal builds on two cores run side by side', [10, 10], [0, 0], 2, 2, 10],
    ['three equal builds on two sessions: the third waits', [10, 10, 10], [0, 0, 0], 2, 2, 20],
    ['one build with a worker uses both cores, at 1.1× the CPU', [10], [1], 1, 2, 5.5],
    ['a worker on one core only shares it', [10], [1], 1, 1, 11],
    ['a build with a worker shares the cores with the others, then has both (3 processes at 2/3 core for 6 s, then 2 cores)', [10, 2, 2], [1, 0, 0], 2, 2, 7.5],
  ])('%s', (_, cpuS, workers, sessions, cores, expected) => {
    expect(simulate(cpuS, workers, sessions, cores)).toBeCloseTo(expected, 5);
  });
});

describe('scheduleIndexBuilds', () => {
  it('starts the longest build first and runs one session more than there are cores', () => {
    const result = schedule({});
    expect(result.builds.map((b) => b.label)).toEqual(['index votes_link_idx', 'index votes_username_idx', 'index votes_pkey']);
    expect(result.builds.map((b) => b.order)).toEqual([0, 1, 2]);
    expect(result.sessions).toBe(3);
  });

  it('gives the idle core to the build that would run alone at the end', () => {
    const result = scheduleIndexBuilds({ builds: [link, pk, { ...pk, label: 'index other' }], rows: 7_500_000, cores: 2, server: stock });
    expect(result.builds.map((b) => [b.label, b.parallelWorkers])).toEqual([
      ['index votes_link_idx', 1],
      ['index votes_pkey', 0],
      ['index other', 0],
    ]);
    expect(result.estimatedWallS).toBeLessThan(simulate(result.builds.map((b) => b.estimatedCpuS), [0, 0, 0], 2, 2));
  });

  it('gives no workers when the builds already keep every core busy to the end', () => {
    const result = scheduleIndexBuilds({ builds: [username, { ...username, label: 'index twin' }], rows: 7_500_000, cores: 2, server: stock });
    expect(result.builds.map((b) => b.parallelWorkers)).toEqual([0, 0]);
    expect(result.estimatedWallS).toBeCloseTo(result.floorS, 5);
  });

  it('gives no workers on one core, or when the server allows none', () => {
    expect(schedule({ cores: 1 }).builds.every((b) => b.parallelWorkers === 0)).toBe(true);
    const lone = { builds: [link, pk], rows: 7_500_000, cores: 2 };
    expect(scheduleIndexBuilds({ ...lone, server: { ...stock, maxParallelWorkers: 0 } }).builds.map((b) => b.parallelWorkers)).toEqual([0, 0]);
    expect(scheduleIndexBuilds({ ...lone, server: stock }).builds[0].parallelWorkers).toBe(1);
  });

  it('never sets more sort memory than the server allows, and gives no worker less than 32MB', () => {
    const small = scheduleIndexBuilds({ builds: [link, pk], rows: 7_500_000, cores: 2, server: { maintenanceWorkMemBytes: 48 * MB, maxParallelWorkers: 8 } });
    for (const build of small.builds) expect(build.maintenanceWorkMemBytes).toBeLessThanOrEqual(48 * MB);
    expect(small.builds.map((b) => b.parallelWorkers)).toEqual([0, 0]);
  });

  it('sizes memory to the build: the sweet spot at 7.5M rows, more at 300M rows where one merge pass needs it, never above the server', () => {
    const big = { maintenanceWorkMemBytes: 4096 * MB, maxParallelWorkers: 0 };
    expect(schedule({ server: big }).builds.map((b) => b.maintenanceWorkMemBytes)).toEqual([64 * MB, 64 * MB, 64 * MB]);
    const huge = schedule({ server: big, rows: 300_000_000 });
    expect(huge.builds[0].maintenanceWorkMemBytes).toBeGreaterThan(64 * MB);
    expect(schedule({ server: stock, rows: 300_000_000 }).builds.every((b) => b.maintenanceWorkMemBytes <= 64 * MB)).toBe(true);
  });

  it('uses the user\'s --index-memory for every build', () => {
    expect(schedule({ memoryOverrideBytes: 256 * MB }).builds.map((b) => b.maintenanceWorkMemBytes)).toEqual([256 * MB, 256 * MB, 256 * MB]);
  });

  it('states its floor: the estimated CPU over the cores', () => {
    const result = schedule({});
    expect(result.floorS).toBeCloseTo(result.builds.reduce((sum, b) => sum + b.estimatedCpuS, 0) / 2, 9);
    expect(result.estimatedWallS).toBeGreaterThanOrEqual(result.floorS - 1e-9);
  });

  it('returns an empty schedule for no builds', () => {
    expect(scheduleIndexBuilds({ builds: [], rows: 100, cores: 4, server: stock })).toEqual({ sessions: 0, builds: [], floorS: 0, estimatedWallS: 0 });
  });
});
