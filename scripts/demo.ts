/**
 * The one-command tour: deterministic votes data → a real embedded PostgreSQL → a load → the seed's
 * top-voted-links query.  `npm run demo` (add `-- --keep` to keep the server up and get a psql URL).
 * Ctrl-C in any phase cancels what runs and removes the server, its data and the sample file (a second
 * Ctrl-C quits at once, and the exit clean-ups still remove them).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { startEmbeddedServer, type EmbeddedServer } from '../src/embedded/embedded-server.ts';
import { cleanUpOnExit } from '../src/embedded/exit-cleanup.ts';
import { cancelledError } from '../src/errors.ts';
import { load } from '../src/load.ts';
import { formatReport } from '../src/report/report.ts';
import { TOP_LINKS_QUERY, VOTES_INDEX_DDL, VOTES_TABLE_DDL, writeVotesFile } from './votes-data.ts';

const argv = await yargs(hideBin(process.argv))
  .option('rows', { type: 'number', default: 1_000_000, describe: 'rows of sample votes data' })
  .option('workers', { type: 'number', default: 2, describe: 'parallel COPY sessions' })
  .option('keep', { type: 'boolean', default: false, describe: 'keep the server up until Ctrl-C' })
  .strict()
  .parse();

const interrupted = new AbortController();
const onSignal = (signal: string) => {
  if (interrupted.signal.aborted) process.exit(130);
  process.stderr.write(`\n${signal}: stopping the demo and removing its server and files (again to quit at once)...\n`);
  interrupted.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const workDir = mkdtempSync(path.join(tmpdir(), 'ploader-demo-'));
const forgetWorkDir = cleanUpOnExit(() => rmSync(workDir, { recursive: true, force: true }));
let server: EmbeddedServer | undefined;
let client: pg.Client | undefined;
let exitCode = 0;
try {
  server = await startEmbeddedServer();
  const file = path.join(workDir, 'votes.csv');
  const started = performance.now();
  const bytes = await writeVotesFile(file, { rows: argv.rows, seed: 1 });
  checkInterrupted();
  console.log(`generated ${file}: ${argv.rows} rows, ${(bytes / 1e6).toFixed(1)} MB in ${elapsed(started)}`);

  client = new pg.Client(server.url);
  client.on('error', () => {}); // the server going away is reported by the next query
  await client.connect();
  // The seed's table, with its secondary indexes declared up front: ploader builds them after the load.
  await client.query(VOTES_TABLE_DDL);
  for (const ddl of VOTES_INDEX_DDL) await client.query(ddl);
  checkInterrupted();

  const report = await load({
    file,
    table: 'votes',
    db: server.url,
    columns: ['username', 'link', 'score'],
    workers: argv.workers,
    signal: interrupted.signal,
    onProgress: (event) => {
      if (event.kind === 'phase') console.log(`  ${event.phase}${event.detail ? `: ${event.detail}` : ''}`);
    },
  });
  console.log(`\n${formatReport(report)}`);

  const top = await client.query(TOP_LINKS_QUERY);
  console.log('\ntop-voted links:');
  console.table(top.rows);

  if (argv.keep) {
    console.log(`\nserver is up: psql '${server.url}'   (Ctrl-C stops and removes it)`);
    if (!interrupted.signal.aborted) await once(interrupted.signal, 'abort');
  }
} catch (error) {
  exitCode = interrupted.signal.aborted ? 130 : 1;
  // Expected failures are PloaderErrors with a message that says what to do; nothing here needs a stack.
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`demo: ${interrupted.signal.aborted ? 'interrupted' : message}\n`);
} finally {
  await client?.end().catch(() => {});
  await server?.stop();
  rmSync(workDir, { recursive: true, force: true });
  forgetWorkDir();
}
process.exit(exitCode);

function checkInterrupted(): void {
  if (interrupted.signal.aborted) throw cancelledError();
}

function elapsed(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(2)} s`;
}

