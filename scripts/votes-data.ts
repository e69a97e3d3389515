/**
 * Deterministic data in the shape of the seed's votes table: (username, link, score).
 * Skewed like real votes: a few links draw most votes (power law over link ids), most users vote a
 * little, and no user votes more than USER_VOTE_CAP times.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

export interface VotesOptions {
  rows: number;
  seed: number;
}

const USER_VOTE_CAP = 2000;
const ROWS_PER_BATCH = 4096;

/** mulberry32: a small, fast, well-mixed 32-bit PRNG; same seed, same file, on every machine. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Yields CSV text in batches of rows: `username,link,score\n`. */
export function* votesCsv({ rows, seed }: VotesOptions): Generator<string> {
  const random = seededRandom(seed);
  const links = Math.max(1, Math.ceil(rows / 50));
  const users = Math.max(1, Math.ceil(rows / 200));
  const votesByUser = new Uint16Array(users);
  let batch: string[] = [];
  for (let i = 0; i < rows; i++) {
    // u^3 piles the mass onto low link ids: link 0 is the front page, the long tail gets a vote or two.
    const link = Math.floor(links * random() ** 3);
    let user = Math.floor(users * random() ** 2);
    while (votesByUser[user] >= USER_VOTE_CAP) user = (user + 1) % users;
    votesByUser[user]++;
    batch.push(`user_${user.toString(36)},t3_${link.toString(36).padStart(5, '0')},${random() < 0.8 ? 1 : -1}\n`);
    if (batch.length === ROWS_PER_BATCH) {
      yield batch.join('');
      batch = [];
    }
  }
  if (batch.length > 0) yield batch.join('');
}

export async function writeVotesFile(file: string, options: VotesOptions): Promise<number> {
  const out = createWriteStream(file);
  let bytes = 0;
  for (const text of votesCsv(options)) {
    bytes += Buffer.byteLength(text);
    if (!out.write(text)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return bytes;
}

export const VOTES_TABLE_DDL = `CREATE TABLE votes (
  voteid serial PRIMARY KEY,
  username text NOT NULL,
  link text NOT NULL,
  score int NOT NULL
)`;

/** The seed's secondary indexes, built after the load. */
export const VOTES_INDEX_DDL = [
  'CREATE INDEX votes_username_idx ON votes (username)',
  'CREATE INDEX votes_link_idx ON votes (link)',
];

export const TOP_LINKS_QUERY = `SELECT link, sum(score) AS score, count(*) AS votes
FROM votes GROUP BY link ORDER BY score DESC LIMIT 10`;
