import { describe, expect, it } from 'vitest';
import { headerDifference } from '../../../src/input/input-files.ts';

describe('headerDifference', () => {
  const first = { file: 'a.csv', fields: ['username', 'link', 'score'] };
  it.each([
    ['the same header', ['username', 'link', 'score'], undefined],
    ['another order', ['link', 'username', 'score'], 'header field 1 is "link", but a.csv\'s is "username"'],
    ['a field renamed at the end', ['username', 'link', 'points'], 'header field 3 is "points", but a.csv\'s is "score"'],
    ['a field fewer', ['username', 'link'], "the header has 2 fields, a.csv's 3"],
    ['a field more', ['username', 'link', 'score', 'extra'], "the header has 4 fields, a.csv's 3"],
    ['a NULL name', ['username', null, 'score'], 'header field 2 is NULL, but a.csv\'s is "link"'],
    ['names differing only in case', ['Username', 'link', 'score'], 'header field 1 is "Username", but a.csv\'s is "username"'],
  ])('%s', (_, other, expected) => {
    expect(headerDifference(first, other)).toBe(expected);
  });
});
