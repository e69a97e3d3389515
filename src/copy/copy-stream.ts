/**
 * COPY FROM STDIN over one connection: a whole source at once (`copyFromSource`), or a COPY kept open
 * and fed piece by piece (`OpenCopy`), which bad-row isolation uses to load the records it has checked.
 */
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { serverFields } from '../errors.ts';
import { GatheredWrites } from '../fs/gathered-writes.ts';

/** Runs one COPY fed from `source`; returns the server's row count (its `COPY n`). */
export async function copyFromSource(client: pg.Client, sql: string, source: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<number> {
  const copy = client.query(copyFrom(sql));
  await pipeline(source, copy);
  return copy.rowCount ?? 0;
}

/**
 * A COPY that stays open while pieces are written to it. Small pieces are gathered into writes of
 * WRITE_BYTES, so a million one-line records do not cost a million socket writes.
 */
export class OpenCopy {
  private readonly copy: ReturnType<typeof copyFrom>;
  private failure: Error | undefined;
  private readonly gathered = new GatheredWrites(WRITE_BYTES);
  private readonly finished: Promise<void>;

  constructor(client: pg.Client, sql: string) {
    this.copy = client.query(copyFrom(sql));
    this.finished = new Promise((resolve, reject) => {
      this.copy.on('finish', resolve);
      this.copy.on('error', (error: Error) => {
        this.failure = error;
        reject(error);
      });
    });
    // Reported by end() or the next write(); never an unhandled rejection meanwhile.
    this.finished.catch(() => {});
  }

  async write(bytes: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    const piece = this.gathered.add(bytes);
    if (piece) await this.send(piece);
  }

  /** Ends the COPY; returns the server's row count. */
  async end(): Promise<number> {
    const rest = this.gathered.take();
    if (rest) await this.send(rest);
    this.copy.end();
    await this.finished;
    return this.copy.rowCount ?? 0;
  }

  private async send(data: Buffer): Promise<void> {
    if (!this.copy.write(data)) await Promise.race([once(this.copy, 'drain'), this.finished]);
    if (this.failure) throw this.failure;
  }
}

const WRITE_BYTES = 64 * 1024;

/** `copySql` preceded by the statements that must run first (undefined ones left out), for one round trip. */
export function withStatementsBefore(before: ReadonlyArray<string | undefined>, copySql: string): string {
  return [...before.filter((sql) => sql !== undefined), copySql].join('; ');
}

/**
 * One COPY of bytes already in memory, sent in the same write as the statement: one round trip
 * instead of pg-copy-streams' two (it waits for the server's CopyInResponse before sending data), and
 * one socket write instead of three (on this VM's loopback a write cost ~50 µs: with 1 % bad rows
 * they were a third of a worker's CPU). `sql` may start with other statements (`SELECT setval(...);
 * COPY ...`, see withStatementsBefore): they run first, in the same round trip.
 */
export async function copyFromBuffer(client: pg.Client, sql: string, data: Buffer | readonly Buffer[], notices?: string[]): Promise<number> {
  const [outcome] = await copyPipeline(client, [{ sql, data, notices }]);
  if ('error' in outcome) throw outcome.error;
  return outcome.rows;
}

export interface PipelinedCopy {
  sql: string;
  data: Buffer | readonly Buffer[];
  /** The session's NOTICEs while this COPY runs (ON_ERROR ignore names each row it skips in one). */
  notices?: string[];
}

/** How one COPY of a pipeline went: the server's row count, or the error it failed with. */
export type PipelinedOutcome = { rows: number } | { error: unknown };

/**
 * Several COPYs of bytes in memory, all sent in one write, their answers read as they come: one round
 * trip for all of them. The protocol allows it: each statement is a simple Query followed by its
 * CopyData and CopyDone; the server reads them in order, and when a statement fails it discards the
 * CopyData and CopyDone that follow outside a COPY and goes on with the next Query. So a failing COPY
 * fails alone and the ones after it run. (Bad-row isolation sends its probe windows this way: with 10 %
 * bad rows a round trip per window cost the worker more CPU in system calls and wake-ups than in all
 * else.)
 *
 * One node-postgres Submittable takes every answer: node-postgres ends a query at its first
 * ReadyForQuery or ErrorResponse, so the submittable makes itself the client's active query again
 * until the last COPY has answered (its `_activeQuery`; queueing one submittable per COPY instead is
 * deprecated in pg 8 and gone in pg 9). A client without that field gets the COPYs one round trip
 * each. An error of the connection itself (not a statement's) is every unanswered COPY's error.
 */
export async function copyPipeline(client: pg.Client, copies: readonly PipelinedCopy[]): Promise<PipelinedOutcome[]> {
  if (copies.length <= 1 || '_activeQuery' in client) return answered(client, copies);
  const outcomes: PipelinedOutcome[] = [];
  for (const copy of copies) outcomes.push(...(await answered(client, [copy])));
  return outcomes;
}

/** Sends the COPYs in one write and takes their answers (see copyPipeline). */
function answered(client: pg.Client, copies: readonly PipelinedCopy[]): Promise<PipelinedOutcome[]> {
  const internals = client as unknown as ClientInternals;
  let active = 0;
  const listening = copies.some((copy) => copy.notices);
  const onNotice = (notice: { message?: string }) => copies[active]?.notices?.push(notice.message ?? '');
  if (listening) client.on('notice', onNotice);
  return new Promise<PipelinedOutcome[]>((resolve) => {
    const outcomes: PipelinedOutcome[] = [];
    let rows = 0;
    const finish = () => {
      active = copies.length;
      if (listening) client.off('notice', onNotice);
      resolve(outcomes);
    };
    const submittable = {
      submit(connection: CopyConnection) {
        sendAll(connection, copies);
      },
      handleCopyInResponse() {},
      // The statements before a COPY (a setval, a rollback to a savepoint) answer with rows or tags: not needed.
      handleRowDescription() {},
      handleDataRow() {},
      handleEmptyQuery() {},
      handleCommandComplete(message: { text?: string }) {
        const match = /^COPY (\d+)/.exec(message.text ?? '');
        if (match) rows = Number(match[1]);
      },
      handleError(error: unknown) {
        if (active === copies.length) return;
        // A statement's error is an ERROR; a FATAL, or no server error at all, ends the session.
        const gone = serverFields(error) === undefined || (error as { severity?: string }).severity !== 'ERROR';
        if (gone || active === copies.length - 1) {
          while (outcomes.length < copies.length) outcomes.push({ error });
          finish();
          return;
        }
        outcomes[active] = { error };
        // Its ReadyForQuery follows: stay the active query to take it.
        internals._activeQuery = submittable;
      },
      handleReadyForQuery() {
        if (active === copies.length) return;
        outcomes[active] ??= { rows };
        rows = 0;
        if (++active === copies.length) {
          finish();
          return;
        }
        internals._activeQuery = submittable;
        internals.readyForQuery = false;
      },
      // node-postgres replaces it to implement query_timeout; it must exist.
      callback() {},
    };
    client.query(submittable as unknown as pg.QueryConfig);
  });
}

/** node-postgres's own state of which query the answers belong to (see copyPipeline). */
interface ClientInternals {
  _activeQuery?: unknown;
  readyForQuery?: boolean;
}

interface CopyConnection {
  stream: NodeJS.WritableStream & { cork(): void; uncork(): void };
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
}

/** Every COPY's statement, data and CopyDone, in one socket write. */
function sendAll(connection: CopyConnection, copies: readonly PipelinedCopy[]): void {
  connection.stream.cork();
  try {
    for (const { sql, data } of copies) {
      connection.query(sql);
      for (const part of Buffer.isBuffer(data) ? [data] : data) if (part.length > 0) connection.sendCopyFromChunk(part);
      connection.endCopyFrom();
    }
  } finally {
    connection.stream.uncork();
  }
}
