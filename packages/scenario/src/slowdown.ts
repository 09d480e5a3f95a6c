import { slowdownVsAlone } from '@ipilab/accounting';
import { bareMetalBaseline } from './bare-metal-baseline';
import { ScenarioError } from './errors';
import type { LoadedScenario } from './load';
import { runScenario, type RunOptions, type RunOutput } from './run-scenario';

/**
 * Where a run with its baselines has got to: run `run` of `runs` (the scenario itself first,
 * then each VM alone, then each VM on bare metal, as asked), `simulatedNs` of its `durationNs`,
 * `events` processed by it so far.
 */
export interface RunProgress {
  readonly run: number;
  readonly runs: number;
  readonly simulatedNs: number;
  readonly durationNs: number;
  readonly events: number;
}

/** How many runs `runWithSlowdown` makes for a scenario: itself, and its baselines. */
export function runsWithSlowdown(loaded: LoadedScenario): number {
  const s = loaded.scenario;
  const copies = s.vms.reduce((n, vm) => n + vm.count, 0);
  return 1 + (s.run.slowdownVsAlone && copies >= 2 ? copies : 0) + (s.run.slowdownVsBareMetal && s.hypervisor.mode !== 'bare-metal' ? copies : 0);
}

/**
 * A run with each VM's slowdowns: against running alone (`run.slowdownVsAlone`: every VM also
 * runs by itself, same seed, so with common random numbers the difference is the neighbours'
 * doing) and against bare metal (`run.slowdownVsBareMetal`: every VM also runs alone with no
 * hypervisor, same seed, so the difference is what virtualization — and the neighbours — cost
 * it). Both ratios are `slowdownVsAlone(shared, baseline)`: > 1 means slower than the baseline.
 * (Its own module so a sweep worker loads the model without the YAML parser and the schema.)
 */
export function runWithSlowdown(loaded: LoadedScenario, seed?: number, onProgress?: (p: RunProgress) => void): RunOutput {
  const base: RunOptions = seed === undefined ? {} : { seed };
  const runs = runsWithSlowdown(loaded);
  const durationNs = loaded.scenario.run.duration;
  let started = 0;
  /** The options of the next run: the seed, and progress numbered by run. */
  const next = (): RunOptions => {
    const k = ++started;
    return onProgress === undefined ? base : { ...base, onProgress: (simulatedNs, events) => onProgress({ run: k, runs, simulatedNs, durationNs, events }) };
  };
  const out = runScenario(loaded, next());
  const names = Object.keys(out.vms);
  const run = loaded.scenario.run;
  if (run.slowdownVsAlone && names.length >= 2) {
    for (const name of names) {
      const alone = runScenario(loaded, { ...next(), only: [name] }).vms[name]!;
      const shared = out.vms[name]!;
      shared.slowdownVsAlone = slowdownVsAlone(shared.primary.value, alone.primary.value, shared.primary.higherIsBetter);
      // The same metrics judge a VM alone (scoped by its name): paired by position.
      shared.metrics.forEach((m, k) => (m.slowdownVsAlone = slowdownVsAlone(m.value, alone.metrics[k]!.value, m.higherIsBetter)));
    }
  }
  if (run.slowdownVsBareMetal) {
    for (const name of names) {
      const shared = out.vms[name]!;
      // A bare-metal scenario is its own baseline.
      const native = loaded.scenario.hypervisor.mode === 'bare-metal' ? shared : runBareMetal(loaded, name, next());
      shared.slowdownVsBareMetal = slowdownVsAlone(shared.primary.value, native.primary.value, shared.primary.higherIsBetter);
      shared.metrics.forEach((m, k) => (m.slowdownVsBareMetal = slowdownVsAlone(m.value, native.metrics[k]!.value, m.higherIsBetter)));
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
