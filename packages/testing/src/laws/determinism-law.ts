import type { IpiBackendFactory } from '@ipilab/hypervisor';
import { assertLaw, type LawRunOptions } from '../law-runner';
import { ipiScenarioArbitrary, runIpiScenario, type IpiLawOptions, type IpiScenario } from './ipi-delivery-law';

/** Runs the scenario twice and throws at the first event that differs. */
export function checkDeterministic(s: IpiScenario, backend: IpiBackendFactory): void {
  const a = runIpiScenario(s, backend).events;
  const b = runIpiScenario(s, backend).events;
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = JSON.stringify(a[i]);
    const y = JSON.stringify(b[i]);
    if (x !== y) throw new Error(`two runs of one scenario differ at event ${i}: ${x ?? '(none)'} vs ${y ?? '(none)'}`);
  }
}

/** Determinism: the same scenario (same seed) gives the same event trace, event for event, for any backend. Default 20 cases. */
export function assertDeterministic(backend: IpiBackendFactory, options: IpiLawOptions & LawRunOptions = {}): void {
  assertLaw('determinism', ipiScenarioArbitrary(options), (s) => checkDeterministic(s, backend), { numRuns: 20, ...options });
}
