/** Best wall time of `runs` runs, in seconds: for microbenchmarks, where the minimum is the least noisy figure. */
export function bestSeconds(run: () => unknown, runs: number): number {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    run();
    best = Math.min(best, (performance.now() - started) / 1000);
  }
  return best;
}

/** Best CPU time (user + system) of `runs` runs, in seconds: for single-threaded microbenchmarks on a shared
 * machine, where wall time also counts whatever else the cores were doing. */
export function bestCpuSeconds(run: () => unknown, runs: number): number {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const started = process.cpuUsage();
    run();
    const used = process.cpuUsage(started);
    best = Math.min(best, (used.user + used.system) / 1e6);
  }
  return best;
}
