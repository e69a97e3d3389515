/**
 * One ploader run in a process of its own (forked by methods.ts), so that its CPU and peak RSS are
 * ploader's alone and comparable between input sizes: the bench process also holds B's and H's COPY
 * streams and every earlier run's heap. It reports its phases as they begin, its resident set before
 * load() (modules loaded, no worker yet) and the report; the parent reads its CPU and peak RSS from
 * /proc while it waits to be told to exit.
 */
import { load } from '../../src/load.ts';
import type { LoadOptions, ProgressEvent } from '../../src/options.ts';
import type { LoadReport } from '../../src/report/report.ts';

export type RunnerMessage =
  | { kind: 'start'; rssBeforeBytes: number }
  | { kind: 'phase'; phase: string; detail?: string }
  | { kind: 'done'; report: LoadReport }
  | { kind: 'failed'; message: string };

function send(message: RunnerMessage): void {
  process.send?.(message);
}

process.on('message', (message: { kind: 'load'; options: Omit<LoadOptions, 'onProgress' | 'signal'> } | { kind: 'exit' }) => {
  if (message.kind === 'exit') process.exit(0);
  send({ kind: 'start', rssBeforeBytes: process.memoryUsage.rss() });
  const onProgress = (event: ProgressEvent) => {
    if (event.kind === 'phase') send({ kind: 'phase', phase: event.phase, detail: event.detail });
  };
  load({ ...message.options, onProgress }).then(
    (report) => send({ kind: 'done', report }),
    (error: unknown) => send({ kind: 'failed', message: error instanceof Error ? error.message : String(error) }),
  );
});
