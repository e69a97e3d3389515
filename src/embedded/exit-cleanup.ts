/**
 * What a process must not leave behind (a throwaway server, its directory, a password file, the demo's
 * sample file) is registered here as a synchronous clean-up. They all run on 'exit', whatever ends the
 * process, because only synchronous work is possible then. A signal (Ctrl-C, SIGTERM, a closed
 * terminal) ends a Node process without 'exit' unless someone listens: while clean-ups are pending we
 * listen, and when the process has no handler of its own for that signal we run them and exit as the
 * signal would have. A host that handles the signal itself (the CLI cancels its load first, the demo
 * stops its server in order) keeps control; its eventual exit still runs what is left.
 */
import { constants } from 'node:os';

export type Cleanup = () => void;

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const pending = new Set<Cleanup>();

/** Registers a clean-up; the returned function forgets it (call it once the thing is gone). */
export function cleanUpOnExit(cleanup: Cleanup): () => void {
  if (pending.size === 0) listen();
  pending.add(cleanup);
  return () => {
    pending.delete(cleanup);
    if (pending.size === 0) stopListening();
  };
}

function runPending(): void {
  for (const cleanup of [...pending]) {
    pending.delete(cleanup);
    try {
      cleanup();
    } catch {
      // best effort: the process is ending, and the next start reaps what is left
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return; // the host decides
  runPending();
  process.exit(128 + constants.signals[signal]);
}

function listen(): void {
  process.on('exit', runPending);
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

function stopListening(): void {
  process.removeListener('exit', runPending);
  for (const signal of SIGNALS) process.removeListener(signal, onSignal);
}
