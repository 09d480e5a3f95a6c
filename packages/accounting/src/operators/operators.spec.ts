import { TestScheduler } from 'rxjs/testing';
import { from } from 'rxjs';
import type { ModelEvent } from '@ipilab/events';
import fc from 'fast-check';
import { summarizeValues } from '@ipilab/core';
import { interferenceMatrix, latencyDistributions, latencyHistogram, ofType, summarize, vcpuLedgers, windowedSeries, type LatencyDistributions } from '../index';

const v = (vm: number, vcpu: number) => ({ vm, vcpu });
const ts = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('ofType', () => {
  it('passes only events of the asked type', () => {
    ts().run(({ cold, expectObservable }) => {
      const a: ModelEvent = { type: 'ipi-sent', t: 1, id: 0, from: v(0, 0), targets: [1], kind: 'unicast', vector: 0xfb };
      const b: ModelEvent = { type: 'vm-exit', t: 2, vcpu: v(0, 0), reason: 'hlt', cost: 5 };
      expectObservable(cold('a-b-a|', { a, b }).pipe(ofType('ipi-sent'))).toBe('a---a|', { a });
    });
  });
});

describe('vcpuLedgers', () => {
  it("partitions a vCPU's life into guest, handlers, shootdown wait, exits by reason, service queueing, halted and preempted", () => {
    const r = v(0, 3);
    const events: Record<string, ModelEvent> = {
      a: { type: 'vcpu-state', t: 0, vcpu: r, from: 'offline', to: 'preempted', pcpu: 1 },
      b: { type: 'vcpu-state', t: 10, vcpu: r, from: 'preempted', to: 'in-guest', pcpu: 1 },
      c: { type: 'handler-begin', t: 20, vcpu: r, vector: 0xfb },
      d: { type: 'handler-end', t: 30, vcpu: r, vector: 0xfb },
      e: { type: 'vcpu-state', t: 40, vcpu: r, from: 'in-guest', to: 'exited', pcpu: 1 },
      f: { type: 'service-queued', t: 50, vcpu: r, waited: 5, behind: { 1: 5 } },
      g: { type: 'vm-exit', t: 60, vcpu: r, reason: 'apic-write', cost: 20 },
      h: { type: 'vcpu-state', t: 60, vcpu: r, from: 'exited', to: 'in-guest', pcpu: 1 },
      i: { type: 'shootdown-begin', t: 70, id: 0, vcpu: r, pages: 1, strategy: 'sync' },
      j: { type: 'shootdown-end', t: 90, id: 0, vcpu: r, duration: 20 },
      k: { type: 'vcpu-state', t: 100, vcpu: r, from: 'in-guest', to: 'halted', pcpu: 1 },
      l: { type: 'run-end', t: 150 },
    };
    ts().run(({ cold, expectObservable }) => {
      const expected = new Map([
        [
          '0.3',
          { vm: 0, vcpu: 3, guest: 40, handlingInterrupts: 10, shootdownWait: 20, exits: { 'apic-write': 15 }, serviceQueued: 5, hostOther: 0, halted: 50, preempted: 10, offline: 0, total: 150 },
        ],
      ]);
      expectObservable(cold('abcdefghijkl|', events).pipe(vcpuLedgers())).toBe('------------(x|)', { x: expected });
    });
  });

  it('puts host time outside a completed exit (entry after a wake-up) in hostOther', () => {
    const r = v(1, 0);
    const events: Record<string, ModelEvent> = {
      a: { type: 'vcpu-state', t: 0, vcpu: r, from: 'offline', to: 'halted', pcpu: 0 },
      b: { type: 'vcpu-state', t: 100, vcpu: r, from: 'halted', to: 'exited', pcpu: 0 },
      c: { type: 'vcpu-state', t: 130, vcpu: r, from: 'exited', to: 'in-guest', pcpu: 0 },
      d: { type: 'run-end', t: 200 },
    };
    ts().run(({ cold, expectObservable }) => {
      const x = new Map([['1.0', { vm: 1, vcpu: 0, guest: 70, handlingInterrupts: 0, shootdownWait: 0, exits: {}, serviceQueued: 0, hostOther: 30, halted: 100, preempted: 0, offline: 0, total: 200 }]]);
      expectObservable(cold('abcd|', events).pipe(vcpuLedgers())).toBe('----(x|)', { x });
    });
  });
});

describe('interferenceMatrix', () => {
  it("charges a preempted vCPU's wait to whoever runs on its pCPU, and service waits to the holders", () => {
    const a = v(0, 0);
    const b = v(1, 0);
    const events: Record<string, ModelEvent> = {
      p: { type: 'vcpu-state', t: 0, vcpu: b, from: 'offline', to: 'in-guest', pcpu: 2 },
      q: { type: 'vcpu-state', t: 0, vcpu: a, from: 'offline', to: 'preempted', pcpu: 2 },
      r: { type: 'vcpu-state', t: 30, vcpu: b, from: 'in-guest', to: 'preempted', pcpu: 2 },
      s: { type: 'vcpu-state', t: 34, vcpu: a, from: 'preempted', to: 'in-guest', pcpu: 2 },
      t: { type: 'service-queued', t: 40, vcpu: b, waited: 7, behind: { 0: 7 } },
      u: { type: 'run-end', t: 50 },
    };
    ts().run(({ cold, expectObservable }) => {
      const x = {
        vms: [0, 1],
        behind: { 0: { 0: 0, 1: 30 }, 1: { 0: 7 + 16, 1: 0 } },
        switching: { 0: 4, 1: 4 },
        waited: { 0: 34, 1: 7 + 20 },
      };
      expectObservable(cold('pqrstu|', events).pipe(interferenceMatrix())).toBe('------(x|)', { x });
    });
  });
});

describe('latencyDistributions', () => {
  it('summarises send-to-handler, whole-call and shootdown times per VM from HdrHistograms (exact below 2,048 ns at 3 significant digits)', () => {
    const handled = (t: number, s2h: number): ModelEvent => ({ type: 'ipi-handled', t, id: t, to: v(0, 1), latency: s2h + 10, sendToHandler: s2h });
    const events: Record<string, ModelEvent> = {
      a: handled(1, 100),
      b: handled(2, 200),
      c: handled(3, 300),
      d: { type: 'cross-call-done', t: 4, id: 1, from: v(0, 0), targets: 1, duration: 1_000 },
      e: { type: 'shootdown-end', t: 5, id: 0, vcpu: v(2, 0), duration: 2_000 },
    };
    ts().run(({ cold, expectObservable }) => {
      const nan = { count: 0, mean: NaN, p50: NaN, p90: NaN, p99: NaN, p999: NaN, max: NaN };
      const x = new Map([
        [0, { ipiSendToHandler: { count: 3, mean: 200, p50: 200, p90: 300, p99: 300, p999: 300, max: 300 }, wholeCall: { count: 1, mean: 1_000, p50: 1_000, p90: 1_000, p99: 1_000, p999: 1_000, max: 1_000 }, shootdown: nan }],
        [2, { ipiSendToHandler: nan, wholeCall: nan, shootdown: { count: 1, mean: 2_000, p50: 2_000, p90: 2_000, p99: 2_000, p999: 2_000, max: 2_000 } }],
      ]);
      expectObservable(cold('abcde|', events).pipe(latencyDistributions())).toBe('-----(x|)', { x });
    });
  });

  it('gives the exact mean above 2,048 ns, where the histogram keeps values to 3 significant digits, and grows past its first range', () => {
    const values = [3_001, 3_003, 10_007, 5_000_000_001];
    const events = values.map((d, i): ModelEvent => ({ type: 'cross-call-done', t: i, id: i, from: v(1, 0), targets: 1, duration: d }));
    let out: Map<number, LatencyDistributions> | undefined;
    from(events).pipe(latencyDistributions()).subscribe((x) => (out = x));
    const w = out!.get(1)!.wholeCall;
    expect(w.mean).toBe(values.reduce((a, b) => a + b, 0) / values.length);
    expect(w.count).toBe(4);
    // p50 is the second value's bucket: within 0.1 %, not exact.
    expect(Math.abs(w.p50 - 3_003) / 3_003).toBeLessThan(1e-3);
    expect(Math.abs(w.max - 5_000_000_001) / 5_000_000_001).toBeLessThan(1e-3);
  });
});

describe('windowedSeries', () => {
  it('emits per-VM rows for each tumbling window of simulated time when the next window starts and at completion', () => {
    const events: Record<string, ModelEvent> = {
      a: { type: 'ipi-sent', t: 10, id: 0, from: v(0, 0), targets: [1, 2], kind: 'multicast', vector: 0xfc },
      b: { type: 'vm-exit', t: 50, vcpu: v(0, 0), reason: 'apic-write', cost: 5 },
      c: { type: 'ipi-sent', t: 120, id: 1, from: v(1, 0), targets: [1], kind: 'unicast', vector: 0xfb },
      d: { type: 'shootdown-end', t: 130, id: 0, vcpu: v(0, 2), duration: 40 },
    };
    const row = (vm: number, windowStart: number, o: object) => ({ vm, windowStart, ipisSent: 0, ipisHandled: 0, exits: 0, exitNs: 0, shootdowns: 0, shootdownNs: 0, serviceQueuedNs: 0, ...o });
    ts().run(({ cold, expectObservable }) => {
      expectObservable(cold('a-b-c-d|', events).pipe(windowedSeries(100))).toBe('----x--(yz|)', {
        x: row(0, 0, { ipisSent: 1, exits: 1, exitNs: 5 }),
        y: row(0, 100, { shootdowns: 1, shootdownNs: 40 }),
        z: row(1, 100, { ipisSent: 1 }),
      });
    });
  });

  it('refuses a window that is not a positive integer', () => {
    expect(() => windowedSeries(0)).toThrow('windowNs: expected a positive integer number of ns, got 0');
  });
});

describe('latency histograms', () => {
  it('summaries are consistent: p50 <= p90 <= p99 <= p99.9 <= max, max the largest value recorded, every percentile within [min, max] (law)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: 1, max: 5_000 }), fc.integer({ min: 1, max: 2 ** 40 })), { minLength: 1, maxLength: 300 }), (values) => {
        const h = latencyHistogram();
        for (const v of values) h.recordValue(v);
        const s = summarize(h);
        h.destroy();
        const max = Math.max(...values);
        const min = Math.min(...values);
        expect(s.max).toBe(max);
        expect(s.p50).toBeLessThanOrEqual(s.p90);
        expect(s.p90).toBeLessThanOrEqual(s.p99);
        expect(s.p99).toBeLessThanOrEqual(s.p999);
        expect(s.p999).toBeLessThanOrEqual(s.max);
        // Within the histogram's precision (3 significant digits) of the values recorded.
        expect(s.p50).toBeGreaterThanOrEqual(min * 0.999);
      }),
      { numRuns: 300 },
    );
  });

  it('a histogram\'s summary is the exact summary of the values to the histogram\'s precision: same count, mean and max, each percentile the same nearest rank (law)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: 1, max: 5_000 }), fc.integer({ min: 1, max: 2 ** 40 })), { minLength: 1, maxLength: 2_000 }), (values) => {
        const h = latencyHistogram();
        let sum = 0;
        for (const v of values) {
          h.recordValue(v);
          sum += v;
        }
        const s = summarize(h, sum);
        h.destroy();
        const exact = summarizeValues(values);
        expect([s.count, s.mean, s.max]).toEqual([exact.count, exact.mean, exact.max]);
        // 3 significant digits: a bucket spans at most 1/1024 of its values (HdrHistogram's sub-buckets).
        for (const q of ['p50', 'p90', 'p99', 'p999'] as const) expect(Math.abs(s[q] - exact[q])).toBeLessThanOrEqual(exact[q] / 1024 + 1);
      }),
      { numRuns: 200 },
    );
  });

  it('a percentile never reads above the maximum: values sharing the top bucket (p99 once came out above max)', () => {
    const h = latencyHistogram();
    for (let i = 0; i < 100; i++) h.recordValue(10_001);
    h.recordValue(10_002);
    const s = summarize(h);
    h.destroy();
    expect(s.max).toBe(10_002);
    expect(s.p99).toBeLessThanOrEqual(10_002);
  });

  it('summarise the same on the WebAssembly and the plain-JS build, whatever the values', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: 1, max: 5_000 }), fc.integer({ min: 1, max: 2 ** 40 })), { minLength: 1, maxLength: 300 }), (values) => {
        const [w, j] = [latencyHistogram('wasm'), latencyHistogram('js')];
        for (const v of values) {
          w.recordValue(v);
          j.recordValue(v);
        }
        const sum = values.reduce((a, b) => a + b, 0);
        expect(summarize(w, sum)).toEqual(summarize(j, sum));
        w.destroy();
        j.destroy();
      }),
      { numRuns: 200 },
    );
  });
});
