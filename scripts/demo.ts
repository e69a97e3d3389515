/**
 * The one-command tour: deterministic votes data → a real embedded PostgreSQL → a load → the seed's
 * top-voted-links query.  `npm run demo` (add `-- --keep` to keep the server up and get a psql URL).
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { startEmbeddedServer } from '../src/embedded-server.ts';
import { TOP_LINKS_QUERY, VOTES_INDEX_DDL, VOTES_TABLE_DDL, writeVotesFile } from './votes-data.ts';

const argv = await yargs(hideBin(process.argv))
  .option('rows', { type: 'number', default: 1_000_000, describe: 'rows of sample votes data' })
  .option('keep', { type: 'boolean', default: false, describe: 'keep the server up until Ctrl-C' })
  .strict()
  .parse();

const workDir = await mkdtemp(path.join(tmpdir(), 'ploader-demo-'));
const file = path.join(workDir, 'votes.csv');
const server = await startEmbeddedServer();
try {
  let started = performance.now();
  const bytes = await writeVotesFile(file, { rows: argv.rows, seed: 1 });
  console.log(`generated ${file}: ${argv.rows} rows, ${(bytes / 1e6).toFixed(1)} MB in ${elapsed(started)}`);

  const client = new pg.Client(server.url);
  await client.connect();
  await client.query(VOTES_TABLE_DDL);

  // Until the parallel load path lands, the demo loads with one plain COPY.
  started = performance.now();
  const copy = client.query(copyFrom('COPY votes (username, link, score) FROM STDIN (FORMAT csv)'));
  await pipeline(createReadStream(file), copy);
  const loadTime = elapsed(started);
  started = performance.now();
  for (const ddl of VOTES_INDEX_DDL) await client.query(ddl);
  console.log(`COPY ${copy.rowCount}  (load ${loadTime}, indexes ${elapsed(started)}; single COPY)`);

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
