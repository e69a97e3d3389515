/**
 * COPY FROM STDIN over one connection: a whole source at once (`copyFromSource`), or a COPY kept open
 * and fed piece by piece (`OpenCopy`), which bad-row isolation uses to load the records it has checked.
 */
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
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
 * they were a third of a worker's CPU). The protocol allows it: the server reads the data once the
 * COPY has started, and if the statement fails first, it discards CopyData and CopyDone that arrive
 * outside a COPY. `sql` may start with other statements (`SELECT setval(...); COPY ...`, see
 * withStatementsBefore): they run first, in the same round trip. Implements node-postgres's
 * Submittable (submit + the handle* callbacks), as pg-copy-streams does.
 */
export function copyFromBuffer(client: pg.Client, sql: string, data: Buffer | readonly Buffer[], notices?: string[]): Promise<number> {
  // The session's NOTICEs while this COPY runs (ON_ERROR ignore names each row it skips in one).
  const onNotice = (notice: { message?: string }) => notices?.push(notice.message ?? '');
  if (notices) client.on('notice', onNotice);
  const done = () => {
    if (notices) client.off('notice', onNotice);
  };
  return new Promise<number>((resolve, reject) => {
    let rows = 0;
    let failure: unknown;
    const submittable = {
      submit(connection: { stream: NodeJS.WritableStream & { cork(): void; uncork(): void }; query(text: string): void; sendCopyFromChunk(chunk: Buffer): void; endCopyFrom(): void }) {
        connection.stream.cork();
        try {
          connection.query(sql);
          for (const part of Buffer.isBuffer(data) ? [data] : data) if (part.length > 0) connection.sendCopyFromChunk(part);
          connection.endCopyFrom();
        } finally {
          connection.stream.uncork();
        }
      },
      handleCopyInResponse() {},
      // The statements before the COPY (a setval) answer with a row each: not needed.
      handleRowDescription() {},
      handleDataRow() {},
      handleEmptyQuery() {},
      handleCommandComplete(message: { text?: string }) {
        const match = /^COPY (\d+)/.exec(message.text ?? '');
        if (match) rows = Number(match[1]);
      },
      handleError(error: unknown) {
        failure = error;
        reject(error);
      },
      handleReadyForQuery() {
        if (failure === undefined) resolve(rows);
      },
      // node-postgres replaces it to implement query_timeout; it must exist.
      callback() {},
    };
    client.query(submittable as unknown as pg.QueryConfig);
  }).finally(done);
}
