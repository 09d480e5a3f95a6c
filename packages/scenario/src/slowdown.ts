import { slowdownVsAlone } from '@ipilab/accounting';
import type { LoadedScenario } from './load';
import { runScenario, type RunOutput } from './run-scenario';

/**
 * A run with each VM's slowdown against running alone: every VM also runs by itself, same seed,
 * so with common random numbers the difference is the neighbours' doing. (Its own module so a
 * sweep worker loads the model without the YAML parser and the schema.)
 */
export function runWithSlowdown(loaded: LoadedScenario, seed?: number): RunOutput {
  const out = runScenario(loaded, seed === undefined ? {} : { seed });
  const names = Object.keys(out.vms);
  if (!loaded.scenario.run.slowdownVsAlone || names.length < 2) return out;
  for (const name of names) {
    const alone = runScenario(loaded, { ...(seed === undefined ? {} : { seed }), only: [name] }).vms[name]!;
    const shared = out.vms[name]!;
    shared.slowdownVsAlone = slowdownVsAlone(shared.primary.value, alone.primary.value, shared.primary.higherIsBetter);
  }
  return out;
}
