// jstat ships no types; this is the one function used.
const { jStat } = require('jstat') as { jStat: { studentt: { inv(p: number, dof: number): number } } };

/** A replicated figure: mean, 95 % confidence interval and the replications' values. */
export interface Estimate {
  readonly mean: number;
  /** 95 % confidence interval (Student's t over replications); NaN bounds with one replication. */
  readonly ci95: readonly [number, number];
  readonly n: number;
}

/** Mean and 95 % confidence interval of independent replications. */
export function estimate(xs: readonly number[]): Estimate {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, ci95: [NaN, NaN], n };
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  const h = jStat.studentt.inv(0.975, n - 1) * (sd / Math.sqrt(n));
  return { mean, ci95: [mean - h, mean + h], n };
}
