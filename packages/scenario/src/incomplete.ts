import type { CompareOutput } from './compare';
import type { RunOutput } from './run-scenario';
import type { SweepOutput } from './sweep';
import { estimate, type Estimate } from './statistics';

/** A figure of merit one or more runs did not produce (a finite workload unfinished, a benchmark with no complete sample). */
export interface IncompleteFigure {
  readonly vm: string;
  readonly figure: string;
  /** Where: a compare variant (`hypervisor.backend=pv`) or a sweep point; absent for a run. */
  readonly where?: string;
  /** Replications without the figure, of `of`. */
  readonly runs: number;
  readonly of: number;
}

/** Whether a run produced its figure: NaN (nothing measured) or infinite is incomplete. */
export function isComplete(value: number): boolean {
  return Number.isFinite(value);
}

/**
 * The estimate over the replications that produced the figure, and how many did not. With none,
 * the mean and interval are NaN, which JSON prints as null; `n` says how many counted.
 */
export function completeEstimate(xs: readonly number[]): { estimate: Estimate; incomplete: number } {
  const ok = xs.filter(isComplete);
  return { estimate: estimate(ok), incomplete: xs.length - ok.length };
}

/** The stderr line for an incomplete figure: whose, which, and what to change. */
export function incompleteWarning(f: IncompleteFigure): string {
  const where = f.where === undefined ? '' : ` at ${f.where}`;
  const runs = f.of > 1 ? ` in ${f.runs} of ${f.of} replications` : '';
  return `ipilab: warning: VM ${f.vm}${where}: ${f.figure} incomplete${runs}: the workload did not finish, or completed no sample, in the measured time; give a longer run.duration (or a shorter run.warmup, or less work per sample)`;
}

/** A run's incomplete figures, one per VM without its figure of merit. */
export function incompleteOfRun(out: RunOutput): IncompleteFigure[] {
  return Object.entries(out.vms)
    .filter(([, v]) => v.primary.incomplete === true)
    .map(([vm, v]) => ({ vm, figure: v.primary.key, runs: 1, of: 1 }));
}

/** A comparison's incomplete figures, per variant and VM. */
export function incompleteOfCompare(out: CompareOutput): IncompleteFigure[] {
  return out.variants.flatMap((v) =>
    Object.entries(v.vms)
      .filter(([, f]) => f.incomplete !== undefined)
      .map(([vm, f]) => ({ vm, figure: f.figure, where: `${out.vary}=${String(v.value)}`, runs: f.incomplete!, of: out.replications })),
  );
}

/** A sweep's incomplete figures, per point and VM. */
export function incompleteOfSweep(out: SweepOutput): IncompleteFigure[] {
  return out.points.flatMap((p) =>
    Object.entries(p.vms)
      .filter(([, f]) => f.incomplete !== undefined)
      .map(([vm, f]) => ({ vm, figure: f.figure, where: Object.entries(p.params).map(([k, x]) => `${k}=${x}`).join(' '), runs: f.incomplete!, of: f.incomplete! + f.estimate.n })),
  );
}
