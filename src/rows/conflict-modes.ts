/**
 * The --on-conflict modes, apart from conflicts.ts so that the public types (LoadOptions) do not
 * reach modules that need node-postgres's types: a TypeScript user of the library needs none.
 */
export type OnConflict = 'error' | 'skip' | 'update';
export const ON_CONFLICT_MODES: readonly OnConflict[] = ['error', 'skip', 'update'];
