/**
 * The run ledger: a small LOGGED table beside the stage, one row per chunk, that says which chunks
 * are committed in the stage. A worker commits its chunk's rows and its ledger row in one transaction,
 * so the ledger never claims a chunk the stage does not hold, and `--resume` never loads a chunk twice.
 *
 * Leftovers of an interrupted run (kill -9, a lost connection, a server restart) are recognised by
 * the stage's comment, which names the target's oid. An UNLOGGED stage comes back empty after a
 * server crash while the logged ledger survives: `readResumeState` compares the two and says so.
 */
import type pg from 'pg';
import { runHasSessions } from '../copy/run-identity.ts';
import { PloaderError } from '../errors.ts';
import type { ChunkRange } from '../plan/chunks.ts';
import type { IdReservation } from '../rows/serial-ids.ts';
import { qualified, quoteLiteral, type QualifiedName } from '../db/sql.ts';
import { STAGE_COMMENT_PREFIX } from './stage.ts';

export const LEDGER_SUFFIX = '_chunks';

/** What a resumed run must match: the same file, unchanged, loaded with the same COPY options. */
export interface RunMeta {
  runId: string;
  targetOid: number;
  file: string;
  size: number;
  mtimeMs: number;
  copySql: string;
  startedAt: string;
  /** Ids reserved in file order (rows/serial-ids.ts): a resumed run numbers its chunks from the same ranges. */
  ids?: IdReservation;
}

export interface LeftoverRun {
  runId: string;
  stage: QualifiedName;
  ledger: QualifiedName;
  meta: RunMeta | undefined;
  /** A session of that run is still connected: another ploader is loading right now. */
  active: boolean;
}

export function ledgerName(stage: QualifiedName): QualifiedName {
  return { schema: stage.schema, name: `${stage.name}${LEDGER_SUFFIX}` };
}

export function createLedgerSql(ledger: QualifiedName, meta: RunMeta, chunks: readonly ChunkRange[]): string[] {
  const statements = [
    `CREATE TABLE ${qualified(ledger)} (chunk int PRIMARY KEY, start_byte bigint NOT NULL, end_byte bigint NOT NULL, line bigint NOT NULL, rows bigint, rejects jsonb)`,
    `COMMENT ON TABLE ${qualified(ledger)} IS ${quoteLiteral(JSON.stringify(meta))}`,
  ];
  if (chunks.length > 0) {
    const values = chunks.map((c) => `(${c.index}, ${c.start}, ${c.end}, ${c.line})`).join(', ');
    statements.push(`INSERT INTO ${qualified(ledger)} (chunk, start_byte, end_byte, line) VALUES ${values}`);
  }
  return statements;
}

/** Run by the worker inside its chunk's transaction, after the COPY; `rejects` is the count of bad rows it set aside. */
export function markChunkDoneSql(ledger: QualifiedName): string {
  return `UPDATE ${qualified(ledger)} SET rows = $2, rejects = $3 WHERE chunk = $1`;
}

export async function findLeftoverRuns(client: pg.Client, targetOid: number): Promise<LeftoverRun[]> {
  const { rows } = await client.query<{ schema: string; name: string; comment: string; ledger_comment: string | null }>(
    `SELECT n.nspname AS schema, c.relname AS name, obj_description(c.oid, 'pg_class') AS comment,
            obj_description(to_regclass(quote_ident(n.nspname) || '.' || quote_ident(c.relname || $3)), 'pg_class') AS ledger_comment
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND c.relname LIKE 'ploader\\_%' AND obj_description(c.oid, 'pg_class') LIKE $1 || '%(oid ' || $2 || ')%'`,
    [STAGE_COMMENT_PREFIX, targetOid, LEDGER_SUFFIX],
  );
  const runs: LeftoverRun[] = [];
  for (const row of rows) {
    const runId = /run ([0-9a-f]+) /.exec(row.comment)?.[1];
    if (!runId) continue;
    const stage = { schema: row.schema, name: row.name };
    runs.push({ runId, stage, ledger: ledgerName(stage), meta: parseMeta(row.ledger_comment), active: await runHasSessions(client, runId) });
  }
  return runs;
}

function parseMeta(comment: string | null): RunMeta | undefined {
  if (!comment) return undefined;
  try {
    return JSON.parse(comment) as RunMeta;
  } catch {
    return undefined;
  }
}

export interface ResumeState {
  chunks: ChunkRange[];
  done: Set<number>;
  rowsDone: number;
  /** Bad rows the committed chunks set aside (their bytes and reasons are in the run's reject spools). */
  rejected: number;
  /** False when the stage lost committed rows (an UNLOGGED table is emptied by a server crash). */
  stageIntact: boolean;
}

export async function readResumeState(client: pg.Client, run: LeftoverRun): Promise<ResumeState> {
  const { rows } = await client.query<{ chunk: number; start_byte: string; end_byte: string; line: string; rows: string | null; rejects: number | null }>(
    `SELECT chunk, start_byte, end_byte, line, rows, rejects FROM ${qualified(run.ledger)} ORDER BY chunk`,
  );
  const state: ResumeState = { chunks: [], done: new Set(), rowsDone: 0, rejected: 0, stageIntact: true };
  for (const row of rows) {
    state.chunks.push({ index: row.chunk, start: Number(row.start_byte), end: Number(row.end_byte), line: Number(row.line) });
    if (row.rows === null) continue;
    state.done.add(row.chunk);
    state.rowsDone += Number(row.rows);
    state.rejected += Number(row.rejects ?? 0);
  }
  const { rows: [{ count }] } = await client.query<{ count: string }>(`SELECT count(*) AS count FROM ${qualified(run.stage)}`);
  state.stageIntact = Number(count) === state.rowsDone;
  return state;
}

/** Drops a run's stage and ledger in one statement, so neither is ever left without the other. */
export async function dropRun(client: pg.Client, run: Pick<LeftoverRun, 'stage' | 'ledger'>): Promise<void> {
  await client.query(`DROP TABLE IF EXISTS ${qualified(run.stage)}, ${qualified(run.ledger)}`);
}

/** The run to resume, or why none can be; undefined when there is nothing to resume. */
export function chooseRunToResume(runs: readonly LeftoverRun[], identity: { file: string; size: number; mtimeMs: number }): LeftoverRun | undefined {
  const idle = runs.filter((r) => !r.active);
  if (runs.some((r) => r.active)) {
    throw new PloaderError('TARGET_INVALID', `another ploader is loading into this table right now (run ${runs.find((r) => r.active)!.runId}) — wait for it to finish`);
  }
  if (idle.length === 0) return undefined;
  if (idle.length > 1) {
    throw new PloaderError('TARGET_INVALID', `${idle.length} interrupted loads into this table were found (runs ${idle.map((r) => r.runId).join(', ')}) — run ploader --cleanup, then load again`);
  }
  const [run] = idle;
  if (!run.meta) {
    throw new PloaderError('TARGET_INVALID', `the interrupted load ${run.runId} has no chunk ledger to resume from — run ploader --cleanup, then load again`);
  }
  if (run.meta.file !== identity.file || run.meta.size !== identity.size || run.meta.mtimeMs !== identity.mtimeMs) {
    throw new PloaderError(
      'INPUT_CHANGED',
      `the interrupted load ${run.runId} was of ${run.meta.file} (${run.meta.size} bytes); ${identity.file} is not that file or has changed since — run ploader --cleanup, then load again`,
      { position: { file: identity.file } },
    );
  }
  return run;
}
