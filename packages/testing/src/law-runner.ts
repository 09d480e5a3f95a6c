import fc from 'fast-check';
import { DEFAULT_PROPERTY_SEED } from './property-config';

/** How many cases a law tries and from where: the defaults are each law's own, the environment overrides them. */
export interface LawRunOptions {
  /** Cases at FC_NUM_RUNS=100 (the default); FC_NUM_RUNS scales every law's count in proportion. */
  readonly numRuns?: number;
  /** fast-check seed (default: FC_SEED, else the fixed project seed). */
  readonly seed?: number;
  /** fast-check counterexample path to replay (default: FC_PATH). With a path, only that case and its shrinks run. */
  readonly path?: string;
}

/**
 * A law that did not hold: which law, why (the underlying error of the shrunk case), and what
 * is needed to run that very case again.
 */
export class LawFailure extends Error {
  override readonly name = 'LawFailure';

  constructor(
    readonly law: string,
    readonly reason: string,
    readonly seed: number,
    readonly path: string,
    /** The shrunk case, as fast-check prints values. */
    readonly counterexample: string,
    readonly numRuns: number,
    readonly replay: string,
    /** The shrunk case's own error. */
    cause?: unknown,
  ) {
    super(
      [
        `law "${law}" failed: ${reason}`,
        `  seed: ${seed}, path: "${path}" (after ${numRuns} runs at most)`,
        `  shrunk case: ${counterexample}`,
        `  replay: ${replay}`,
        `      or: fc.assert(property, { seed: ${seed}, path: "${path}" })`,
        // fast-check's own wording (the property's arguments as a tuple), which tools may look for.
        `  Counterexample: [${counterexample}]`,
      ].join('\n'),
      { cause },
    );
  }
}

/** The case count for a law whose default is `base` cases: scaled by FC_NUM_RUNS / 100, never below 1. */
export function scaledRuns(base: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env['FC_NUM_RUNS'];
  if (raw === undefined || raw === '') return base;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`FC_NUM_RUNS: expected a positive integer, got ${JSON.stringify(raw)}`);
  return Math.max(1, Math.round((base * n) / 100));
}

function envSeed(env: NodeJS.ProcessEnv): number {
  const raw = env['FC_SEED'];
  if (raw === undefined || raw === '') return DEFAULT_PROPERTY_SEED;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new Error(`FC_SEED: expected an integer, got ${JSON.stringify(raw)}`);
  return n;
}

/** The spec file jest is running (for the replay line), when under jest. */
function currentTestPath(): string | undefined {
  const g = globalThis as { expect?: { getState?: () => { testPath?: string | undefined } } };
  const p = g.expect?.getState?.().testPath;
  if (p === undefined) return undefined;
  const rel = p.startsWith(process.cwd() + '/') ? p.slice(process.cwd().length + 1) : p;
  return rel;
}

/**
 * Checks `check` on cases drawn from `arb` (every law in this package goes through here). On a
 * failure fast-check shrinks the case, and the error thrown is a `LawFailure` naming the law,
 * the reason, the seed, the path, the shrunk case and the command that replays it.
 */
export function assertLaw<T>(law: string, arb: fc.Arbitrary<T>, check: (value: T) => void, options: LawRunOptions = {}, env: NodeJS.ProcessEnv = process.env): void {
  const seed = options.seed ?? envSeed(env);
  const path = options.path ?? (env['FC_PATH'] === undefined || env['FC_PATH'] === '' ? undefined : env['FC_PATH']);
  const numRuns = scaledRuns(options.numRuns ?? 100, env);
  const details = fc.check(fc.property(arb, check), { seed, numRuns, ...(path === undefined ? {} : { path }) });
  if (!details.failed) return;
  const shrunk = details.counterexample === null ? '(none)' : fc.stringify(details.counterexample[0]);
  const error = details.errorInstance;
  const reason = error instanceof Error ? error.message : String(error);
  const file = currentTestPath() ?? '<the spec file>';
  const replay = `FC_SEED=${details.seed} FC_PATH=${details.counterexamplePath ?? ''} node_modules/.bin/jest ${file}`;
  throw new LawFailure(law, reason, details.seed, details.counterexamplePath ?? '', shrunk, numRuns, replay, error);
}
