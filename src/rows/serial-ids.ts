/**
 * Serial and identity ids in file order (placeholder until the reservation lands).
 */
import type { LoadPlan } from '../plan/load-plan.ts';

/** Statements that give the stage's numbered columns back the target's defaults. */
export function finishNumberingSql(plan: LoadPlan): string[] {
  void plan;
  return [];
}
