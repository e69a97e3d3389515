import { describe, expect, it } from 'vitest';
import { GatheredWrites } from '../../../src/fs/gathered-writes.ts';

describe('GatheredWrites', () => {
  it('hands back one piece once the pieces reach the size, then what is left, in order and unchanged', () => {
    const gathered = new GatheredWrites(10);
    expect(gathered.add(Buffer.from('abcd'))).toBeUndefined();
    expect(gathered.add(Buffer.from('efgh'))).toBeUndefined();
    expect(gathered.add(Buffer.from('ij'))?.toString()).toBe('abcdefghij');
    expect(gathered.take()).toBeUndefined();
    expect(gathered.add(Buffer.from('klmnopqrstuv'))?.toString()).toBe('klmnopqrstuv');
    expect(gathered.add(Buffer.from('w'))).toBeUndefined();
    expect(gathered.take()?.toString()).toBe('w');
    expect(gathered.take()).toBeUndefined();
  });
});
