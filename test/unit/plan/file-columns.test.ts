/**
 * Which columns the file feeds: --columns, the header's names (--header names), or the first line's
 * field count; and --header match, as COPY's HEADER MATCH judges a header. Table-driven, no server.
 */
import { describe, expect, it } from 'vitest';
import type { ColumnFacts } from '../../../src/plan/catalog.ts';
import { resolveFileColumns } from '../../../src/plan/file-columns.ts';
import type { HeaderMode } from '../../../src/options.ts';

const column = (name: string, facts: Partial<ColumnFacts> = {}): ColumnFacts => ({ name, type: 'text', identity: '', generated: '', identitySequence: null, hasDefault: false, notNull: true, defaultExpr: null, sequence: null, ...facts });

/** The README's seed table, and one with a generated column, an identity and a DEFAULT. */
const VOTES = { table: { schema: 'public', name: 'votes' }, columns: [column('voteid', { hasDefault: true }), column('username'), column('link'), column('score')] };
const EVENTS = {
  table: { schema: 'app', name: 'events' },
  columns: [
    column('id', { identity: 'a', hasDefault: true }),
    column('Kind'),
    column('at', { hasDefault: true }),
    column('note', { notNull: false }),
    column('kind_upper', { generated: 's', hasDefault: true }),
  ],
};

function resolve(target: typeof VOTES, first: Array<string | null> | undefined, options: { columns?: string[]; header?: HeaderMode } = {}) {
  return resolveFileColumns(target, { file: 'f.csv', columns: options.columns, header: options.header !== undefined, headerMode: options.header }, first);
}

function failure(run: () => unknown): { message: string; position: unknown } {
  try {
    run();
  } catch (error) {
    const e = error as { message: string; position: unknown };
    return { message: e.message, position: e.position };
  }
  throw new Error('expected a failure');
}

describe('by the first line\'s field count (no --columns, no header names)', () => {
  it.each([
    ['as many fields as columns: all of them, as COPY', VOTES, ['1', 'alice', 't3_a', '1'], ['voteid', 'username', 'link', 'score'], []],
    ['as many as the columns without a default: those', VOTES, ['alice', 't3_a', '1'], ['username', 'link', 'score'], ['voteid']],
    ['generated columns never count', EVENTS, ['1', 'k', '2024-01-01', 'n'], ['id', 'Kind', 'at', 'note'], []],
    ['identity and DEFAULT columns are left to their defaults', EVENTS, ['k', 'n'], ['Kind', 'note'], ['id', 'at']],
    ['an empty file: every column (nothing to load)', VOTES, undefined, ['voteid', 'username', 'link', 'score'], []],
  ])('%s', (_, target, first, columns, defaulted) => {
    expect(resolve(target, first)).toEqual({ columns, defaulted });
  });

  it('another count fails at line 1, naming the table\'s columns and a --columns list that fits', () => {
    expect(failure(() => resolve(VOTES, ['alice', 't3_a']))).toEqual({
      message: 'line 1 has 2 fields, but "public"."votes" has 4 columns COPY can fill (voteid, username, link, score), 3 of them without a default (username, link, score) — name the file\'s 2 columns in order with --columns, e.g. --columns username,link',
      position: { file: 'f.csv', line: 1 },
    });
    expect(failure(() => resolve(EVENTS, ['k', 'x', 'n'])).message).toMatch(/line 1 has 3 fields, .* e\.g\. --columns id,Kind,note$/);
  });

  it('more fields than columns: no list fits, check the format', () => {
    expect(failure(() => resolve(VOTES, ['a', 'b', 'c', 'd', 'e'])).message).toMatch(/^line 1 has 5 fields, but .* — no --columns list fits: check the file's format and --delimiter$/);
  });

  it('one field holding another delimiter: asks whether that is the delimiter', () => {
    expect(failure(() => resolve(VOTES, ['alice;t3_a;1'])).message).toMatch(/line 1 has 1 field, .*is ";" the delimiter\? pass --delimiter ";"/);
  });

  it('says when line 1 is the header', () => {
    expect(failure(() => resolve(VOTES, ['a', 'b'], { header: 'skip' })).message).toMatch(/^line 1 \(the header\) has 2 fields/);
  });
});

describe('--columns', () => {
  it('as given, in the file\'s order; the others are defaulted', () => {
    expect(resolve(VOTES, ['1', 'x'], { columns: ['score', 'username'] })).toEqual({ columns: ['score', 'username'], defaulted: ['voteid', 'link'] });
  });

  it.each([
    [['nope'], 'column "nope" does not exist in "public"."votes" — its columns are "voteid", "username", "link", "score"'],
  ])('refuses %j', (columns, message) => {
    expect(failure(() => resolve(VOTES, undefined, { columns })).message).toBe(message);
  });

  it('refuses a generated column', () => {
    expect(failure(() => resolve(EVENTS, undefined, { columns: ['kind_upper'] })).message).toMatch(/is generated and cannot be loaded/);
  });
});

describe('--header names', () => {
  it.each([
    ['any order', VOTES, ['score', 'username', 'link'], ['score', 'username', 'link'], ['voteid']],
    ['case-insensitively when only one column fits', VOTES, ['SCORE', 'Username', 'link', 'VoteId'], ['score', 'username', 'link', 'voteid'], []],
    ['exact first', EVENTS, ['Kind', 'note'], ['Kind', 'note'], ['id', 'at']],
    ['a mixed-case column by any case', EVENTS, ['kind'], ['Kind'], ['id', 'at', 'note']],
  ])('%s', (_, target, header, columns, defaulted) => {
    expect(resolve(target, header, { header: 'names' })).toEqual({ columns, defaulted });
  });

  it('an exact name wins over a case-insensitive one; two that fold alike are ambiguous', () => {
    const twins = { table: { schema: 'public', name: 't' }, columns: [column('Score'), column('score')] };
    expect(resolve(twins, ['Score', 'score'], { header: 'names' }).columns).toEqual(['Score', 'score']);
    expect(failure(() => resolve(twins, ['SCORE', 'score'], { header: 'names' })).message).toBe(
      'header field 1, "SCORE", matches columns "Score" and "score" of "public"."t" but neither exactly — spell it as one of them',
    );
  });

  it.each([
    ['a name that is no column', ['username', 'nope', 'score', 'link'], 'header field 2, "nope", is not a column of "public"."votes" — its columns are "voteid", "username", "link", "score"'],
    ['a byte-order mark', ['\ufeffusername', 'link', 'score'], 'header field 1, "\ufeffusername", is not a column of "public"."votes" (it starts with a byte-order mark: save the file without one) — its columns are "voteid", "username", "link", "score"'],
    ['a column named twice', ['username', 'link', 'Username', 'score'], 'header fields 1 and 3 both name column "username" of "public"."votes" — each column can be loaded once'],
    ['a NULL name', ['username', null, 'score'], 'header field 2 is NULL, so it names no column of "public"."votes" — give every field a name (--header names)'],
    ['a NOT NULL column without a default left out', ['username', 'link'], 'the header does not name column "score" of "public"."votes", which is NOT NULL and has no default, so every row would fail — add it to the file, or give it a default'],
  ])('refuses %s, at line 1', (_, header, message) => {
    expect(failure(() => resolve(VOTES, header, { header: 'names' }))).toEqual({ message, position: { file: 'f.csv', line: 1 } });
  });

  it('refuses a generated column', () => {
    expect(failure(() => resolve(EVENTS, ['Kind', 'kind_upper'], { header: 'names' })).message).toMatch(/header field 2 names column "kind_upper" .* generated/);
  });
});

describe('--header match (COPY\'s HEADER MATCH)', () => {
  it('accepts the column list in order, byte for byte', () => {
    expect(resolve(VOTES, ['username', 'link', 'score'], { header: 'match' })).toEqual({ columns: ['username', 'link', 'score'], defaulted: ['voteid'] });
    expect(resolve(VOTES, ['score', 'link'], { header: 'match', columns: ['score', 'link'] }).columns).toEqual(['score', 'link']);
  });

  it.each([
    ['another order', ['score', 'username', 'link'], { columns: undefined }, /^--header match: header field 1 is "score", expected "username" \(the column list is username, link, score\)/],
    ['another case', ['username', 'Link', 'score'], { columns: undefined }, /header field 2 is "Link", expected "link"/],
    ['a NULL name', ['username', null, 'score'], { columns: undefined }, /header field 2 is NULL, expected "link"/],
    ['fewer names than columns', ['username', 'link'], { columns: ['username', 'link', 'score'] }, /^--header match: the header has 2 fields, the column list 3 \(username, link, score\)/],
  ])('refuses %s', (_, header, options, message) => {
    expect(failure(() => resolve(VOTES, header, { header: 'match', ...options })).message).toMatch(message);
  });
});
