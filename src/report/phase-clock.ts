/** Wall time of the whole load and of each phase, as the report shows them. */
import type { PhaseTimings } from './report.ts';

export class PhaseClock {
  private readonly started = performance.now();
  readonly phases: PhaseTimings = { split: 0, load: 0, durable: 0, indexes: 0, publish: 0 };

  /** Runs `work`, adding its wall time to `phase` (also when it fails). */
  async time<T>(phase: keyof PhaseTimings, work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await work();
    } finally {
      this.phases[phase] += performance.now() - started;
    }
  }

  get wallMs(): number {
    return performance.now() - this.started;
  }
}
