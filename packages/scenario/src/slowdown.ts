import { slowdownVsAlone } from '@ipilab/accounting';
import { bareMetalBaseline } from './bare-metal-baseline';
import { ScenarioError } from './errors';
import type { LoadedScenario } from './load';
import { runScenario, type RunOptions, type RunOutput } from './run-scenario';

/**
 * A run with each VM's slowdowns: against running alone (`run.slowdownVsAlone`: every VM also
 * runs by itself, same seed, so with common random numbers the difference is the neighbours'
 * doing) and against bare metal (`run.slowdownVsBareMetal`: every VM also runs alone with no
 * hypervisor, same seed, so the difference is what virtualization — and the neighbours — cost
 * it). Both ratios are `slowdownVsAlone(shared, baseline)`: > 1 means slower than the baseline.
 * (Its own module so a sweep worker loads the model without the YAML parser and the schema.)
 */
export function runWithSlowdown(loaded: LoadedScenario, seed?: number): RunOutput {
  const seeded: RunOptions = seed === undefined ? {} : { seed };
  const out = runScenario(loaded, seeded);
  const names = Object.keys(out.vms);
  const run = loaded.scenario.run;
  if (run.slowdownVsAlone && names.length >= 2) {
    for (const name of names) {
      const alone = runScenario(loaded, { ...seeded, only: [name] }).vms[name]!;
      const shared = out.vms[name]!;
      shared.slowdownVsAlone = slowdownVsAlone(shared.primary.value, alone.primary.value, shared.primary.higherIsBetter);
    }
  }
  if (run.slowdownVsBareMetal) {
    for (const name of names) {
      const shared = out.vms[name]!;
      // A bare-metal scenario is its own baseline.
      const native = loaded.scenario.hypervisor.mode === 'bare-metal' ? shared : runBareMetal(loaded, name, seeded);
      shared.slowdownVsBareMetal = slowdownVsAlone(shared.primary.value, native.primary.value, shared.primary.higherIsBetter);
    }
  }
  return out;
}

/** The VM alone on bare metal; a VM that cannot run natively there is the user's to fix, named as such. */
function runBareMetal(loaded: LoadedScenario, name: string, seeded: RunOptions): RunOutput['vms'][string] {
  const baseline = bareMetalBaseline(loaded, name)!;
  try {
    return runScenario(baseline, seeded).vms[name]!;
  } catch (e) {
    if (e instanceof ScenarioError) throw new ScenarioError(`run.slowdownVsBareMetal: ${name} alone on bare metal: ${e.message}`, 'run.slowdownVsBareMetal');
    throw e;
  }
}
