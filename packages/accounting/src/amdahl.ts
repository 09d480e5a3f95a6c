import { busyNs, type LedgerCategories } from './operators/vcpu-ledgers';

/**
 * The serial fraction of a VM's run, measured: time its vCPUs spent in global synchronisation
 * (as shootdown initiators waiting for every target) over the time they were busy (not halted,
 * preempted or offline). Amdahl's law treats that fraction as what no added vCPU can shorten.
 */
export function serialFraction(l: LedgerCategories): number {
  const busy = busyNs(l);
  return busy > 0 ? l.shootdownWait / busy : 0;
}

/** Amdahl's law: speedup on n processors of work whose serial fraction is s. */
export function amdahlSpeedup(s: number, n: number): number {
  if (!(s >= 0 && s <= 1)) throw new RangeError(`serial fraction: expected a number in [0, 1], got ${s}`);
  if (!(n >= 1)) throw new RangeError(`n: expected a number >= 1, got ${n}`);
  return 1 / (s + (1 - s) / n);
}

/** The predicted speedup curve for each n. */
export function amdahlCurve(s: number, ns: readonly number[]): { n: number; speedup: number }[] {
  return ns.map((n) => ({ n, speedup: amdahlSpeedup(s, n) }));
}

/**
 * Measured throughput beside Amdahl's prediction for a vCPU-count sweep. Both are relative to
 * the smallest vCPU count; the prediction uses the serial fraction measured at that point.
 */
export function compareWithAmdahl(points: readonly { vcpus: number; throughput: number; serialFraction: number }[]): {
  vcpus: number;
  measuredSpeedup: number;
  predictedSpeedup: number;
}[] {
  if (points.length === 0) return [];
  const sorted = [...points].sort((a, b) => a.vcpus - b.vcpus);
  const base = sorted[0]!;
  const s = base.serialFraction;
  return sorted.map((p) => ({
    vcpus: p.vcpus,
    measuredSpeedup: p.throughput / base.throughput,
    predictedSpeedup: amdahlSpeedup(s, p.vcpus) / amdahlSpeedup(s, base.vcpus),
  }));
}

/**
 * How much slower a VM ran beside others than alone (1 = not at all), from a figure of merit
 * measured both ways with common random numbers. For a rate (higher is better) that is
 * alone / shared; for a time (lower is better) shared / alone.
 */
export function slowdownVsAlone(shared: number, alone: number, higherIsBetter = true): number {
  if (!(shared > 0 && alone > 0)) return NaN;
  return higherIsBetter ? alone / shared : shared / alone;
}
