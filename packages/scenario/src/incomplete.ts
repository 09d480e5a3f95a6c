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
  /** The picked metric it is (run.metrics), when not the workload's own figure. */
  readonly metric?: string;
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
  const picked = f.metric === undefined || f.metric === 'default' ? '' : `, or judge VM ${f.vm} by a figure it produces (--metric, run.metrics)`;
  return `ipilab: warning: VM ${f.vm}${where}: ${f.figure} incomplete${runs}: the workload did not finish, or completed no sample, in the measured time; give a longer run.duration (or a shorter run.warmup, or less work per sample)${picked}`;
}

/** A run's incomplete figures: each VM's picked figures (run.metrics) it did not produce. */
export function incompleteOfRun(out: RunOutput): IncompleteFigure[] {
  return Object.entries(out.vms).flatMap(([vm, v]) => v.metrics.filter((m) => m.incomplete === true).map((m) => ({ vm, figure: m.figure, runs: 1, of: 1, metric: m.metric })));
}

/** A comparison's incomplete figures, per variant, VM and picked figure. */
export function incompleteOfCompare(out: CompareOutput): IncompleteFigure[] {
  return out.variants.flatMap((v) =>
    Object.entries(v.vms).flatMap(([vm, f]) =>
      f.metrics.filter((m) => m.incomplete !== undefined).map((m) => ({ vm, figure: m.figure, where: `${out.vary}=${String(v.value)}`, runs: m.incomplete!, of: m.incomplete! + m.estimate.n, metric: m.metric })),
    ),
  );
}

/** A sweep's incomplete figures, per point, VM and picked figure. */
export function incompleteOfSweep(out: SweepOutput): IncompleteFigure[] {
  return out.points.flatMap((p) =>
    Object.entries(p.vms).flatMap(([vm, f]) =>
      f.metrics
        .filter((m) => m.incomplete !== undefined)
        .map((m) => ({ vm, figure: m.figure, where: Object.entries(p.params).map(([k, x]) => `${k}=${x}`).join(' '), runs: m.incomplete!, of: m.incomplete! + m.estimate.n, metric: m.metric })),
    ),
  );
}
