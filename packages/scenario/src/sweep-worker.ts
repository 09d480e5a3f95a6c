import { serialFraction } from '@ipilab/accounting';
import { loadScenario } from './load';
import { runWithSlowdown } from './compare';

export interface SweepTask {
  readonly file: string;
  readonly sets: readonly string[];
  readonly seed: number;
  readonly point: number;
}

export interface SweepTaskResult {
  readonly point: number;
  readonly seed: number;
  readonly error?: string;
  readonly events?: number;
  readonly vms?: Record<string, { figure: string; value: number; higherIsBetter: boolean; serialFraction: number; slowdownVsAlone?: number }>;
}

/** One sweep run, in a worker thread: small results back, never the whole output. */
export default function runSweepTask(t: SweepTask): SweepTaskResult {
  const out = runWithSlowdown(loadScenario(t.file, t.sets), t.seed);
  const vms: NonNullable<SweepTaskResult['vms']> = {};
  for (const [name, v] of Object.entries(out.vms)) {
    const l = v.ledger;
    vms[name] = {
      figure: v.primary.key,
      value: v.primary.value,
      higherIsBetter: v.primary.higherIsBetter,
      serialFraction: serialFraction({ ...l, vm: 0, ipisSent: {}, exitCounts: {}, hypercalls: 0, shootdowns: 0 }),
      ...(v.slowdownVsAlone === undefined ? {} : { slowdownVsAlone: v.slowdownVsAlone }),
    };
  }
  return { point: t.point, seed: t.seed, vms, events: out.events };
}
