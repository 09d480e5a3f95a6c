import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkLitmus, parseLitmus, type LitmusTest } from '@ipilab/ordering';

/** The classic set the issue names (examples/litmus/classic): every test, parsed once. */
const CLASSIC = join(__dirname, '..', '..', '..', '..', 'examples', 'litmus', 'classic');

let tests: LitmusTest[] | undefined;
function classic(): LitmusTest[] {
  tests ??= readdirSync(CLASSIC)
    .filter((f) => f.endsWith('.litmus'))
    .sort()
    .map((f) => parseLitmus(readFileSync(join(CLASSIC, f), 'utf8'), f));
  return tests;
}

/** The test of the set with the most candidate executions (the one a user waits longest for). */
export function largestClassic(): { test: LitmusTest; candidates: number } {
  let best: { test: LitmusTest; candidates: number } | undefined;
  for (const t of classic()) {
    const c = checkLitmus(t).stats.candidates;
    if (best === undefined || c > best.candidates) best = { test: t, candidates: c };
  }
  return best!;
}

/** Check the whole classic set `passes` times: units are tests checked, events candidate executions examined. */
export function runClassic(passes: number): { events: number; units: number } {
  let events = 0;
  let units = 0;
  for (let p = 0; p < passes; p++) {
    for (const t of classic()) {
      events += checkLitmus(t).stats.candidates;
      units++;
    }
  }
  return { events, units };
}

/** Check the largest classic test `passes` times. */
export function runLargest(passes: number): { events: number; units: number } {
  const { test } = largestClassic();
  let events = 0;
  for (let p = 0; p < passes; p++) events += checkLitmus(test).stats.candidates;
  return { events, units: passes };
}

export const loadLitmus = (): void => void classic();
