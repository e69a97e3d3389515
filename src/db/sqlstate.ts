/**
 * The SQLSTATEs ploader acts on, named (PostgreSQL Appendix A, "PostgreSQL Error Codes").
 * Server errors are classified by these codes, never by matching message text.
 */
export const SQLSTATE = {
  UNIQUE_VIOLATION: '23505',
  NOT_NULL_VIOLATION: '23502',
  CHECK_VIOLATION: '23514',
  FOREIGN_KEY_VIOLATION: '23503',
  BAD_COPY_FILE_FORMAT: '22P04',
  INVALID_TEXT_REPRESENTATION: '22P02',
  CHARACTER_NOT_IN_REPERTOIRE: '22021',
  UNTRANSLATABLE_CHARACTER: '22P05',
  INVALID_NAME: '42602',
  UNDEFINED_TABLE: '42P01',
  DUPLICATE_TABLE: '42P07',
  DUPLICATE_OBJECT: '42710',
  UNDEFINED_COLUMN: '42703',
  INSUFFICIENT_PRIVILEGE: '42501',
  INVALID_PASSWORD: '28P01',
  INVALID_AUTHORIZATION: '28000',
  INVALID_CATALOG_NAME: '3D000',
  QUERY_CANCELED: '57014',
  LOCK_NOT_AVAILABLE: '55P03',
  DEADLOCK_DETECTED: '40P01',
  ADMIN_SHUTDOWN: '57P01',
  DEPENDENT_OBJECTS_STILL_EXIST: '2BP01',
  SYNTAX_ERROR: '42601',
  DATA_EXCEPTION: '22000',
  DISK_FULL: '53100',
  OUT_OF_MEMORY: '53200',
  TOO_MANY_CONNECTIONS: '53300',
  CONFIGURATION_LIMIT_EXCEEDED: '53400',
  CRASH_SHUTDOWN: '57P02',
  CANNOT_CONNECT_NOW: '57P03',
  IO_ERROR: '58030',
  INTERNAL_ERROR: 'XX000',
  SERIALIZATION_FAILURE: '40001',
  CONNECTION_FAILURE: '08006',
  NUMERIC_VALUE_OUT_OF_RANGE: '22003',
  DATETIME_FIELD_OVERFLOW: '22008',
  INVALID_DATETIME_FORMAT: '22007',
  STRING_DATA_RIGHT_TRUNCATION: '22001',
} as const;

/** Errors of a value its column's input function refuses: the kind PostgreSQL 17's ON_ERROR ignore skips. */
export const INPUT_VALUE_ERRORS: ReadonlySet<string> = new Set([
  SQLSTATE.INVALID_TEXT_REPRESENTATION,
  SQLSTATE.NUMERIC_VALUE_OUT_OF_RANGE,
  SQLSTATE.DATETIME_FIELD_OVERFLOW,
  SQLSTATE.INVALID_DATETIME_FORMAT,
  SQLSTATE.STRING_DATA_RIGHT_TRUNCATION,
]);

/** The row is at fault (see failureKind): such errors can be set aside with --max-errors. */
export function isRowError(sqlstate: string | undefined, atCopyLine = true): boolean {
  return sqlstate !== undefined && failureKind(sqlstate, atCopyLine) === 'row';
}

/**
 * What a failure is, decided by its SQLSTATE class alone (the first two characters): whose fault it
 * is and so what the user is told. `row`: the input record is at fault (file:line:column, "fix the row
 * or pass --max-errors"); every other kind says what happened to the server and what to do, never
 * "fix the row".
 */
export type FailureKind = 'row' | 'connection' | 'operator' | 'resources' | 'system' | 'transient' | 'other';

/** The one mapping from SQLSTATE class to kind; see README "Error classes". */
export const FAILURE_KIND_BY_CLASS: Readonly<Record<string, FailureKind>> = {
  '22': 'row', // data exception: a value the column's type refuses, wrong field count, bad encoding
  '23': 'row', // integrity constraint violation: NOT NULL, CHECK (unique keys are checked after the load)
  '08': 'connection', // connection exception
  '57': 'operator', // operator intervention: terminated, shutting down, cancelled
  '53': 'resources', // insufficient resources: disk full, out of memory or shared memory, too many connections
  '58': 'system', // system error: I/O error, missing file
  XX: 'system', // internal error, data corrupted
  '40': 'transient', // transaction rollback: deadlock, serialization failure
};

/**
 * The kind of a server failure. Class 42 (syntax error or access rule) is the row's only when the
 * server raised it while reading a record (it named a COPY line), e.g. a default or a CHECK that
 * fails on that row's value; before any row it is a mapping or privilege problem.
 */
export function failureKind(sqlstate: string | undefined, atCopyLine: boolean): FailureKind {
  if (sqlstate === undefined) return 'connection';
  const kind = FAILURE_KIND_BY_CLASS[sqlstate.slice(0, 2)];
  if (kind) return kind;
  return sqlstate.startsWith('42') && atCopyLine ? 'row' : 'other';
}
