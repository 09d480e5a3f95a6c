import { checkAxesDistinct, pointOverrides, type Axis } from './axes';
import { ScenarioError } from './errors';
import { checkSource, toOverride, type LoadedScenario, type SetArg } from './load';
import { checkingHeapBytes, checkingProblem, pointsProblem } from './resource-guard';
import { sourceOf, type ScenarioRef } from './scenario-source';

/** Every combination of the axes' value indexes, first axis slowest. */
export function pointIndexes(axes: readonly Axis[]): number[][] {
  let points: number[][] = [[]];
  for (const a of axes) points = points.flatMap((p) => a.values.map((_, i) => [...p, i]));
  return points;
}

/** `path=value` of each axis at a point, for labels and outputs. */
export function pointParams(axes: readonly Axis[], point: readonly number[]): Record<string, string> {
  return Object.fromEntries(axes.map((a, i) => [a.path, a.values[point[i]!]!.text]));
}

/** Points listed in one problem line before the rest are only counted. */
const LISTED_POINTS = 8;

/**
 * Checks every point of a comparison or a grid before anything runs: the file, the `--set`
 * overrides, then the point's values, with every check a run makes (checkSource). All problems
 * of all points come back in one ScenarioError, one line per problem: a problem every point has
 * once, one only some points have with the points named. `file` may be a recorded scenario.
 */
export function checkPoints(file: ScenarioRef, sets: readonly SetArg[], axes: readonly Axis[], flag: string): { points: number[][]; loaded: LoadedScenario[] } {
  const setOverrides = sets.map(toOverride);
  checkAxesDistinct(axes, setOverrides, flag);
  const src = sourceOf(file);
  const points = pointIndexes(axes);
  const byLine = new Map<string, number[]>();
  const loaded: LoadedScenario[] = [];
  let kept = 0;
  points.forEach((pt, k) => {
    const r = checkSource(src, [...setOverrides, ...pointOverrides(axes, pt)]);
    if (r.loaded !== undefined) {
      loaded.push(r.loaded);
      kept += checkingHeapBytes(r.loaded.scenario);
      const tooMany = checkingProblem(loaded[0]!.scenario, kept, k + 1, points.length, flag);
      if (tooMany !== undefined) throw tooMany;
    }
    for (const line of r.lines) byLine.set(line, [...(byLine.get(line) ?? []), k]);
  });
  if (byLine.size === 0) {
    const tooLarge = pointsProblem(loaded.map((l) => l.scenario), flag === '--vary' ? 'compare' : 'sweep');
    if (tooLarge !== undefined) throw tooLarge;
    return { points, loaded };
  }
  const label = (k: number): string =>
    Object.entries(pointParams(axes, points[k]!))
      .map(([p, v]) => `${p}=${v}`)
      .join(', ');
  const lines = [...byLine].map(([line, ks]) => {
    if (ks.length === points.length) return line;
    // The values all these points share, when they are exactly the points with those values:
    // the problem comes with them (`at every point with hypervisor.backend=x`).
    const shared = axes.map((_, i) => i).filter((i) => ks.every((k) => points[k]![i] === points[ks[0]!]![i]));
    const withShared = points.filter((pt) => shared.every((i) => pt[i] === points[ks[0]!]![i])).length;
    if (shared.length > 0 && withShared === ks.length) {
      const values = shared.map((i) => axes[i]!.values[points[ks[0]!]![i]!]!);
      // The line starts at that one value: it names its points already.
      if (values.length === 1 && line.startsWith(`${values[0]!.origin}: `)) return line;
      const what = shared.map((i) => `${axes[i]!.path}=${values[shared.indexOf(i)]!.text}`).join(', ');
      return `${line} (at ${ks.length === 1 ? 'point' : 'every point with'} ${what})`;
    }
    const listed = ks.slice(0, LISTED_POINTS).map(label).join('; ');
    return `${line} (at ${ks.length} points: ${listed}${ks.length > LISTED_POINTS ? `; and ${ks.length - LISTED_POINTS} more points` : ''})`;
  });
  throw ScenarioError.of(lines);
}
