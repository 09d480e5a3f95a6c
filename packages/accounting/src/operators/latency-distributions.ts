import * as hdr from 'hdr-histogram-js';
import { defer, map, reduce, type OperatorFunction } from 'rxjs';
import type { ModelEvent } from '@ipilab/events';

/** A latency distribution's summary, ns. */
export interface LatencySummary {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** Per VM: IPI send-to-handler, whole cross-call, and shootdown duration. */
export interface LatencyDistributions {
  readonly ipiSendToHandler: LatencySummary;
  readonly wholeCall: LatencySummary;
  readonly shootdown: LatencySummary;
}

const KINDS = ['ipiSendToHandler', 'wholeCall', 'shootdown'] as const;
type Kind = (typeof KINDS)[number];

function histogram(): hdr.Histogram {
  // 3 significant digits from 1 ns to ~17 minutes; plain JS (no WebAssembly) for determinism.
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 1e12, numberOfSignificantValueDigits: 3, useWebAssembly: false });
}

export function summarize(h: hdr.Histogram): LatencySummary {
  if (h.totalCount === 0) return { count: 0, mean: NaN, p50: NaN, p90: NaN, p99: NaN, max: NaN };
  return { count: h.totalCount, mean: h.mean, p50: h.getValueAtPercentile(50), p90: h.getValueAtPercentile(90), p99: h.getValueAtPercentile(99), max: h.maxValue };
}

/**
 * Latency distributions per VM, recorded in HdrHistograms (hdr-histogram-js): emitted once
 * when the stream completes. Values are ns; the histograms keep 3 significant digits.
 */
export function latencyDistributions(): OperatorFunction<ModelEvent, Map<number, LatencyDistributions>> {
  return (source) =>
    defer(() => {
      const hs = new Map<number, Record<Kind, hdr.Histogram>>();
      const get = (vm: number): Record<Kind, hdr.Histogram> => {
        let h = hs.get(vm);
        if (h === undefined) hs.set(vm, (h = { ipiSendToHandler: histogram(), wholeCall: histogram(), shootdown: histogram() }));
        return h;
      };
      const record = (h: hdr.Histogram, v: number): void => h.recordValue(Math.max(1, Math.round(v)));
      return source.pipe(
        reduce((acc, e: ModelEvent) => {
          if (e.type === 'ipi-handled') record(get(e.to.vm).ipiSendToHandler, e.sendToHandler);
          else if (e.type === 'cross-call-done') record(get(e.from.vm).wholeCall, e.duration);
          else if (e.type === 'shootdown-end') record(get(e.vcpu.vm).shootdown, e.duration);
          return acc;
        }, 0),
        map(() => {
          const out = new Map<number, LatencyDistributions>();
          for (const [vm, h] of [...hs].sort((a, b) => a[0] - b[0])) {
            out.set(vm, { ipiSendToHandler: summarize(h.ipiSendToHandler), wholeCall: summarize(h.wholeCall), shootdown: summarize(h.shootdown) });
            for (const k of KINDS) h[k].destroy();
          }
          return out;
        }),
      );
    });
}
