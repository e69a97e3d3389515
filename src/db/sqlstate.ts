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
} as const;

/** Class 22 (data exception) and class 23 (integrity constraint violation): the row is at fault. */
export function isRowError(sqlstate: string | undefined): boolean {
  return sqlstate !== undefined && (sqlstate.startsWith('22') || sqlstate.startsWith('23'));
}
