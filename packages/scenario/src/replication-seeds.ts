import type { Scenario } from './schema';

/**
 * The seeds a point of a compare or sweep runs: replication k uses the point's own `run.seed + k`,
 * `run.replications` of them. A `--vary`/`--grid` axis over run.seed or run.replications gives
 * each point its own; points whose seeds agree share them (common random numbers across the
 * other axes).
 */
export function replicationSeeds(s: Scenario): number[] {
  return Array.from({ length: s.run.replications }, (_, k) => s.run.seed + k);
}

/**
 * A point's `seeds` field for an output: present only when the point ran other seeds than the
 * output's top-level `seeds` (the first point's), so outputs where every point ran the same
 * seeds keep their shape.
 */
export function ownSeeds(seeds: readonly number[], first: readonly number[]): { seeds?: number[] } {
  return seeds.length === first.length && seeds.every((x, k) => x === first[k]) ? {} : { seeds: [...seeds] };
}

/**
 * The seeds for a summary line: `seeds 1, 2` when every point or variant ran the output's seeds;
 * else what each ran (compare: per variant; sweep: that they differ, each point's being in --json).
 */
export function seedsText(out: { readonly seeds: readonly number[]; readonly variants?: readonly { readonly value: unknown; readonly seeds?: readonly number[] }[]; readonly points?: readonly { readonly seeds?: readonly number[] }[] }): string {
  const own = (out.variants ?? out.points ?? []).some((p) => p.seeds !== undefined);
  if (!own) return `seeds ${out.seeds.join(', ')}`;
  if (out.variants !== undefined) return `seeds per variant: ${out.variants.map((v) => `${String(v.value)}: ${(v.seeds ?? out.seeds).join(', ')}`).join('; ')}`;
  return `seeds differ by point (run.seed or run.replications is an axis; each point's are in --json), the first point's ${out.seeds.join(', ')}`;
}
