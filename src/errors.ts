/**
 * Every failure ploader reports is a PloaderError with a stable `code`, a message a person can act
 * on, and the input position where there is one. Errors cross the worker-thread boundary as plain
 * data (structured clone drops classes and extra fields) and are rebuilt here with `fromWire`.
 */

export type ErrorCode =
  | 'INVALID_OPTION' // a flag or option value is wrong
  | 'INPUT_UNREADABLE' // missing file, a directory, no permission
  | 'INPUT_CHANGED' // the file changed size while being loaded
  | 'CONNECTION_FAILED' // unreachable server, wrong password
  | 'TARGET_INVALID' // unknown table/column, no privilege, unsupported target
  | 'BAD_ROW' // the server rejected a row of the input
  | 'TOO_MANY_BAD_ROWS' // more bad rows than --max-errors allows
  | 'DUPLICATE_KEY' // the input repeats a unique key (or one already in the target)
  | 'SERVER_ERROR' // any other server error during the load
  | 'WORKER_FAILED' // a worker thread crashed
  | 'LOCK_TIMEOUT' // a lock on the target was not granted within --lock-wait
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
}

export function toWire(error: unknown): WireError {
  if (error instanceof PloaderError) return { code: error.code, message: error.message, server: error.server };
  const fields = serverFields(error);
  if (fields) return { code: 'SERVER_ERROR', message: (error as Error).message, server: fields };
  return { code: 'WORKER_FAILED', message: error instanceof Error ? error.message : String(error) };
}

export function fromWire(wire: WireError): PloaderError {
  return new PloaderError(wire.code, wire.message, { server: wire.server });
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
