/**
 * A latency distribution's summary, ns: how many values, their exact mean, the 50th, 90th, 99th
 * and 99.9th percentiles and the maximum. Percentiles are nearest-rank (the smallest value with at
 * least q of the values at or below it), as HdrHistogram's `getValueAtPercentile` gives them, so a
 * summary from a histogram and one from the values themselves mean the same thing. Always
 * p50 <= p90 <= p99 <= p999 <= max. With no values every figure is NaN (JSON: null) and count 0.
 */
export interface LatencySummary {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  /** The 99.9th percentile (`p99.9` in a metric). */
  readonly p999: number;
  readonly max: number;
}

/** The percentiles a summary has, as fractions, by field. */
export const SUMMARY_PERCENTILES = { p50: 0.5, p90: 0.9, p99: 0.99, p999: 0.999 } as const;

/** The summary of no values. */
export const EMPTY_SUMMARY: LatencySummary = { count: 0, mean: NaN, p50: NaN, p90: NaN, p99: NaN, p999: NaN, max: NaN };

/**
 * Nearest rank of fraction q among n sorted values (0-based): ceil(q n) - 1, at least 0. Like
 * HdrHistogram, q n is rounded up only past its last bit of error (0.999 x 1000 is 998.99...9).
 */
export function nearestRank(q: number, n: number): number {
  const x = q * n;
  return Math.min(n - 1, Math.max(0, Math.ceil(x - x * Number.EPSILON) - 1));
}

/** The exact summary of a list of values (ns); sorts a copy, so the caller's order is kept. */
export function summarizeValues(values: ArrayLike<number>): LatencySummary {
  const n = values.length;
  if (n === 0) return EMPTY_SUMMARY;
  const s = Float64Array.from(values).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += s[i]!;
  const at = (q: number): number => s[nearestRank(q, n)]!;
  return { count: n, mean: sum / n, p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: s[n - 1]! };
}
