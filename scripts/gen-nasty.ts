/**
 * Writes a deterministic, real-world-ugly CSV (no header) for the table in NASTY_TABLE_DDL.
 *   npx tsx scripts/gen-nasty.ts --bytes 1GB --seed 1 --out nasty.csv
 * Load it with `COPY nasty FROM STDIN (FORMAT csv)` or `ploader -t nasty nasty.csv`; `--ddl` prints the CREATE statements.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { parseByteSize } from '../src/options.ts';
import { NASTY_INDEX_DDL, NASTY_TABLE_DDL, writeNastyFile } from './nasty-data.ts';

const argv = await yargs(hideBin(process.argv))
  .option('bytes', { type: 'string', default: '1GB', describe: 'approximate file size: 1GB, 200MB, or a number of bytes' })
  .option('seed', { type: 'number', default: 1, describe: 'PRNG seed; same seed, same file' })
  .option('out', { type: 'string', default: 'nasty.csv', describe: 'output file' })
  .option('ddl', { type: 'boolean', default: false, describe: 'print the matching CREATE TABLE and CREATE INDEX statements and exit' })
  .strict()
  .parse();

if (argv.ddl) {
  console.log([NASTY_TABLE_DDL, ...NASTY_INDEX_DDL].map((sql) => `${sql};`).join('\n'));
} else {
  const started = performance.now();
  const { rows, bytes } = await writeNastyFile(argv.out, { bytes: parseByteSize('bytes', argv.bytes), seed: argv.seed });
  const seconds = (performance.now() - started) / 1000;
  console.log(`${argv.out}: ${rows} rows, ${(bytes / 1e6).toFixed(1)} MB in ${seconds.toFixed(1)} s`);
}
