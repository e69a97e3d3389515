/**
 * Pure: a column type for each field of a file, from a sample of its values, for --create. Each value
 * is matched against the forms PostgreSQL reads back unchanged; a column gets the narrowest type
 * every sampled value fits, text when none does. NULLs are no evidence; an empty string (a quoted ""
 * in csv, an empty field in text) fits only text, since COPY reads it as '' and no other type takes ''.
 *
 * Deliberately strict, so that a type never changes what the file says: no surrounding spaces, no
 * leading zeros on numbers (007 and 02134 are codes: text), ISO dates only (01/02/2024 depends on
 * DateStyle), at most microseconds, uuids in their standard 8-4-4-4-12 form.
 */
import type { FieldValue } from '../input/first-record.ts';

export type InferredType =
  | 'boolean' | 'smallint' | 'integer' | 'bigint' | 'numeric' | 'double precision'
  | 'date' | 'timestamp' | 'timestamptz' | 'time' | 'uuid' | 'jsonb' | 'text';

// One bit per type a value may fit; a column keeps the bits every value has.
const SMALLINT = 1 << 0;
const INTEGER = 1 << 1;
const BIGINT = 1 << 2;
/** A decimal as written (digits and a point): numeric keeps it exactly. */
const DECIMAL = 1 << 3;
const DOUBLE = 1 << 4;
/** Anything numeric's input takes (exponents, NaN): numeric when not every value fits a double. */
const NUMERIC = 1 << 5;
const BOOLEAN = 1 << 6;
const DATE = 1 << 7;
const TIMESTAMP = 1 << 8;
const TIMESTAMPTZ = 1 << 9;
const TIME = 1 << 10;
const UUID = 1 << 11;
const JSONB = 1 << 12;
const EVERY_TYPE = (1 << 13) - 1;

/**
 * The narrowest first: integers before decimals (0 and 1 are numbers before they are booleans), exact
 * decimals before doubles (a double only when some value is written with an exponent or is Infinity),
 * a date before a timestamp (a column of dates and timestamps is timestamp).
 */
const PREFERENCE: ReadonlyArray<[number, InferredType]> = [
  [SMALLINT, 'smallint'], [INTEGER, 'integer'], [BIGINT, 'bigint'], [DECIMAL, 'numeric'], [DOUBLE, 'double precision'],
  [NUMERIC, 'numeric'], [BOOLEAN, 'boolean'], [DATE, 'date'], [TIMESTAMP, 'timestamp'], [TIMESTAMPTZ, 'timestamptz'],
  [TIME, 'time'], [UUID, 'uuid'], [JSONB, 'jsonb'],
];

const INT = /^[-+]?(0|[1-9][0-9]*)$/;
const PLAIN_DECIMAL = /^[-+]?(0|[1-9][0-9]*)?\.[0-9]*$/;
const EXPONENT = /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)[eE]([-+]?[0-9]+)$/;
const INFINITY = /^[-+]?(inf|infinity)$/i;
const BOOLEAN_WORD = /^(t|f|true|false|y|n|yes|no|on|off)$/i;
const DATE_FORM = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;
const TIME_FORM = /^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$/;
const ZONE = /(Z|[-+]([01][0-9]|2[0-3])(:?[0-5][0-9])?)$/;
const UUID_FORM = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** numeric's input refuses exponents beyond this (NUMERIC_MAX_PRECISION). */
const NUMERIC_MAX_EXPONENT = 1000;

const RANGES: ReadonlyArray<[number, bigint]> = [[SMALLINT, 1n << 15n], [INTEGER, 1n << 31n], [BIGINT, 1n << 63n]];

/** The types `value` fits, as bits. */
export function typesFitting(value: string): number {
  if (INT.test(value)) {
    const n = BigInt(value);
    let bits = DECIMAL | NUMERIC | doubleIfInRange(value);
    for (const [bit, limit] of RANGES) if (n >= -limit && n < limit) bits |= bit;
    return value === '0' || value === '1' ? bits | BOOLEAN : bits;
  }
  if (PLAIN_DECIMAL.test(value) && /[0-9]/.test(value)) return DECIMAL | NUMERIC | doubleIfInRange(value);
  const exponent = EXPONENT.exec(value);
  if (exponent) return (Math.abs(Number(exponent[2])) <= NUMERIC_MAX_EXPONENT ? NUMERIC : 0) | doubleIfInRange(value);
  // numeric keeps NaN too, beside exact decimals.
  if (/^nan$/i.test(value)) return DECIMAL | NUMERIC | DOUBLE;
  if (INFINITY.test(value)) return DOUBLE;
  if (BOOLEAN_WORD.test(value)) return BOOLEAN;
  if (isDate(value)) return DATE | TIMESTAMP;
  if (TIME_FORM.test(value)) return TIME;
  const timestamp = timestampBits(value);
  if (timestamp) return timestamp;
  if (UUID_FORM.test(value)) return UUID;
  if (isJsonDocument(value)) return JSONB;
  return 0;
}

/** float8 input takes what strtod does, but refuses overflow and underflow to zero ("out of range"). */
function doubleIfInRange(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n)) return 0;
  return n !== 0 || !/[1-9]/.test(value.replace(/[eE].*$/, '')) ? DOUBLE : 0;
}

function isDate(value: string): boolean {
  const match = DATE_FORM.exec(value);
  if (!match) return false;
  const [year, month, day] = match.slice(1).map(Number);
  // Gregorian leap years, as PostgreSQL counts them.
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  return year >= 1 && days !== undefined && day >= 1 && day <= days;
}

/** `YYYY-MM-DD[T ]HH:MM[:SS[.ffffff]]`, then a zone (timestamptz) or none (timestamp). */
function timestampBits(value: string): number {
  const separator = value.search(/[T ]/);
  if (separator !== 10 || !isDate(value.slice(0, 10))) return 0;
  const rest = value.slice(11);
  if (TIME_FORM.test(rest)) return TIMESTAMP;
  const zone = ZONE.exec(rest);
  return zone && TIME_FORM.test(rest.slice(0, zone.index)) ? TIMESTAMPTZ : 0;
}

/** An object or array that PostgreSQL's json parser takes too: no \u0000, no unpaired surrogate escapes. */
function isJsonDocument(value: string): boolean {
  const first = value[0];
  const last = value[value.length - 1];
  if (!((first === '{' && last === '}') || (first === '[' && last === ']'))) return false;
  const unpaired = value.replace(/\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}/g, '');
  if (/\\u0000|\\u[dD][89a-fA-F][0-9a-fA-F]{2}/.test(unpaired)) return false;
  try {
    JSON.parse(value);
    return true;
  } catch {
    return false;
  }
}

/** One column's inference, value by value. */
export class ColumnTypeInference {
  private bits = EVERY_TYPE;
  private evidence = 0;

  add(value: FieldValue): void {
    if (value === null || this.bits === 0) return;
    this.bits &= typesFitting(value);
    this.evidence++;
  }

  /** The narrowest type every value seen fits; text when none, or when nothing but NULLs was seen. */
  get type(): InferredType {
    if (this.evidence === 0) return 'text';
    return PREFERENCE.find(([bit]) => (this.bits & bit) !== 0)?.[1] ?? 'text';
  }
}

/** A type for each of `width` columns, record by record (fields beyond `width` are not looked at). */
export class RecordTypeInference {
  private readonly columns: ColumnTypeInference[];
  /** Records seen. */
  records = 0;

  constructor(width: number) {
    this.columns = Array.from({ length: width }, () => new ColumnTypeInference());
  }

  add(record: readonly FieldValue[]): void {
    this.records++;
    for (let i = 0; i < this.columns.length && i < record.length; i++) this.columns[i].add(record[i]);
  }

  get types(): InferredType[] {
    return this.columns.map((c) => c.type);
  }
}

export function inferColumnTypes(records: Iterable<readonly FieldValue[]>, width: number): InferredType[] {
  const inference = new RecordTypeInference(width);
  for (const record of records) inference.add(record);
  return inference.types;
}
