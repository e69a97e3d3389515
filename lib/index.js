// The package entry for JavaScript callers: registers tsx (the project runs its TypeScript sources
// directly, with no build step) before loading them. TypeScript callers get the types from src/index.ts.
import { register } from 'tsx/esm/api';

register();
const api = await import('../src/index.ts');

export const { load, cleanup, formatReport, formatPlan, PloaderError } = api;
