/**
 * Flag values that are allowed but do not help, said before the load starts so a person can stop it.
 * Pure: the values and the machine's facts in, warnings out.
 */

/** Below this a chunk's fixed costs (a COPY statement, a ledger row, a task) outweigh its bytes. */
export const MIN_SENSIBLE_CHUNK_BYTES = 64 << 10;
/** Above this a chunk is more than a worker should redo after a transient error, and balances badly. */
export const MAX_SENSIBLE_CHUNK_BYTES = 1 << 30;

export interface ParallelismFacts {
  workers: number | undefined;
  chunkBytes: number | undefined;
  /** Cores of this machine. */
  clientCores: number;
  /** The server runs on this machine (localhost, a Unix socket, --embedded): its cores are the same. */
  serverLocal: boolean;
}

/** Only for values options.ts accepts: a value it refuses gets its error, not a warning as well. */
export function parallelismWarnings(facts: ParallelismFacts): string[] {
  const warnings: string[] = [];
  const { clientCores } = facts;
  const workers = Number.isInteger(facts.workers) && facts.workers! >= 1 ? facts.workers : undefined;
  const chunkBytes = Number.isSafeInteger(facts.chunkBytes) && facts.chunkBytes! >= 1 ? facts.chunkBytes : undefined;
  if (workers !== undefined && workers > clientCores) {
    // Each worker is a thread here and a backend there; past the cores they only take turns, and each costs memory.
    warnings.push(
      facts.serverLocal
        ? `--workers ${workers} is more than the ${clientCores} cores this machine has, and the server runs here too: more sessions than cores take turns and cost memory (a thread and a connection each) — try --workers ${clientCores}`
        : `--workers ${workers} is more than the ${clientCores} cores of this machine: past them, sessions only help if the server has cores to spare for each — if the load is not faster than with --workers ${clientCores}, use fewer`,
    );
  }
  if (chunkBytes !== undefined && chunkBytes < MIN_SENSIBLE_CHUNK_BYTES) {
    warnings.push(`--chunk-size ${chunkBytes} bytes is tiny: each chunk costs a COPY statement and a ledger row, which then outweigh the data — leave it out (sized for the file) or give at least 1MB`);
  }
  if (chunkBytes !== undefined && chunkBytes > MAX_SENSIBLE_CHUNK_BYTES) {
    warnings.push(`--chunk-size ${chunkBytes} bytes is over 1GB: workers get uneven shares and a retried chunk repeats that much — leave it out (sized for the file) or give at most 64MB`);
  }
  return warnings;
}
