/**
 * How the command line reports a failure: one line `ploader: <message>` on stderr (or, with --json,
 * `{"error": {...}}` on stdout), messages in flag names, passwords redacted, and a stack trace only
 * with --debug. Returns the exit code.
 */
import { redactConnectionString as redact } from '../db/conninfo.ts';
import { PloaderError, formatPosition } from '../errors.ts';
import { inFlagNames } from './flags.ts';

export const EXIT = { OK: 0, FAILED: 1, USAGE: 2, LOADED_WITH_REJECTS: 3 } as const;

export interface ErrorOutput {
  json: boolean;
  debug: boolean;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export function reportError(error: unknown, output: ErrorOutput): number {
  const known = error instanceof PloaderError ? error : undefined;
  const text = error instanceof Error ? error.message : String(error);
  const message = redact(inFlagNames(known ? text : `${text} (an unexpected error: run again with --debug for the stack trace, and report it)`));
  if (output.json) {
    const position = known?.position;
    const body = {
      code: known?.code ?? 'UNEXPECTED_ERROR',
      message,
      file: position?.file ?? null,
      line: position?.line ?? null,
      column: position?.column ?? null,
      sqlstate: known?.server?.sqlstate ?? null,
    };
    output.stdout.write(`${JSON.stringify({ error: body }, null, 2)}\n`);
  } else {
    output.stderr.write(`ploader: ${known ? redact(formatPosition(known.position)) : ''}${message}\n`);
  }
  if (output.debug) output.stderr.write(`${redact(stackOf(error))}\n`);
  return known?.code === 'INVALID_OPTION' ? EXIT.USAGE : EXIT.FAILED;
}

/** The stack, and the causes' stacks: what a bug report needs. */
function stackOf(error: unknown): string {
  const parts: string[] = [];
  for (let at: unknown = error, depth = 0; at !== undefined && depth < 5; at = (at as { cause?: unknown }).cause, depth++) {
    parts.push(at instanceof Error ? (at.stack ?? at.message) : String(at));
  }
  return parts.join('\ncaused by: ');
}
