export { load } from './load.ts';
export type { LoadOptions, ProgressEvent, CopyFormat, HeaderOption, CreateOption } from './options.ts';
export type { LoadReport, PhaseTimings } from './report/report.ts';
export { formatReport, formatPlan } from './report/report.ts';
export { PloaderError } from './errors.ts';
export type { ErrorCode, InputPosition } from './errors.ts';
export { cleanup } from './stage/cleanup.ts';
export type { CleanupOptions, CleanupReport } from './stage/cleanup.ts';
