import * as hdr from 'hdr-histogram-js';
import type { OperatorFunction } from 'rxjs';
import type { ModelEvent } from '@ipilab/events';
import { EMPTY_SUMMARY, type LatencySummary } from '@ipilab/core';
import { fromReducer, type EventReducer } from '../reducer';

export type { LatencySummary } from '@ipilab/core';

/** Per VM: IPI send-to-handler, whole cross-call, and shootdown duration. */
export interface LatencyDistributions {
  readonly ipiSendToHandler: LatencySummary;
  readonly wholeCall: LatencySummary;
  readonly shootdown: LatencySummary;
}

const KINDS = ['ipiSendToHandler', 'wholeCall', 'shootdown'] as const;
type Kind = (typeof KINDS)[number];

let wasm: boolean | undefined;

/** Whether hdr-histogram-js's WebAssembly build is usable here (instantiated once per thread). */
function wasmReady(): boolean {
  if (wasm === undefined) {
    try {
      hdr.initWebAssemblySync();
      wasm = true;
    } catch {
      wasm = false;
    }
  }
  return wasm;
}

/**
 * A latency histogram: 3 significant digits from 1 ns, growing as larger values arrive (a 2 ms
 * range at first, so short latencies need a small counts array). Built on hdr-histogram-js's
 * WebAssembly histogram where WebAssembly is available — it records about 5x faster than the
 * plain-JS one (~25 vs ~130 ns a value) — and on the plain-JS one otherwise; both bucket values
 * the same way and give the same summaries (a property test checks it). Free it with `destroy()`.
 */
export function latencyHistogram(engine: 'auto' | 'wasm' | 'js' = 'auto'): hdr.Histogram {
  const useWebAssembly = engine === 'wasm' || (engine === 'auto' && wasmReady());
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 2_097_152, autoResize: true, numberOfSignificantValueDigits: 3, useWebAssembly });
}

/**
 * A distribution's summary: percentiles and max from the histogram, and the mean exact from
 * `sum` when given (the histogram's own mean walks every bucket and is rounded to bucket values).
 * HdrHistogram reports a percentile as the highest value of its bucket, which can lie above the
 * largest value recorded (kept exactly): percentiles are capped at the maximum, so
 * p50 <= p90 <= p99 <= p999 <= max always holds.
 */
export function summarize(h: hdr.Histogram, sum?: number): LatencySummary {
  if (h.totalCount === 0) return EMPTY_SUMMARY;
  const max = h.maxValue;
  const at = (p: number): number => Math.min(h.getValueAtPercentile(p), max);
  return { count: h.totalCount, mean: sum === undefined ? h.mean : sum / h.totalCount, p50: at(50), p90: at(90), p99: at(99), p999: at(99.9), max };
}

/** A histogram and the exact sum of what it recorded. */
interface Recorder {
  readonly h: hdr.Histogram;
  sum: number;
}

export type Histograms = Record<Kind, Recorder>;

const recorder = (): Recorder => ({ h: latencyHistogram(), sum: 0 });

function histogramsOf(hs: Map<number, Histograms>, vm: number): Histograms {
  let h = hs.get(vm);
  if (h === undefined) hs.set(vm, (h = { ipiSendToHandler: recorder(), wholeCall: recorder(), shootdown: recorder() }));
  return h;
}

function record(r: Recorder, v: number): void {
  const x = Math.max(1, Math.round(v));
  r.h.recordValue(x);
  r.sum += x;
}

/** Latency distributions as a reducer (see `latencyDistributions`). */
export const latencyReducer: EventReducer<Map<number, Histograms>, Map<number, LatencyDistributions>> = {
  types: ['ipi-handled', 'cross-call-done', 'shootdown-end'],
  init: () => new Map(),
  step(hs, e) {
    if (e.type === 'ipi-handled') record(histogramsOf(hs, e.to.vm).ipiSendToHandler, e.sendToHandler);
    else if (e.type === 'cross-call-done') record(histogramsOf(hs, e.from.vm).wholeCall, e.duration);
    else if (e.type === 'shootdown-end') record(histogramsOf(hs, e.vcpu.vm).shootdown, e.duration);
  },
  result(hs) {
    const out = new Map<number, LatencyDistributions>();
    for (const [vm, h] of [...hs].sort((a, b) => a[0] - b[0])) {
      const sum = (r: Recorder): LatencySummary => summarize(r.h, r.sum);
      out.set(vm, { ipiSendToHandler: sum(h.ipiSendToHandler), wholeCall: sum(h.wholeCall), shootdown: sum(h.shootdown) });
      for (const k of KINDS) h[k].h.destroy();
    }
    return out;
  },
};

/**
 * Latency distributions per VM, recorded in HdrHistograms (hdr-histogram-js): emitted once
 * when the stream completes. Values are ns; the histograms keep 3 significant digits.
 */
export function latencyDistributions(): OperatorFunction<ModelEvent, Map<number, LatencyDistributions>> {
  return fromReducer(latencyReducer);
}
