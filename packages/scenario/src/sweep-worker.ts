import { randomUUID } from 'node:crypto';
import { getHeapStatistics } from 'node:v8';
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
  /** The thread that ran it and its heap so far (a measurement: it differs from one sweep to the next). */
  readonly worker?: WorkerHeapSample;
}

/** A worker thread's V8 heap, the largest seen as any of its runs ended. */
export interface WorkerHeapSample {
  /** Which thread: unique across threads, processes and machines (a queue's workers). */
  readonly id: string;
  /** The isolate's heap (V8 total_heap_size: what the thread holds, live objects and free space), bytes. */
  readonly heapBytes: number;
  /** Its live and not yet collected objects (V8 used_heap_size), bytes. */
  readonly usedBytes: number;
}

// Each thread loads this module once: its own id and peaks. A random id, not threadId: a queue's
// workers on several machines have the same thread ids. (Not the model: no seed is involved.)
const thread = { id: randomUUID(), heapBytes: 0, usedBytes: 0 };

/** This thread's heap, with the run just ended still reachable: the largest figures so far. */
function heapSample(): WorkerHeapSample {
  const h = getHeapStatistics();
  thread.heapBytes = Math.max(thread.heapBytes, h.total_heap_size);
  thread.usedBytes = Math.max(thread.usedBytes, h.used_heap_size);
  return { ...thread };
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
  return { point: t.point, seed: t.seed, vms, events: out.events, worker: heapSample() };
}
