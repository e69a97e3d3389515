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
