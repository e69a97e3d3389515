/**
 * Deterministic real-world-ugly CSV, the kind exported by spreadsheets and web apps, for the
 * `nasty` benchmark workload: quoted commas, quoted LFs and CRLFs, doubled quotes, backslashes,
 * non-ASCII text, NULLs as empty unquoted fields next to empty quoted strings, fields quoted when
 * they need not be, long values near the TOAST threshold, and PostgreSQL array literals inside
 * quoted fields. Every record is valid for `COPY nasty FROM STDIN (FORMAT csv)`.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { seededRandom } from './votes-data.ts';

export interface NastyOptions {
  /** Stop after the record that reaches this many bytes. */
  bytes: number;
  seed: number;
}

export const NASTY_TABLE_DDL = `CREATE TABLE nasty (
  id int PRIMARY KEY,
  title text NOT NULL,
  body text,
  long_text text,
  note text,
  amount numeric(14,2),
  created_at timestamptz,
  flag boolean,
  tags text[]
)`;

/** The file's columns, in order (all of the table's). */
export const NASTY_COLUMNS = ['id', 'title', 'body', 'long_text', 'note', 'amount', 'created_at', 'flag', 'tags'];

export const NASTY_INDEX_DDL = [
  'CREATE INDEX nasty_created_at_idx ON nasty (created_at)',
  'CREATE INDEX nasty_title_idx ON nasty (title)',
];

/** long_text is a slice of this many UTF-16 units of generated prose (BMP only, so a slice never cuts a character). */
const CORPUS_LENGTH = 1 << 20;
const LONG_TEXT_MIN = 300;
const LONG_TEXT_MAX = 2000;
const ROWS_PER_BATCH = 1024;
/** Ids grow with gaps, as in a table that has seen deletes. */
const MAX_ID_GAP = 3;
const EPOCH_2015_MS = Date.UTC(2015, 0, 1);
const TEN_YEARS_MS = 10 * 365 * 24 * 3600 * 1000;

const WORDS = [
  'the', 'of', 'and', 'report', 'quarterly', 'café', 'naïve', 'Zürich', 'São', 'Paulo', 'smörgåsbord', 'Ελλάδα', '東京', 'данные',
  'invoice', 'total', 'net', 'gross', 'shipping', 'O\'Brien', 'rock\'n\'roll', 'C:\\Users\\admin', '50%', '#42', '$19.99', 'a/b',
  'e-mail', 'TODO', 'N/A', 'NULL', 'null', '-', '...', 'über', 'façade', 'résumé', 'piñata', 'Ωmega', 'ß', '½', '→', 'ok',
];
const SPICE = [', ', ', ', ' "quoted" ', ' ""doubled"" ', '\n', '\r\n', ' \\ ', '; ', '\t'];
const TAGS = ['rust', 'c++', 'c#', 'node.js', 'a b', 'x,y', 'say "hi"', 'back\\slash', '{braces}', 'NULL', 'é', '', 'ops', 'db'];
const BOOLEANS = ['t', 'f', 'true', 'false', 'TRUE', 'False', 'yes', 'no', '1', '0', 'on', 'off'];
const EMOJI = ['🎉', '🚀', '👍🏽'];

/** Yields CSV text in batches of records; `stats` tells the rows and bytes written so far. */
export function* nastyCsv({ bytes, seed }: NastyOptions, stats = { rows: 0, bytes: 0 }): Generator<string> {
  const random = seededRandom(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)];
  const chance = (p: number) => random() < p;
  const corpus = prose(random, pick, CORPUS_LENGTH);
  let id = 0;
  let batch: string[] = [];
  while (stats.bytes < bytes) {
    id += 1 + Math.floor(random() * MAX_ID_GAP);
    const record = [
      String(id),
      csvField(title(random, pick, chance), chance(0.1)),
      chance(0.05) ? '' : csvField(body(pick, chance, random), chance(0.1)),
      csvField(longText(corpus, random), false),
      note(pick, chance),
      chance(0.1) ? '' : amount(random, chance),
      chance(0.05) ? '' : timestamp(random, chance),
      chance(0.05) ? '' : csvField(pick(BOOLEANS), chance(0.2)),
      chance(0.15) ? '' : csvField(arrayLiteral(tags(random, pick)), false),
    ].join(',') + '\n';
    stats.rows++;
    stats.bytes += Buffer.byteLength(record);
    batch.push(record);
    if (batch.length === ROWS_PER_BATCH) {
      yield batch.join('');
      batch = [];
    }
  }
  if (batch.length > 0) yield batch.join('');
}

export async function writeNastyFile(file: string, options: NastyOptions): Promise<{ rows: number; bytes: number }> {
  const out = createWriteStream(file);
  const stats = { rows: 0, bytes: 0 };
  for (const text of nastyCsv(options, stats)) {
    if (!out.write(text)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return stats;
}

/** RFC 4180 quoting: quoted when it must be (or when `always`), quotes doubled. Never empty unquoted (that is NULL). */
export function csvField(value: string, always: boolean): string {
  if (always || value === '' || /[",\r\n]/.test(value) || value !== value.trim()) return `"${value.replaceAll('"', '""')}"`;
  return value;
}

/** A PostgreSQL array literal: elements quoted when they hold separators, quotes, backslashes or spell NULL. */
export function arrayLiteral(elements: readonly string[]): string {
  const element = (e: string) => (e === '' || /^null$/i.test(e) || /[{}," \\\t]/.test(e) ? `"${e.replace(/["\\]/g, '\\$&')}"` : e);
  return `{${elements.map(element).join(',')}}`;
}

function prose(random: () => number, pick: (list: readonly string[]) => string, length: number): string {
  const parts: string[] = [];
  let size = 0;
  while (size < length) {
    const part = random() < 0.08 ? pick(SPICE) : `${pick(WORDS)} `;
    parts.push(part);
    size += part.length;
  }
  return parts.join('');
}

function title(random: () => number, pick: (list: readonly string[]) => string, chance: (p: number) => boolean): string {
  const words = Array.from({ length: 2 + Math.floor(random() * 8) }, () => pick(WORDS));
  if (chance(0.4)) words.splice(1 + Math.floor(random() * (words.length - 1)), 0, ',');
  if (chance(0.1)) words.push('"the best"');
  if (chance(0.05)) words.push(pick(EMOJI));
  if (chance(0.03)) words.unshift(' '); // a leading space: must be quoted to survive
  return words.join(' ').replaceAll(' , ', ', ');
}

function body(pick: (list: readonly string[]) => string, chance: (p: number) => boolean, random: () => number): string {
  const paragraphs = Array.from({ length: 1 + Math.floor(random() * 4) }, () =>
    Array.from({ length: 8 + Math.floor(random() * 40) }, () => (chance(0.06) ? pick(SPICE) : pick(WORDS))).join(' '),
  );
  return paragraphs.join(chance(0.2) ? '\r\n' : '\n');
}

function longText(corpus: string, random: () => number): string {
  const length = LONG_TEXT_MIN + Math.floor(random() * (LONG_TEXT_MAX - LONG_TEXT_MIN));
  const start = Math.floor(random() * (corpus.length - length));
  return corpus.slice(start, start + length);
}

/** Mostly NULL (empty, unquoted); sometimes an empty string (`""`), the text NULL, or a short note. */
function note(pick: (list: readonly string[]) => string, chance: (p: number) => boolean): string {
  if (chance(0.6)) return '';
  if (chance(0.25)) return '""';
  if (chance(0.05)) return 'NULL';
  return csvField(`${pick(WORDS)} ${pick(WORDS)}${chance(0.3) ? `, ${pick(WORDS)}` : ''}`, chance(0.5));
}

function amount(random: () => number, chance: (p: number) => boolean): string {
  const value = (random() - 0.3) * 2e6;
  if (chance(0.05)) return `${Math.round(value / 1000)}e3`;
  if (chance(0.1)) return String(Math.round(value));
  if (chance(0.05)) return `"${value.toFixed(2)}"`;
  return value.toFixed(2);
}

function timestamp(random: () => number, chance: (p: number) => boolean): string {
  const iso = new Date(EPOCH_2015_MS + Math.floor(random() * TEN_YEARS_MS)).toISOString(); // 2019-06-01T12:34:56.789Z
  if (chance(0.3)) return iso;
  if (chance(0.4)) return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}${chance(0.5) ? '+02' : '-05:30'}`;
}

function tags(random: () => number, pick: (list: readonly string[]) => string): string[] {
  return Array.from({ length: Math.floor(random() * 6) }, () => pick(TAGS));
}
