/**
 * Errors crossing the worker-thread boundary (structured clone keeps neither the class nor extra
 * fields), the server's fields of a node-postgres error, and the `file:line: ` prefix.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { formatPosition, fromWire, PloaderError, serverFields, toWire, type ErrorCode } from '../../src/errors.ts';

/** A DatabaseError as node-postgres builds it from an ErrorResponse. */
function databaseError(fields: Partial<pg.DatabaseError>): pg.DatabaseError {
  return Object.assign(new pg.DatabaseError(fields.message ?? 'server error', 100, 'error'), { severity: 'ERROR', ...fields });
}

const INVALID_INTEGER = databaseError({
  message: 'invalid input syntax for type integer: "x"',
  code: '22P02',
  where: 'COPY ploader_votes_a1b2c3d4, line 3, column score: "x"',
});

/** What the main thread gets back from a worker: the wire form, cloned as postMessage clones it. */
const acrossThreads = (error: unknown) => fromWire(structuredClone(toWire(error)));

describe('toWire / fromWire', () => {
  it('is needed: a structured clone keeps neither the class nor the code', () => {
    const clone = structuredClone(new PloaderError('BAD_ROW', 'bad', { server: { sqlstate: '22P02' } }));
    expect(clone).not.toBeInstanceOf(PloaderError);
    expect((clone as Partial<PloaderError>).code).toBeUndefined();
  });

  it.each<[string, PloaderError]>([
    ['a bare PloaderError', new PloaderError('INPUT_CHANGED', 'votes.csv changed size while being loaded')],
    [
      'one with every server field',
      new PloaderError('SERVER_ERROR', 'duplicate key', {
        server: { sqlstate: '23505', detail: 'Key (id)=(1) already exists.', hint: 'h', where: 'COPY t, line 2', column: 'id' },
      }),
    ],
    ['a cancellation', new PloaderError('CANCELLED', 'cancelled by SIGINT')],
  ])('round-trips %s as a PloaderError with its code, message and server fields', (_, error) => {
    const rebuilt = acrossThreads(error);
    expect(rebuilt).toBeInstanceOf(PloaderError);
    expect({ code: rebuilt.code, message: rebuilt.message, server: rebuilt.server }).toEqual({
      code: error.code,
      message: error.message,
      server: error.server,
    });
  });

  it('a node-postgres error becomes SERVER_ERROR with its SQLSTATE and context', () => {
    const rebuilt = acrossThreads(INVALID_INTEGER);
    expect(rebuilt).toBeInstanceOf(PloaderError);
    expect(rebuilt.code).toBe<ErrorCode>('SERVER_ERROR');
    expect(rebuilt.message).toBe('invalid input syntax for type integer: "x"');
    expect(rebuilt.server).toEqual({
      sqlstate: '22P02',
      detail: undefined,
      hint: undefined,
      where: 'COPY ploader_votes_a1b2c3d4, line 3, column score: "x"',
      column: undefined,
    });
  });

  it.each([
    ['a TypeError', new TypeError('x is not a function'), 'x is not a function'],
    ['a thrown string', 'boom', 'boom'],
    ['undefined', undefined, 'undefined'],
  ])('anything else (%s) becomes WORKER_FAILED with its message', (_, thrown, message) => {
    const rebuilt = acrossThreads(thrown);
    expect(rebuilt).toMatchObject({ code: 'WORKER_FAILED', message, server: undefined });
  });

  it('the wire form is plain data: it survives the clone unchanged', () => {
    const wire = toWire(INVALID_INTEGER);
    expect(structuredClone(wire)).toEqual(wire);
    expect(Object.getPrototypeOf(wire)).toBe(Object.prototype);
  });
});

describe('serverFields', () => {
  it('keeps the fields node-postgres names, nothing else', () => {
    const error = databaseError({
      message: 'null value in column "link" violates not-null constraint',
      code: '23502',
      detail: 'Failing row contains (1, null).',
      hint: 'a hint',
      where: 'COPY t, line 9',
      column: 'link',
      table: 'votes',
      schema: 'public',
    });
    expect(serverFields(error)).toEqual({
      sqlstate: '23502',
      detail: 'Failing row contains (1, null).',
      hint: 'a hint',
      where: 'COPY t, line 9',
      column: 'link',
    });
  });

  it('reads a pg-like object that is not a DatabaseError instance (as after a clone)', () => {
    expect(serverFields({ code: '57014', severity: 'ERROR', message: 'canceling statement due to user request' })).toMatchObject({ sqlstate: '57014' });
  });

  it.each([
    ['a plain Error', new Error('boom')],
    ['a PloaderError', new PloaderError('BAD_ROW', 'bad')],
    ['a Node system error', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED', errno: -111, syscall: 'connect' })],
    ['a lower-case code', { code: '22p02' }],
    ['a numeric code', { code: 22502 }],
    ['null', null],
    ['a string', '22P02'],
  ])('undefined for %s', (_, error) => {
    expect(serverFields(error)).toBeUndefined();
  });

  // Regression: Node system errors with five-letter codes (EPIPE, EPERM, ...) passed for SQLSTATEs.
  it.each([['EPIPE'], ['EPERM'], ['EBADF']])('undefined for a Node system error with code %s', (code) => {
    const error = Object.assign(new Error(`write ${code}`), { code, errno: -32, syscall: 'write' });
    expect(serverFields(error)).toBeUndefined();
  });
});

describe('formatPosition', () => {
  it.each([
    ['no position', undefined, ''],
    ['a file only', { file: 'votes.csv' }, 'votes.csv: '],
    ['a file and line', { file: 'data/votes.csv', line: 120034 }, 'data/votes.csv:120034: '],
    ['line 1', { file: 'votes.csv', line: 1 }, 'votes.csv:1: '],
    ['record and column are not part of the prefix', { file: 'votes.csv', line: 7, record: 5, column: 'score' }, 'votes.csv:7: '],
  ])('%s → %j', (_, position, prefix) => {
    expect(formatPosition(position)).toBe(prefix);
  });

  it('PloaderError.toString puts the position before the message', () => {
    const error = new PloaderError('BAD_ROW', 'record 5, column score: invalid input syntax for type integer: "x"', {
      position: { file: 'votes.csv', line: 7, record: 5, column: 'score' },
    });
    expect(String(error)).toBe('votes.csv:7: record 5, column score: invalid input syntax for type integer: "x"');
    expect(String(new PloaderError('CANCELLED', 'cancelled'))).toBe('cancelled');
  });

  it('keeps the cause', () => {
    const cause = new Error('root');
    expect(new PloaderError('SERVER_ERROR', 'wrapped', { cause }).cause).toBe(cause);
  });
});
