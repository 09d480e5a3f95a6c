import { serialFraction } from '@ipilab/accounting';
import type { LoadedScenario } from './load';
import type { MetricSample } from './metrics';
import type { RanOn } from './ran-on';
import { runWithSlowdown } from './slowdown';

/** One run of a sweep: a point's checked scenario and one of its seeds. */
export interface SweepTask {
  /** The point's scenario, validated by the main thread (plain data: it crosses to the worker by structured clone). */
  readonly loaded: LoadedScenario;
  readonly seed: number;
  readonly point: number;
}

/** What one sweep run gives back: each VM's figures, or the run's error (one line). */
export interface SweepTaskResult {
  readonly point: number;
  readonly seed: number;
  readonly error?: string;
  readonly events?: number;
  readonly vms?: Record<string, { figure: string; value: number; higherIsBetter: boolean; serialFraction: number; slowdownVsAlone?: number; slowdownVsBareMetal?: number; ranOn: RanOn; metrics: MetricSample[] }>;
}

/** One sweep run, in a worker thread: small results back, never the whole output. */
export default function runSweepTask(t: SweepTask): SweepTaskResult {
  const out = runWithSlowdown(t.loaded, t.seed);
  const vms: NonNullable<SweepTaskResult['vms']> = {};
  for (const [name, v] of Object.entries(out.vms)) {
    const l = v.ledger;
    vms[name] = {
      figure: v.primary.key,
      value: v.primary.value,
      higherIsBetter: v.primary.higherIsBetter,
      serialFraction: serialFraction(l),
      ...(v.slowdownVsAlone === undefined ? {} : { slowdownVsAlone: v.slowdownVsAlone }),
      ...(v.slowdownVsBareMetal === undefined ? {} : { slowdownVsBareMetal: v.slowdownVsBareMetal }),
      ranOn: v.ranOn,
      metrics: v.metrics.map(({ incomplete: _i, ...m }) => m),
    };
  }
  return { point: t.point, seed: t.seed, vms, events: out.events };
}
