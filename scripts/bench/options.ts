/** The benchmark's options and what `npm run bench` runs with no flags. */
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ServerSettings } from '../../src/embedded/embedded-server.ts';
import type { ServerChoice } from './server.ts';

export type WalLevel = 'replica' | 'minimal';

export interface BenchOptions {
  /** Rows of votes data (votes workload). */
  rows: number;
  /** Approximate file size (nasty workload). */
  bytes: number;
  seed: number;
  rounds: number;
  /** The embedded server (default), a throwaway cluster from `--pg-bin DIR`, or the user's server (`--db URL`). */
  server: ServerChoice;
  /** For a server the benchmark starts; a given server keeps its own (printed). */
  walLevel: WalLevel;
  /** More settings for a server the benchmark starts (`--server-setting max_wal_size=1GB`). */
  serverSettings: ServerSettings;
  /** One ploader run per entry per round. */
  workers: number[];
  workload: 'votes' | 'nasty';
  /** JSON lines, one per run. */
  out: string;
  /** Keep the generated file (in `fileDir`) for the next run to reuse. */
  keepFiles: boolean;
  fileDir: string;
  /** Before each run, wait up to this long for other load on the host to settle (0: do not wait). */
  quietWaitS: number;
  log: (line: string) => void;
}

/** What `npm run bench` runs with no flags; a test passes only what it changes (e.g. `{ rows: 100_000, rounds: 1 }`). */
export const DEFAULT_BENCH_OPTIONS: BenchOptions = {
  rows: 7_500_000,
  bytes: 1 << 30,
  seed: 1,
  rounds: 3,
  server: { kind: 'embedded' },
  walLevel: 'replica',
  serverSettings: {},
  workers: [1, 2, 4],
  workload: 'votes',
  out: path.join('bench-results', `${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`),
  keepFiles: false,
  fileDir: path.join(tmpdir(), 'ploader-bench'),
  quietWaitS: 0,
  log: (line) => console.log(line),
};
