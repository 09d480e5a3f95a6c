import { Session } from 'node:inspector';

/**
 * Mean bytes between two samples of V8's sampling heap profiler. Each sample stands for about
 * this many bytes allocated, so a run of 10^8 events at ~700 bytes an event keeps ~70,000
 * samples (a few MiB, counted in the run's peak RSS) and its total is within about 1 %.
 */
export const SAMPLING_INTERVAL_BYTES = 1 << 20;

/** What a sampled run allocated: an estimate, from samples. */
export interface AllocationEstimate {
  /** Bytes allocated on the JS heap while sampling, collected or not (estimated). */
  readonly bytes: number;
  readonly samples: number;
}

interface ProfileNode {
  readonly selfSize: number;
  readonly children: readonly ProfileNode[];
}

/**
 * Counts the bytes a stretch of code allocates on the V8 heap, with V8's sampling heap profiler
 * (node:inspector, HeapProfiler.startSampling): objects collected by minor and major GCs are
 * kept in the profile (includeObjectsCollectedByMinorGC/MajorGC), so its total is what was
 * allocated, not what is still alive. The profiler scales each sample to the bytes it stands
 * for, so the nodes' self sizes add up to an estimate of the bytes allocated (checked against
 * a loop of known allocations: 185 bytes an iteration measured for 184 expected). Node 20 has
 * no exact cumulative counter (v8.getHeapStatistics() reports what is in use, not what was
 * allocated). Typed-array and Buffer backing stores outside the heap are not counted.
 */
export class AllocationSampler {
  private readonly session = new Session();

  private post<T>(method: string, params?: object): Promise<T> {
    return new Promise((resolve, reject) => this.session.post(method, params, (err, r) => (err === null ? resolve(r as T) : reject(err))));
  }

  async start(intervalBytes = SAMPLING_INTERVAL_BYTES): Promise<void> {
    this.session.connect();
    await this.post('HeapProfiler.enable');
    await this.post('HeapProfiler.startSampling', { samplingInterval: intervalBytes, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  }

  async stop(): Promise<AllocationEstimate> {
    const { profile } = await this.post<{ profile: { head: ProfileNode; samples: readonly unknown[] } }>('HeapProfiler.stopSampling');
    this.session.disconnect();
    let bytes = 0;
    const stack: ProfileNode[] = [profile.head];
    for (let n = stack.pop(); n !== undefined; n = stack.pop()) {
      bytes += n.selfSize;
      stack.push(...n.children);
    }
    return { bytes, samples: profile.samples.length };
  }
}
