import { describe, expect, it } from 'vitest';
import { counterValue, positionCountersSql, withCounterValues, type RecordCounter } from '../../../src/rows/record-counters.ts';

const counter = (first: string, increment: string): RecordCounter => ({ column: 'id', sequence: 'ploader_id', first, increment });
const records = (...lines: string[]) => lines.map((line, index) => ({ bytes: Buffer.from(line, 'latin1'), index }));

describe('withCounterValues', () => {
  it('writes each record its values before its own line end (LF, CRLF, none)', () => {
    const out = withCounterValues(records('a,b\n', 'c,d\r\n', 'e,f'), [counter('10', '5'), counter('-1', '-1')], ',');
    expect(out.toString('latin1')).toBe('a,b,10,-1\nc,d,15,-2\r\ne,f,20,-3');
  });

  it('keeps records at their own indexes when some were left out', () => {
    const kept = records('a\n', 'b\n', 'c\n', 'd\n').filter((r) => r.index !== 1 && r.index !== 2);
    expect(withCounterValues(kept, [counter('1', '1')], '\t').toString('latin1')).toBe('a\t1\nd\t4\n');
  });

  it('gives the exact bigint value where float arithmetic would round', () => {
    const cases = [counter('9007199254740990', '1'), counter('-9007199254740991', '4503599627370496'), counter('9223372036854775000', '7'), counter('1', '-9223372036854775807')];
    for (const c of cases) {
      const out = withCounterValues(records('x\n', 'y\n', 'z\n', 'w\n'), [c], ',').toString('latin1');
      const expected = [0, 1, 2, 3].map((i) => `${'xyzw'[i]},${BigInt(c.first) + BigInt(i) * BigInt(c.increment)}\n`).join('');
      expect(out, `${c.first} + i × ${c.increment}`).toBe(expected);
      expect(counterValue(c, 3)).toBe(BigInt(c.first) + 3n * BigInt(c.increment));
    }
  });

  it('positions every counter at a record', () => {
    expect(positionCountersSql([counter('100', '2')], 5)).toBe(`SELECT setval('pg_temp."ploader_id"', 110, false)`);
    expect(positionCountersSql([], 5)).toBeUndefined();
  });
});
