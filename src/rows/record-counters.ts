/**
 * Values numbered by record: the stage columns whose default is a per-session temporary sequence
 * (serial and identity ids in file order, the --on-conflict record locator). Before each COPY of a
 * run of records the worker sets every counter so that record r of the chunk draws
 * `first + r × increment`, whatever was refused before it: a value depends on its record's position
 * in the input only.
 */
import { quoteIdent, quoteLiteral } from '../db/sql.ts';

export interface RecordCounter {
  /** The stage column it numbers. */
  column: string;
  /** The temporary sequence the stage column's default draws from (unqualified; it lives in pg_temp). */
  sequence: string;
  /** Value for the chunk's record 0, and the step per record (decimal strings: bigint range). */
  first: string;
  increment: string;
}

/** A stage column default drawing from the session's own temporary sequence, looked up at run time. */
export function counterDefault(sequence: string): string {
  // Not nextval('pg_temp.x'): that would bind to the creating session's sequence by OID.
  return `nextval((${quoteLiteral(`pg_temp.${quoteIdent(sequence)}`)}::text)::regclass)`;
}

/** Run once per session (outside the chunk's transaction, so a rollback keeps them). */
export function counterSessionSql(counters: readonly RecordCounter[]): string[] {
  return counters.map(
    (c) => `CREATE TEMP SEQUENCE IF NOT EXISTS ${quoteIdent(c.sequence)} AS bigint INCREMENT BY ${BigInt(c.increment)} MINVALUE ${MIN_BIGINT} MAXVALUE ${MAX_BIGINT}`,
  );
}

/** Value of the counter for record `recordInChunk` of the chunk. */
export function counterValue(counter: RecordCounter, recordInChunk: number): bigint {
  const { first, increment } = counterSteps(counter);
  return first + BigInt(recordInChunk) * increment;
}

/** A counter's first value and step as bigints, parsed once per counter (isolation asks per record). */
interface CounterSteps {
  first: bigint;
  increment: bigint;
  /** Both exact as numbers, so values can be computed as numbers while they stay safe integers. */
  exact: boolean;
  firstNumber: number;
  incrementNumber: number;
}
const steps = new WeakMap<RecordCounter, CounterSteps>();
function counterSteps(counter: RecordCounter): CounterSteps {
  let found = steps.get(counter);
  if (!found) {
    const first = BigInt(counter.first);
    const increment = BigInt(counter.increment);
    const firstNumber = Number(first);
    const incrementNumber = Number(increment);
    const exact = Number.isSafeInteger(firstNumber) && Number.isSafeInteger(incrementNumber) && BigInt(firstNumber) === first && BigInt(incrementNumber) === increment;
    steps.set(counter, (found = { first, increment, exact, firstNumber, incrementNumber }));
  }
  return found;
}

/** Sets every counter so the next row COPYed is record `recordInChunk`; undefined when there are none. */
export function positionCountersSql(counters: readonly RecordCounter[], recordInChunk: number): string | undefined {
  if (counters.length === 0) return undefined;
  const calls = counters.map((c) => `setval(${quoteLiteral(`pg_temp.${quoteIdent(c.sequence)}`)}, ${counterValue(c, recordInChunk)}, false)`);
  return `SELECT ${calls.join(', ')}`;
}

const MIN_BIGINT = '-9223372036854775808';
const MAX_BIGINT = '9223372036854775807';

/**
 * Explicit counter values in the records themselves: bad-row isolation sends the chunk's good records
 * as one COPY that lists the counter columns too, each record given its values after its last field,
 * so that leaving bad records out shifts nothing and needs no COPY of its own.
 */
export interface CounterInjection {
  /** The COPY into the stage with the counter columns after the file's. */
  copySql: string;
  delimiter: string;
}

/**
 * The records' bytes in one buffer, each with its counter values appended before its line end: one
 * allocation and one copy per record (with 1 % bad rows this runs for most records of a chunk).
 */
export function withCounterValues(records: ReadonlyArray<{ bytes: Buffer; index: number }>, counters: readonly RecordCounter[], delimiter: string): Buffer {
  const suffixes: string[] = new Array(records.length);
  let total = 0;
  for (let r = 0; r < records.length; r++) {
    let suffix = '';
    for (const counter of counters) suffix += delimiter + counterText(counter, records[r].index);
    suffixes[r] = suffix;
    total += records[r].bytes.length + suffix.length;
  }
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (let r = 0; r < records.length; r++) {
    const bytes = records[r].bytes;
    let body = bytes.length;
    if (body > 0 && bytes[body - 1] === LF) body--;
    if (body > 0 && bytes[body - 1] === CR) body--;
    at += bytes.copy(out, at, 0, body);
    at += out.write(suffixes[r], at, 'latin1');
    at += bytes.copy(out, at, body);
  }
  return out;
}

/** The counter's value for a record, in decimal: in float arithmetic while it is exact, else in bigint. */
function counterText(counter: RecordCounter, recordInChunk: number): string {
  const steps = counterSteps(counter);
  if (steps.exact) {
    const step = recordInChunk * steps.incrementNumber;
    const value = steps.firstNumber + step;
    if (Number.isSafeInteger(step) && Number.isSafeInteger(value)) return String(value);
  }
  return String(steps.first + BigInt(recordInChunk) * steps.increment);
}

/**
 * Whether values can be appended: the delimiter and the NULL and DEFAULT markers must not be
 * something a decimal number could be read as.
 */
export function canInjectCounters(delimiter: string, nullString: string | undefined, defaultString: string | undefined): boolean {
  const numeric = (s: string | undefined) => s !== undefined && /^-?\d*$/.test(s) && s !== '';
  return !/[-0-9]/.test(delimiter) && !numeric(nullString) && !numeric(defaultString);
}

const LF = 0x0a;
const CR = 0x0d;
