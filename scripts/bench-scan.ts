/**
 * Microbenchmark of the record-boundary scanner on ~256 MB held in memory, so only the scan is timed.
 *   npx tsx scripts/bench-scan.ts [--mb 256]
 * Prints GB/s (best of 3, CPU time of this process: the machine may be shared) for the scanner fed in
 * 8 MiB blocks as scanFileRecords feeds it, with a target every 16 MiB (record starts, records counted,
 * line ends checked, end-of-data markers looked for as PostgreSQL 15 does), and the ratio to a naive
 * byte-at-a-time state machine measured on the same data in the same run.
 */
import { DEFAULT_SCAN_BLOCK_BYTES } from '../src/input/scan/file-boundaries.ts';
import { RecordBoundaryScanner, type RecordScan } from '../src/input/scan/record-boundaries.ts';
import { endMarkerRule, type RecordSyntax, type ScanRules } from '../src/input/scan/record-syntax.ts';
import { seededRandom } from './votes-data.ts';
import { bestCpuSeconds } from './best-time.ts';

const MIB = 1024 * 1024;
const TARGET_SPACING_BYTES = 16 * MIB;
/** A few MiB of distinct records, tiled to the full size: generating 256 MB record by record would take longer than the scans. */
const TILE_BYTES = 4 * MIB;
const RUNS = 3;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LF = 0x0a;

const DEFAULT_SIZE_MB = 256;
const mbFlag = process.argv.indexOf('--mb');
const sizeMb = mbFlag < 0 ? DEFAULT_SIZE_MB : Number(process.argv[mbFlag + 1]);
const csv: RecordSyntax = { format: 'csv', quote: QUOTE, escape: QUOTE };
const csvBackslashEscape: RecordSyntax = { format: 'csv', quote: QUOTE, escape: BACKSLASH };
const text: RecordSyntax = { format: 'text', quote: QUOTE, escape: QUOTE };

function tiled(makeRecord: (random: () => number) => string, totalBytes: number): Buffer {
  const random = seededRandom(1);
  const records: string[] = [];
  let tileLength = 0;
  while (tileLength < TILE_BYTES) {
    const record = makeRecord(random);
    records.push(record);
    tileLength += Buffer.byteLength(record);
  }
  const tile = Buffer.from(records.join(''));
  const data = Buffer.allocUnsafe(Math.floor(totalBytes / tile.length) * tile.length);
  for (let offset = 0; offset < data.length; offset += tile.length) tile.copy(data, offset);
  return data;
}

const id = (random: () => number) => Math.floor(random() * 0xfffff).toString(36);

/** `user_abc,t3_00x1f,1` — the votes table as plain CSV. */
const plainVote = (random: () => number) => `user_${id(random)},t3_${id(random)},${random() < 0.5 ? 1 : -1}\n`;

/** Every field quoted; some hold the delimiter, doubled quotes and newlines. */
function nastyRecord(random: () => number): string {
  const field = () => {
    const roll = random();
    const body = roll < 0.2 ? `a,${id(random)}` : roll < 0.4 ? `say ""${id(random)}""` : roll < 0.5 ? `line\n${id(random)}` : id(random);
    return `"${body}"`;
  };
  return `${field()},${field()},${field()}\n`;
}

/** The nasty records with CR LF line ends and bare LFs in quoted fields, as spreadsheets write them. */
const crlfRecord = (random: () => number) => nastyRecord(random).replace(/\n$/, '\r\n');

/** The nasty records again, quotes escaped with a backslash as MySQL writes them: `"say \"hi\""`. */
const backslashEscapedRecord = (random: () => number) => nastyRecord(random).replaceAll('""', '\\"');

/** COPY text: tab-separated, with escaped tabs, newlines and backslashes in the data. */
function textRecord(random: () => number): string {
  const field = () => {
    const roll = random();
    return roll < 0.2 ? `a\\t${id(random)}` : roll < 0.3 ? `two\\\nlines` : roll < 0.4 ? `dir\\\\${id(random)}` : id(random);
  };
  return `${field()}\t${field()}\t${field()}\n`;
}

/** Baseline: the obvious byte loop over the whole input, listing every record start. */
function naiveRecordStarts(data: Buffer, syntax: RecordSyntax): number {
  let starts = 0;
  let inQuotes = false;
  let escaped = false;
  for (let i = 0; i < data.length; i++) {
    const byte = data[i];
    if (syntax.format === 'csv') {
      if (escaped) escaped = false;
      else if (inQuotes && byte === syntax.escape && syntax.escape !== syntax.quote) escaped = true;
      else if (byte === syntax.quote) inQuotes = !inQuotes;
      else if (byte === LF && !inQuotes) starts++;
    } else if (escaped) {
      escaped = false;
    } else if (byte === BACKSLASH) {
      escaped = true;
    } else if (byte === LF) {
      starts++;
    }
  }
  return starts;
}


const cases = [
  { name: 'plain CSV (votes)', syntax: csv, makeRecord: plainVote },
  { name: 'nasty CSV (all quoted)', syntax: csv, makeRecord: nastyRecord },
  { name: 'nasty CSV, CR LF', syntax: csv, makeRecord: crlfRecord },
  { name: 'text with escapes', syntax: text, makeRecord: textRecord },
  { name: 'CSV with ESCAPE \\', syntax: csvBackslashEscape, makeRecord: backslashEscapedRecord },
];

for (const { name, syntax, makeRecord } of cases) {
  const data = tiled(makeRecord, sizeMb * MIB);
  const targets = Array.from({ length: Math.floor(data.length / TARGET_SPACING_BYTES) }, (_, i) => (i + 1) * TARGET_SPACING_BYTES);
  /** The PostgreSQL 15 rules: `\.` is looked for in CSV too, so this is the slower case. */
  const rules: ScanRules = { endMarker: endMarkerRule(syntax.format, 150000), strict: true };
  let scan: RecordScan | undefined;
  const scanInBlocks = () => {
    const scanner = new RecordBoundaryScanner(syntax, [...targets, data.length], rules);
    for (let offset = 0; offset < data.length; offset += DEFAULT_SCAN_BLOCK_BYTES) scanner.push(data.subarray(offset, offset + DEFAULT_SCAN_BLOCK_BYTES));
    return scanner.finish();
  };
  const seconds = bestCpuSeconds(() => (scan = scanInBlocks()), RUNS);
  const naiveSeconds = bestCpuSeconds(() => naiveRecordStarts(data, syntax), RUNS);
  const gbPerSecond = data.length / seconds / 1e9;
  const lines = scan!.end.line - 1;
  console.log(
    `${name.padEnd(24)} ${(data.length / 1e6).toFixed(0)} MB, ${lines} lines, ${scan!.end.records} records: ${gbPerSecond.toFixed(2)} GB/s` +
      ` (${(naiveSeconds / seconds).toFixed(1)}x the naive byte loop at ${(data.length / naiveSeconds / 1e9).toFixed(2)} GB/s)`,
  );
}
