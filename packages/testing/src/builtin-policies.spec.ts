import type { IpiBackendFactory } from '@ipilab/hypervisor';
import { TrapAndEmulateBackend } from '@ipilab/ipi-trap';
import { assertTlbCoherence, BUILTIN_SHOOTDOWN_STRATEGIES, type TlbScenario } from './laws/tlb-coherence-law';

// The backends run the delivery, coherence, conservation and determinism laws in their own
// packages (ipi-*/src/*-backend.spec.ts) and the host schedulers theirs in
// laws/host-scheduler-law.spec.ts; here each shootdown strategy, by name, runs the coherence law.
const trap: IpiBackendFactory = (hv, vm) => new TrapAndEmulateBackend(hv, vm);

describe('every built-in shootdown strategy keeps TLBs coherent (given to the law by name)', () => {
  for (const name of Object.keys(BUILTIN_SHOOTDOWN_STRATEGIES) as TlbScenario['strategy'][]) {
    it(name, () => assertTlbCoherence(trap, { strategy: name, numRuns: 40 }));
  }
});
