import fc from 'fast-check';

/** The seed every property run uses unless FC_SEED says otherwise: CI runs are reproducible. */
export const DEFAULT_PROPERTY_SEED = 20261125;

/**
 * Reads FC_SEED / FC_NUM_RUNS and configures fast-check globally. fast-check's failure report
 * prints the seed and counterexample path; re-run with FC_SEED=<seed> to replay it.
 */
export function configureProperties(env: NodeJS.ProcessEnv = process.env): { seed: number; numRuns: number } {
  const seed = parseIntVar('FC_SEED', env['FC_SEED'], DEFAULT_PROPERTY_SEED);
  const numRuns = parseIntVar('FC_NUM_RUNS', env['FC_NUM_RUNS'], 100);
  fc.configureGlobal({ seed, numRuns });
  return { seed, numRuns };
}

function parseIntVar(name: string, raw: string | undefined, dflt: number): number {
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new Error(`${name}: expected an integer, got ${JSON.stringify(raw)}`);
  return n;
}
