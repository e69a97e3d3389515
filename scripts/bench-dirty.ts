/**
 * Dirty-data benchmark (issue 12): the seed's votes data loaded clean, then with bad rows planted at
 * 0.01 %, 1 % and 10 % (type errors, CHECK and NOT NULL violations, extra columns; a quoted newline
 * in the record before every other one), and with 1 % and 30 % duplicate keys loaded with
 * --on-conflict skip. Each dirty load is printed as a ratio of the clean load of the same table, run
 * in the same session, with the peak RSS of the process (the workers are its threads).
 *
 *   npm run bench:dirty -- [--rows 1000000] [--workers 2] [--rounds 1] [--db postgres://...]
 *
 * Without --db it starts a throwaway embedded PostgreSQL 18. With --db it works in a database of its
 * own on that server, dropped at the end. Exits non-zero when a load keeps or rejects other rows
 * than planted.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { startEmbeddedServer, type EmbeddedServer } from '../src/embedded/embedded-server.ts';
import { load } from '../src/load.ts';
import { seededRandom, votesCsv } from './votes-data.ts';

interface Workload {
  name: string;
  table: 'votes' | 'keyed';
  /** What is planted: a fraction of bad rows, or of duplicate keys. */
  bad?: number;
  duplicates?: number;
}

const WORKLOADS: Workload[] = [
  { name: 'clean', table: 'votes' },
  { name: 'bad rows 0.01 %', table: 'votes', bad: 0.0001 },
  { name: 'bad rows 1 %', table: 'votes', bad: 0.01 },
  { name: 'bad rows 10 %', table: 'votes', bad: 0.1 },
  { name: 'clean, keyed', table: 'keyed' },
  { name: 'duplicates 1 %, skip', table: 'keyed', duplicates: 0.01 },
  { name: 'duplicates 30 %, skip', table: 'keyed', duplicates: 0.3 },
];

/** The database the benchmark works in, created and dropped by it: never the caller's own tables. */
const BENCH_DATABASE = 'ploader_bench_dirty';

const DDL = {
  votes: `CREATE TABLE votes (voteid serial PRIMARY KEY, username text NOT NULL, link text NOT NULL, score int NOT NULL CHECK (score IN (-1, 1)))`,
  keyed: `CREATE TABLE keyed (voteid bigint PRIMARY KEY, username text NOT NULL, link text NOT NULL, score int NOT NULL)`,
};
const INDEXES = { votes: ['CREATE INDEX ON votes (username)', 'CREATE INDEX ON votes (link)'], keyed: ['CREATE INDEX ON keyed (link)'] };

/** The bad kinds, in turn; every other one follows a record with a quoted newline. */
const BAD_ROWS = [(u: string, l: string) => `${u},${l},x\n`, (u: string, l: string) => `${u},${l},7\n`, (u: string) => `${u},,1\n`, (u: string, l: string) => `${u},${l},1,extra\n`];

/** Writes the workload's file; returns what a correct load keeps and sets aside. */
async function writeWorkload(file: string, rows: number, workload: Workload): Promise<{ rows: number; rejected: number }> {
  const random = seededRandom(7);
  const out: string[] = [];
  let planted = 0;
  /** Keys given so far: a duplicate repeats one of them. */
  const keys: number[] = [];
  for (const batch of votesCsv({ rows, seed: 1 })) {
    for (const line of batch.split('\n')) {
      if (line === '') continue;
      const [user, link, score] = line.split(',');
      if (workload.bad !== undefined && random() < workload.bad) {
        if (planted % 2 === 1) out.push(`${user},"${link}\nquoted",${score}\n`);
        out.push(BAD_ROWS[planted++ % BAD_ROWS.length](user, link));
      } else if (workload.table === 'keyed') {
        const duplicate = workload.duplicates !== undefined && keys.length > 0 && random() < workload.duplicates;
        if (duplicate) planted++;
        else keys.push(keys.length);
        out.push(`${duplicate ? keys[Math.floor(random() * keys.length)] : keys[keys.length - 1]},${line}\n`);
      } else out.push(`${line}\n`);
    }
  }
  await writeFile(file, out.join(''));
  return { rows: out.length - planted, rejected: planted };
}

async function main(): Promise<void> {
  const argv = await yargs(hideBin(process.argv))
    .option('rows', { type: 'number', default: 1_000_000 })
    .option('workers', { type: 'number', default: availableParallelism() })
    .option('rounds', { type: 'number', default: 1 })
    .option('db', { type: 'string', describe: 'server to load into (default: an embedded PostgreSQL 18)' })
    .strict()
    .parse();
  const dir = await mkdtemp(path.join(tmpdir(), 'ploader-bench-dirty-'));
  let server: EmbeddedServer | undefined;
  let failed = false;
  try {
    server = argv.db ? undefined : await startEmbeddedServer({ settings: { max_connections: 100, shared_buffers: '512MB', max_wal_size: '4GB' } });
    const admin = new pg.Client(argv.db ?? server!.url);
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${BENCH_DATABASE}`);
    await admin.query(`CREATE DATABASE ${BENCH_DATABASE}`);
    await admin.end();
    const url = new URL(argv.db ?? server!.url);
    url.pathname = `/${BENCH_DATABASE}`;
    const db = url.toString();
    const client = new pg.Client(db);
    await client.connect();
    const { rows: [{ version }] } = await client.query<{ version: string }>("SELECT current_setting('server_version') AS version");
    console.log(`ploader dirty-data benchmark: ${argv.rows.toLocaleString('en-US')} votes, ${argv.workers} workers, PostgreSQL ${version}, ${argv.rounds} round(s), best of rounds`);
    const best = new Map<string, { seconds: number; rssMB: number }>();
    const files = new Map<string, { file: string; expected: { rows: number; rejected: number } }>();
    for (const workload of WORKLOADS) {
      const file = path.join(dir, `${workload.name.replace(/\W+/g, '-')}.csv`);
      files.set(workload.name, { file, expected: await writeWorkload(file, argv.rows, workload) });
    }
    for (let round = 0; round < argv.rounds; round++) {
      for (const workload of WORKLOADS) {
        const { file, expected } = files.get(workload.name)!;
        await client.query(`DROP TABLE IF EXISTS ${workload.table}; ${DDL[workload.table]}; ${INDEXES[workload.table].join('; ')}`);
        await client.query('CHECKPOINT');
        let peak = process.memoryUsage().rss;
        const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
        const started = performance.now();
        const report = await load({
          file,
          table: workload.table,
          db,
          columns: workload.table === 'votes' ? ['username', 'link', 'score'] : undefined,
          workers: argv.workers,
          maxErrors: workload.bad !== undefined ? Infinity : undefined,
          onConflict: workload.duplicates !== undefined ? 'skip' : undefined,
        }).finally(() => clearInterval(sampler));
        const seconds = (performance.now() - started) / 1000;
        if (report.rows !== expected.rows || report.rejected !== expected.rejected) {
          failed = true;
          console.log(`WRONG: ${workload.name} kept ${report.rows} and set aside ${report.rejected}; planted ${expected.rows} and ${expected.rejected}`);
        }
        const previous = best.get(workload.name);
        if (!previous || seconds < previous.seconds) best.set(workload.name, { seconds, rssMB: peak / 1e6 });
      }
    }
    console.log(`${'workload'.padEnd(24)} ${'rows kept'.padStart(11)} ${'set aside'.padStart(10)} ${'seconds'.padStart(8)} ${'× clean'.padStart(8)} ${'peak RSS'.padStart(9)}`);
    for (const workload of WORKLOADS) {
      const { expected } = files.get(workload.name)!;
      const result = best.get(workload.name)!;
      const clean = best.get(workload.table === 'votes' ? 'clean' : 'clean, keyed')!;
      console.log(
        `${workload.name.padEnd(24)} ${expected.rows.toLocaleString('en-US').padStart(11)} ${expected.rejected.toLocaleString('en-US').padStart(10)} ${result.seconds.toFixed(2).padStart(8)} ${(result.seconds / clean.seconds).toFixed(2).padStart(8)} ${`${Math.round(result.rssMB)} MB`.padStart(9)}`,
      );
    }
    await client.end();
    const cleanup = new pg.Client(argv.db ?? server!.url);
    await cleanup.connect();
    await cleanup.query(`DROP DATABASE IF EXISTS ${BENCH_DATABASE} WITH (FORCE)`);
    await cleanup.end();
  } finally {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  }
  if (failed) process.exit(1);
}

await main();
