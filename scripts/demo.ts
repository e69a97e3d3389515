/**
 * The one-command tour: deterministic votes data → a real embedded PostgreSQL → a load → the seed's
 * top-voted-links query.  `npm run demo` (add `-- --keep` to keep the server up and get a psql URL).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { startEmbeddedServer } from '../src/embedded/embedded-server.ts';
import { load } from '../src/load.ts';
import { formatReport } from '../src/report/report.ts';
import { TOP_LINKS_QUERY, VOTES_INDEX_DDL, VOTES_TABLE_DDL, writeVotesFile } from './votes-data.ts';

const argv = await yargs(hideBin(process.argv))
  .option('rows', { type: 'number', default: 1_000_000, describe: 'rows of sample votes data' })
  .option('workers', { type: 'number', default: 2, describe: 'parallel COPY sessions' })
  .option('keep', { type: 'boolean', default: false, describe: 'keep the server up until Ctrl-C' })
  .strict()
  .parse();

const workDir = await mkdtemp(path.join(tmpdir(), 'ploader-demo-'));
const file = path.join(workDir, 'votes.csv');
const server = await startEmbeddedServer();
try {
  const started = performance.now();
  const bytes = await writeVotesFile(file, { rows: argv.rows, seed: 1 });
  console.log(`generated ${file}: ${argv.rows} rows, ${(bytes / 1e6).toFixed(1)} MB in ${elapsed(started)}`);

  const client = new pg.Client(server.url);
  await client.connect();
  // The seed's table, with its secondary indexes declared up front: ploader builds them after the load.
  await client.query(VOTES_TABLE_DDL);
  for (const ddl of VOTES_INDEX_DDL) await client.query(ddl);

  const report = await load({
    file,
    table: 'votes',
    db: server.url,
    columns: ['username', 'link', 'score'],
    workers: argv.workers,
    onProgress: (event) => {
      if (event.kind === 'phase') console.log(`  ${event.phase}${event.detail ? `: ${event.detail}` : ''}`);
    },
  });
  console.log(`\n${formatReport(report)}`);

  const top = await client.query(TOP_LINKS_QUERY);
  console.log('\ntop-voted links:');
  console.table(top.rows);
  await client.end();

  if (argv.keep) {
    console.log(`\nserver is up: psql '${server.url}'   (Ctrl-C stops and removes it)`);
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  }
} finally {
  await server.stop();
  await rm(workDir, { recursive: true, force: true });
}

function elapsed(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(2)} s`;
}
