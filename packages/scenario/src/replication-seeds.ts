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
