import { parseAxis } from './axes';
import { checkPoints } from './check-points';
import { ScenarioError } from './errors';
import type { SetArg } from './load';
import type { Provenance } from './provenance';
import { summarizeRanOn, type RanOnSummary } from './ran-on';
import { scenarioFileOf, type ScenarioRef } from './scenario-source';
import { ownSeeds, replicationSeeds } from './replication-seeds';
import { runWithSlowdown, type RunProgress } from './slowdown';
import { completeEstimate } from './incomplete';
import { metricEstimates, type MetricEstimate } from './metrics';
import { estimate, type Estimate } from './statistics';

/** `ranOn` and `pcpusUsed` (RanOnSummary): where the VM's vCPU threads ran, over the replications. */
export interface VariantFigure extends RanOnSummary {
  readonly figure: string;
  readonly higherIsBetter: boolean;
  readonly estimate: Estimate;
  /**
   * Paired ratio to the first variant's value, per replication: replication k with the first's
   * replication k (common random numbers when their seeds agree), over the replications both ran.
   */
  readonly ratio: Estimate;
  /** Replications whose run did not produce the figure (absent when all did); estimate and ratio count only the others. */
  readonly incomplete?: number;
  readonly slowdownVsAlone?: Estimate;
  /** With run.slowdownVsBareMetal: the figure against the same VM alone on bare metal, per replication. */
  readonly slowdownVsBareMetal?: Estimate;
  /** The figures the VM is judged by (run.metrics; [default], the figure above, unless picked), each with its ratio to the first variant's. */
  readonly metrics: CompareMetric[];
}

/** A picked figure in a comparison: its estimate and its paired ratio to the first variant's same figure. */
export interface CompareMetric extends MetricEstimate {
  readonly ratio: Estimate;
}

/** What `compareScenario` returns: each variant's replicated figures, with paired ratios to the first. */
export interface CompareOutput {
  readonly scenario: string;
  readonly vary: string;
  readonly replications: number;
  /** The first variant's seeds (and `replications` its count): a variant that ran others lists its own. */
  readonly seeds: readonly number[];
  readonly variants: readonly { readonly value: unknown; readonly seeds?: readonly number[]; readonly vms: Record<string, VariantFigure> }[];
  /** What made this output (added by the CLI; provenance.ts). */
  readonly meta?: Provenance;
}

/** Parses `--vary path=v1,v2,...`: values split at top-level commas, YAML flow values (`[0,1]`) and ranges (`2..32*2`) allowed. */
export function parseVary(arg: string): { path: string; values: string[] } {
  const a = parseAxis('--vary', arg, 'hypervisor.backend=trap,pv');
  return { path: a.path, values: a.values.map((v) => v.text) };
}

/**
 * The same scenario under each value of one key, with `run.replications` replications each;
 * replication k of a variant uses its seed run.seed + k (replicationSeeds: common random numbers
 * unless run.seed or run.replications is the varied key), so ratios are paired. Reports each VM's figure of merit with a 95 % confidence interval and its ratio to
 * the first variant. Every variant is checked, as `run` checks, before the first one runs.
 * `vary` is one `--vary` argument; a list of them must have exactly one (compare varies one key:
 * sweep takes several). `file` may be a recorded scenario (`ipilab rerun`). `onRun` is called as
 * each run ends; `onProgress` as each run advances, with the runs finished before it.
 */
export function compareScenario(
  file: ScenarioRef,
  sets: readonly SetArg[],
  vary: string | readonly string[],
  onRun?: (done: number, total: number) => void,
  onProgress?: (done: number, total: number, run: RunProgress) => void,
): CompareOutput {
  const varies = typeof vary === 'string' ? [vary] : vary;
  if (varies.length === 0) throw new ScenarioError('compare: expected --vary path=v1,v2,... e.g. hypervisor.backend=trap,pv');
  if (varies.length > 1) throw new ScenarioError(`--vary: given ${varies.length} times (${varies.join(' ')}); compare varies one key: give its values in one --vary, or use sweep --grid for several keys`);
  const axis = parseAxis('--vary', varies[0]!, 'hypervisor.backend=trap,pv');
  const path = axis.path;
  const { loaded } = checkPoints(file, sets, [axis], '--vary');
  const variants = axis.values.map((v, i) => ({ value: v.text, loaded: loaded[i]! }));
  const first = variants[0]!.loaded.scenario;
  const reps = first.run.replications;
  const seeds = replicationSeeds(first);
  const variantSeeds = variants.map((v) => replicationSeeds(v.loaded.scenario));
  const total = variantSeeds.reduce((n, x) => n + x.length, 0);
  let done = 0;
  const results = variants.map((v, i) =>
    variantSeeds[i]!.map((seed) => {
      const r = runWithSlowdown(v.loaded, seed, onProgress === undefined ? undefined : (p) => onProgress(done, total, p));
      onRun?.(++done, total);
      return r;
    }),
  );
  const base = results[0]!;
  return {
    scenario: first.name ?? scenarioFileOf(file),
    vary: path,
    replications: reps,
    seeds,
    variants: variants.map((v, i) => {
      const runs = results[i]!;
      const vms: Record<string, VariantFigure> = {};
      for (const name of Object.keys(runs[0]!.vms)) {
        const p = runs[0]!.vms[name]!.primary;
        const values = runs.map((r) => r.vms[name]!.primary.value);
        const baseValues = base.map((r) => r.vms[name]?.primary.value ?? NaN);
        const own = completeEstimate(values);
        const slow = runs.map((r) => r.vms[name]!.slowdownVsAlone);
        const native = runs.map((r) => r.vms[name]!.slowdownVsBareMetal);
        // Each picked figure paired with the first variant's same figure of the same VM, by seed.
        const metrics = metricEstimates(runs.map((r) => r.vms[name]!.metrics)).map((m): CompareMetric => {
          const mine = runs.map((r) => r.vms[name]!.metrics.find((x) => x.metric === m.metric)!.value);
          const theirs = base.map((r) => r.vms[name]?.metrics.find((x) => x.metric === m.metric)?.value ?? NaN);
          return { ...m, ratio: completeEstimate(mine.slice(0, theirs.length).map((x, k) => x / theirs[k]!)).estimate };
        });
        vms[name] = {
          figure: p.key,
          higherIsBetter: p.higherIsBetter,
          estimate: own.estimate,
          ratio: completeEstimate(values.slice(0, baseValues.length).map((x, k) => x / baseValues[k]!)).estimate,
          ...(own.incomplete > 0 ? { incomplete: own.incomplete } : {}),
          ...(slow.every((x) => x !== undefined) ? { slowdownVsAlone: completeEstimate(slow as number[]).estimate } : {}),
          ...(native.every((x) => x !== undefined) ? { slowdownVsBareMetal: completeEstimate(native as number[]).estimate } : {}),
          ...summarizeRanOn(runs.map((r) => r.vms[name]!.ranOn)),
          metrics,
        };
      }
      return { value: v.value, ...ownSeeds(variantSeeds[i]!, seeds), vms };
    }),
  };
}
