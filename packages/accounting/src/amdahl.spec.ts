import fc from 'fast-check';
import { amdahlCurve, amdahlSpeedup, compareWithAmdahl, serialFraction, slowdownVsAlone, sumLedgers } from './index';

describe('Amdahl analysis', () => {
  it('speedup is 1 on one processor, n with no serial work, and never beyond 1/s', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 4096 }), (s, n) => {
        expect(amdahlSpeedup(s, 1)).toBeCloseTo(1, 12);
        expect(amdahlSpeedup(0, n)).toBeCloseTo(n, 9);
        if (s > 0) expect(amdahlSpeedup(s, n)).toBeLessThanOrEqual(1 / s + 1e-9);
        expect(amdahlSpeedup(s, n + 1)).toBeGreaterThanOrEqual(amdahlSpeedup(s, n) - 1e-12);
      }),
    );
    const curve = amdahlCurve(0.1, [1, 10, 100]);
    expect(curve.map((p) => p.n)).toEqual([1, 10, 100]);
    [1, 1 / (0.1 + 0.09), 1 / (0.1 + 0.009)].forEach((x, i) => expect(curve[i]!.speedup).toBeCloseTo(x, 12));
  });

  it('measures the serial fraction as shootdown waiting over busy time', () => {
    const l = sumLedgers(0, [
      { vm: 0, vcpu: 0, guest: 60, handlingInterrupts: 10, shootdownWait: 20, exits: { 'apic-write': 10 }, serviceQueued: 0, hostOther: 0, halted: 500, preempted: 100, offline: 0, total: 700 },
    ]);
    expect(serialFraction(l)).toBeCloseTo(0.2, 12);
  });

  it('puts measured throughput beside the prediction, both relative to the smallest vCPU count', () => {
    const rows = compareWithAmdahl([
      { vcpus: 8, throughput: 700, serialFraction: 0.05 },
      { vcpus: 2, throughput: 200, serialFraction: 0.1 },
    ]);
    expect(rows.map((r) => r.vcpus)).toEqual([2, 8]);
    expect(rows[0]).toEqual({ vcpus: 2, measuredSpeedup: 1, predictedSpeedup: 1 });
    expect(rows[1]!.measuredSpeedup).toBe(3.5);
    expect(rows[1]!.predictedSpeedup).toBeCloseTo(amdahlSpeedup(0.1, 8) / amdahlSpeedup(0.1, 2), 12);
  });

  it('slowdown vs alone: alone/shared for rates, shared/alone for times, NaN without both', () => {
    expect(slowdownVsAlone(50, 100)).toBe(2);
    expect(slowdownVsAlone(3, 2, false)).toBe(1.5);
    expect(slowdownVsAlone(0, 100)).toBeNaN();
  });

  it('rejects a serial fraction outside [0, 1] or n below 1', () => {
    expect(() => amdahlSpeedup(1.5, 2)).toThrow('serial fraction: expected a number in [0, 1], got 1.5');
    expect(() => amdahlSpeedup(0.5, 0)).toThrow('n: expected a number >= 1, got 0');
  });
});
