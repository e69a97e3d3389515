/**
 * Every failure ploader reports is a PloaderError with a stable `code`, a message a person can act
 * on, and the input position where there is one. Errors cross the worker-thread boundary as plain
 * data (structured clone drops classes and extra fields) and are rebuilt here with `fromWire`.
 */

import { failureKind, SQLSTATE } from './db/sqlstate.ts';

export type ErrorCode =
  | 'INVALID_OPTION' // a flag or option value is wrong
  | 'INPUT_UNREADABLE' // missing file, a directory, no permission
  | 'INPUT_CHANGED' // the file changed size while being loaded
  | 'CONNECTION_FAILED' // unreachable server, wrong password
  | 'CONNECTION_LOST' // the server ended a session during the load (08, 57: terminated, shut down)
  | 'SERVER_RESOURCES' // the server ran out of something (53: disk, memory, shared memory, connections)
  | 'TARGET_INVALID' // unknown table/column, no privilege, unsupported target
  | 'BAD_ROW' // the server rejected a row of the input
  | 'TOO_MANY_BAD_ROWS' // more bad rows than --max-errors allows
  | 'DUPLICATE_KEY' // the input repeats a unique key (or one already in the target)
  | 'SERVER_ERROR' // any other server error during the load
  | 'WORKER_FAILED' // a worker thread crashed
  | 'LOCK_TIMEOUT' // a lock on the target was not granted within --lock-wait
  | 'STALLED' // a chunk's server session made no progress within --stall-timeout
  | 'NOTHING_TO_RESUME' // --resume found no interrupted load to continue
  | 'EMBEDDED_SERVER_FAILED' // the embedded PostgreSQL (demo, tests, --embedded) could not be set up or started
  | 'CANCELLED'; // SIGINT/SIGTERM or an AbortSignal

export interface InputPosition {
  file: string;
  /** 1-based physical line in the input file, as an editor counts lines. */
  line?: number;
  /** 1-based record number in the input (header not counted). */
  record?: number;
  /** Column name as the server reported it. */
  column?: string;
}

/** The fields of a PostgreSQL error we keep (node-postgres DatabaseError names). */
export interface ServerErrorFields {
  sqlstate?: string;
  detail?: string;
  hint?: string;
  where?: string;
  column?: string;
}

export interface PloaderErrorOptions {
  position?: InputPosition;
  server?: ServerErrorFields;
  cause?: unknown;
}

export class PloaderError extends Error {
  readonly code: ErrorCode;
  readonly position?: InputPosition;
  readonly server?: ServerErrorFields;

  constructor(code: ErrorCode, message: string, options: PloaderErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PloaderError';
    this.code = code;
    this.position = options.position;
    this.server = options.server;
  }

  /** `votes.csv:120034: <message>`: the form editors and terminals turn into a link. */
  override toString(): string {
    return `${formatPosition(this.position)}${this.message}`;
  }
}

export function formatPosition(position: InputPosition | undefined): string {
  if (!position) return '';
  const parts = [position.file];
  if (position.line !== undefined) parts.push(String(position.line));
  return `${parts.join(':')}: `;
}

/** What crosses from a worker thread to the main thread. */
export interface WireError {
  code: ErrorCode;
  message: string;
  server?: ServerErrorFields;
  position?: InputPosition;
}

export function toWire(error: unknown): WireError {
  if (error instanceof PloaderError) return { code: error.code, message: error.message, server: error.server, position: error.position };
  const fields = serverFields(error);
  if (fields) return { code: 'SERVER_ERROR', message: (error as Error).message, server: fields };
  // A worker's I/O is the input file (errors naming their syscall) and its sockets (ECONNRESET, EPIPE).
  const io = error as NodeJS.ErrnoException;
  if (io instanceof Error && io.syscall !== undefined && /^(open|read|fstat|stat)$/.test(io.syscall)) {
    return { code: 'INPUT_UNREADABLE', message: io.message };
  }
  if (io instanceof Error && typeof io.code === 'string' && /^E[A-Z]+$/.test(io.code)) return { code: 'CONNECTION_LOST', message: io.message };
  return { code: 'WORKER_FAILED', message: error instanceof Error ? error.message : String(error) };
}

export function fromWire(wire: WireError): PloaderError {
  return new PloaderError(wire.code, wire.message, { server: wire.server, position: wire.position });
}

/** The server's fields of a node-postgres DatabaseError, or undefined for any other error. */
export function serverFields(error: unknown): ServerErrorFields | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as Record<string, unknown>;
  // A server error has a five-character SQLSTATE and a severity; Node's own errors (EPIPE, EPERM) have neither.
  if (typeof e.code !== 'string' || !/^[0-9A-Z]{5}$/.test(e.code) || typeof e.severity !== 'string') return undefined;
  return {
    sqlstate: e.code,
    detail: typeof e.detail === 'string' ? e.detail : undefined,
    hint: typeof e.hint === 'string' ? e.hint : undefined,
    where: typeof e.where === 'string' ? e.where : undefined,
    column: typeof e.column === 'string' ? e.column : undefined,
  };
}

export function cancelledError(): PloaderError {
  return new PloaderError('CANCELLED', 'the load was cancelled: nothing was loaded and the target is unchanged');
}

/** Why a load's signal was aborted: the PloaderError it was aborted with (a lost session), or a cancel. */
export function abortReason(signal: AbortSignal): PloaderError {
  return signal.reason instanceof PloaderError ? signal.reason : cancelledError();
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReason(signal);
}

/**
 * A failure of the load phase as the user is told it, by the kind of its SQLSTATE class
 * (db/sqlstate.ts failureKind): a row's fault names the record and says to fix it or set it aside;
 * every other kind says what happened to the server and what to do, and never blames a row.
 */
export function explainLoadFailure(error: PloaderError, file: string): PloaderError {
  const server = error.server;
  if (!server?.sqlstate) {
    if (error.code !== 'CONNECTION_LOST') return error;
    return new PloaderError('CONNECTION_LOST', `the connection to the server was lost during the load (${error.message}): the target is unchanged — ${AGAIN}`, { cause: error });
  }
  const position = error.position;
  const reason = `${error.message} (SQLSTATE ${server.sqlstate})${server.detail ? `; ${server.detail}` : ''}${server.hint ? `; hint: ${server.hint}` : ''}`;
  const kind = failureKind(server.sqlstate, position !== undefined);
  const options = { server, cause: error };
  switch (kind) {
    case 'row': {
      const where = [position?.record === undefined ? undefined : `${position.line === undefined ? 'tuple' : 'record'} ${position.record}`, position?.column ? `column ${position.column}` : undefined].filter(Boolean).join(', ') || 'a row';
      return new PloaderError('BAD_ROW', `${where}: ${reason} — fix the row, or pass --max-errors to set bad rows aside (nothing was loaded)`, { ...options, position });
    }
    case 'connection':
      return new PloaderError('CONNECTION_LOST', `the connection to the server failed during the load: ${reason}; the target is unchanged — ${AGAIN}`, options);
    case 'operator':
      return new PloaderError('CONNECTION_LOST', `the server ended a session of the load: ${reason} (an administrator terminated it, or the server is shutting down or restarting); the target is unchanged — ${AGAIN}`, options);
    case 'resources':
      return new PloaderError('SERVER_RESOURCES', `the server ran out of resources: ${reason}; the target is unchanged — ${RESOURCE_ADVICE[server.sqlstate] ?? 'free what the message names on the server, or load with fewer --workers'}, then load again (--resume keeps the chunks already committed)`, options);
    case 'system':
      return new PloaderError('SERVER_ERROR', `the server reported a system error: ${reason}; the target is unchanged — this is not a fault of the input: look at the server's log and tell its administrator`, options);
    case 'transient':
      return new PloaderError('SERVER_ERROR', `the server rolled a transaction of the load back: ${reason}; the target is unchanged — load again`, options);
    default:
      return new PloaderError(error.code === 'WORKER_FAILED' ? 'SERVER_ERROR' : error.code, `${reason}${position?.line !== undefined ? ` (while loading line ${position.line})` : ''}; the target is unchanged`, options);
  }
}

const AGAIN = 'check that the server is up, then run the same command again with --resume to continue from the chunks already committed';

/** What to do about each resource the server can run out of (class 53). */
const RESOURCE_ADVICE: Readonly<Record<string, string>> = {
  [SQLSTATE.DISK_FULL]: 'free disk space on the server (the stage needs about the size of the file, plus its indexes)',
  [SQLSTATE.OUT_OF_MEMORY]: 'give the server more memory, or load with fewer --workers; "out of shared memory" asks for a larger max_locks_per_transaction',
  [SQLSTATE.TOO_MANY_CONNECTIONS]: 'load with fewer --workers (each takes one or two connections), or raise max_connections',
  [SQLSTATE.CONFIGURATION_LIMIT_EXCEEDED]: 'raise the limit the message names (e.g. temp_file_limit)',
};
