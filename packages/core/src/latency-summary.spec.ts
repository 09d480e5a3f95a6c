import fc from 'fast-check';
import { nearestRank, summarizeValues } from './latency-summary';

describe('summarizeValues', () => {
  it('gives nearest-rank percentiles: of 1..1000, p50 500, p90 900, p99 990, p99.9 999', () => {
    const s = summarizeValues(Array.from({ length: 1000 }, (_, i) => 1000 - i));
    expect(s).toEqual({ count: 1000, mean: 500.5, p50: 500, p90: 900, p99: 990, p999: 999, max: 1000 });
  });

  it('rounds q n up only past its rounding error (0.999 x 1000 reads 998.99..., rank 999 not 1000)', () => {
    expect(nearestRank(0.999, 1000)).toBe(998);
    expect(nearestRank(0.5, 3)).toBe(1);
    expect(nearestRank(0.99, 1)).toBe(0);
  });

  it('of no values is NaN throughout with count 0', () => {
    const s = summarizeValues([]);
    expect(s.count).toBe(0);
    expect([s.mean, s.p50, s.p999, s.max].every(Number.isNaN)).toBe(true);
  });

  it('is ordered and within the values: min <= p50 <= p90 <= p99 <= p99.9 <= max, and leaves its input as it was (law)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2 ** 40 }), { minLength: 1, maxLength: 500 }), (xs) => {
        const copy = [...xs];
        const s = summarizeValues(xs);
        expect(xs).toEqual(copy);
        expect(s.p50).toBeGreaterThanOrEqual(Math.min(...xs));
        expect(s.p50).toBeLessThanOrEqual(s.p90);
        expect(s.p90).toBeLessThanOrEqual(s.p99);
        expect(s.p99).toBeLessThanOrEqual(s.p999);
        expect(s.p999).toBeLessThanOrEqual(s.max);
        expect(s.max).toBe(Math.max(...xs));
        // At least a fraction q of the values are at or below the q-th percentile, and fewer below it.
        for (const [q, v] of [[0.5, s.p50], [0.9, s.p90], [0.99, s.p99], [0.999, s.p999]] as const) {
          expect(xs.filter((x) => x <= v).length).toBeGreaterThanOrEqual(Math.ceil(q * xs.length - 1e-9));
          expect(xs.filter((x) => x < v).length).toBeLessThan(Math.ceil(q * xs.length - 1e-9));
        }
      }),
    );
  });
});
