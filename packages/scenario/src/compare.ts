import { loadScenario, parseValueList } from './load';
import { summarizeRanOn, type RanOnSummary } from './ran-on';
import { runWithSlowdown } from './slowdown';
import { estimate, type Estimate } from './statistics';

/** `ranOn` and `pcpusUsed` (RanOnSummary): where the VM's vCPU threads ran, over the replications. */
export interface VariantFigure extends RanOnSummary {
  readonly figure: string;
  readonly higherIsBetter: boolean;
  readonly estimate: Estimate;
  /** Paired ratio to the first variant's value, per replication (common random numbers). */
  readonly ratio: Estimate;
  readonly slowdownVsAlone?: Estimate;
  /** With run.slowdownVsBareMetal: the figure against the same VM alone on bare metal, per replication. */
  readonly slowdownVsBareMetal?: Estimate;
}

export interface CompareOutput {
  readonly scenario: string;
  readonly vary: string;
  readonly replications: number;
  readonly seeds: readonly number[];
  readonly variants: readonly { readonly value: unknown; readonly vms: Record<string, VariantFigure> }[];
}

/** Parses `--vary path=v1,v2,...`. */
export function parseVary(arg: string): { path: string; values: string[] } {
  return parseValueList('--vary', arg, 'hypervisor.backend=trap,pv');
}

/**
 * The same scenario under each value of one key, with `run.replications` replications each;
 * replication k of every variant uses seed run.seed + k (common random numbers), so ratios are
 * paired. Reports each VM's figure of merit with a 95 % confidence interval and its ratio to
 * the first variant.
 */
export function compareScenario(file: string, sets: readonly string[], vary: string, onRun?: (done: number, total: number) => void): CompareOutput {
  const { path, values } = parseVary(vary);
  const variants = values.map((v) => ({ value: v, loaded: loadScenario(file, [...sets, `${path}=${v}`], `${file} (${path}=${v})`) }));
  const first = variants[0]!.loaded.scenario;
  const reps = first.run.replications;
  const seeds = Array.from({ length: reps }, (_, k) => first.run.seed + k);
  const total = variants.length * reps;
  let done = 0;
  const results = variants.map((v) =>
    seeds.map((seed) => {
      const r = runWithSlowdown(v.loaded, seed);
      onRun?.(++done, total);
      return r;
    }),
  );
  const base = results[0]!;
  return {
    scenario: first.name ?? file,
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
        const slow = runs.map((r) => r.vms[name]!.slowdownVsAlone);
        const native = runs.map((r) => r.vms[name]!.slowdownVsBareMetal);
        vms[name] = {
          figure: p.key,
          higherIsBetter: p.higherIsBetter,
          estimate: estimate(values),
          ratio: estimate(values.map((x, k) => x / baseValues[k]!)),
          ...(slow.every((x) => x !== undefined) ? { slowdownVsAlone: estimate(slow as number[]) } : {}),
          ...(native.every((x) => x !== undefined) ? { slowdownVsBareMetal: estimate(native as number[]) } : {}),
          ...summarizeRanOn(runs.map((r) => r.vms[name]!.ranOn)),
        };
      }
      return { value: v.value, vms };
    }),
  };
}
