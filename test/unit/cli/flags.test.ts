/**
 * Switches that may take a word (`--header`, `--header match`, `--create if-missing`): spelled for
 * yargs so that a bare one never swallows the file name, and counted as typed when given twice.
 */
import { describe, expect, it } from 'vitest';
import { optionalValue, repeatedFlag, withOptionalValues } from '../../../src/cli/flags.ts';

describe('withOptionalValues', () => {
  it.each([
    [['--header', 'votes.csv'], ['--header=true', 'votes.csv']],
    [['votes.csv', '--header'], ['votes.csv', '--header=true']],
    [['--header', 'match', 'votes.csv'], ['--header', 'match', 'votes.csv']],
    [['--header', 'names', 'votes.csv'], ['--header', 'names', 'votes.csv']],
    [['--header=match', 'votes.csv'], ['--header=match', 'votes.csv']],
    [['--create', '--header', 'v.csv'], ['--create=true', '--header=true', 'v.csv']],
    [['--create', 'if-missing', 'v.csv'], ['--create', 'if-missing', 'v.csv']],
    [['--no-header', 'v.csv'], ['--no-header', 'v.csv']],
    [['--', '--header'], ['--', '--header']],
  ])('%j → %j', (args, spelled) => {
    expect(withOptionalValues(args)).toEqual(spelled);
  });

  it('maps the bare switch to true and keeps words as given', () => {
    expect([optionalValue('true'), optionalValue(true), optionalValue('false'), optionalValue(false), optionalValue('names'), optionalValue('yes')]).toEqual([true, true, false, false, 'names', 'yes']);
  });
});

describe('repeatedFlag for switches with a word', () => {
  it('counts them as typed', () => {
    expect(repeatedFlag({ header: ['true', 'match'], _: [] }, ['--header', '--header=match', 'v.csv'])).toBe('--header was given 2 times (--header, --header=match): give it once');
    expect(repeatedFlag({ header: 'names', _: [] }, ['--header', 'names', 'v.csv'])).toBeUndefined();
  });
});
