const UNITS: Record<string, number> = { ns: 1, us: 1_000, µs: 1_000, ms: 1_000_000, s: 1_000_000_000 };
const PATTERN = /^\s*(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s)\s*$/;

/** A duration written "250us", "20 ms", "1.5s" or as a number of ns; undefined if not one. */
export function parseDuration(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? Math.round(v) : undefined;
  if (typeof v !== 'string') return undefined;
  const m = PATTERN.exec(v);
  if (m === null) return undefined;
  return Math.round(Number(m[1]) * UNITS[m[2]!]!);
}
