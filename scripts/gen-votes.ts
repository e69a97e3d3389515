/**
 * Writes a deterministic votes CSV (username,link,score; no header).
 *   npm run gen-votes -- --rows 7500000 --seed 1 --out votes.csv
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { writeVotesFile } from './votes-data.ts';

const argv = await yargs(hideBin(process.argv))
  .option('rows', { type: 'number', default: 7_500_000, describe: 'number of rows' })
  .option('seed', { type: 'number', default: 1, describe: 'PRNG seed; same seed, same file' })
  .option('out', { type: 'string', default: 'votes.csv', describe: 'output file' })
  .strict()
  .parse();

const started = performance.now();
const bytes = await writeVotesFile(argv.out, { rows: argv.rows, seed: argv.seed });
const seconds = (performance.now() - started) / 1000;
console.log(`${argv.out}: ${argv.rows} rows, ${(bytes / 1e6).toFixed(1)} MB in ${seconds.toFixed(1)} s`);
