import fc from 'fast-check';
import type { MemoryManager, ShootdownRequest, ShootdownStrategy } from '@ipilab/guest';
import type { IpiBackendFactory } from '@ipilab/hypervisor';
import { TrapAndEmulateBackend } from '@ipilab/ipi-trap';
import { checkTlbCoherence, runTlbScenario, tlbScenarioArbitrary } from './tlb-coherence-law';

const trap: IpiBackendFactory = (hv, vm) => new TrapAndEmulateBackend(hv, vm);

function lawFailure(strategy: ShootdownStrategy): string {
  try {
    fc.assert(fc.property(tlbScenarioArbitrary, (s) => checkTlbCoherence(runTlbScenario(s, trap, false, strategy), s.actors.length)));
  } catch (e) {
    expect((e as Error).message).toMatch(/Property failed .*seed/s);
    return String((e as Error & { cause?: unknown }).cause);
  }
  return 'the law held';
}

describe('the TLB coherence law', () => {
  it('catches a strategy that flushes only the initiator', () => {
    const localOnly: ShootdownStrategy = {
      name: 'local-only',
      flush: (mm: MemoryManager, req: ShootdownRequest, done) => req.initiator.pushWork(mm.invalidateOn(req.initiator, req.space, req.vpns), done),
    };
    expect(lawFailure(localOnly)).toMatch(/stale translation|stale TLB entries/);
  });

  it('sees VMs of 128 vCPUs and more: catches a backend that never reaches APIC IDs from 128 up', () => {
    const firstWindowOnly: IpiBackendFactory = (hv, vm) => {
      const real = new TrapAndEmulateBackend(hv, vm);
      return { name: 'first-window', send: (req, done) => real.send({ ...req, targets: req.targets.filter((t) => t.apicId < 128) }, done) };
    };
    let failure = 'the law held';
    try {
      fc.assert(fc.property(tlbScenarioArbitrary, (s) => checkTlbCoherence(runTlbScenario(s, firstWindowOnly), s.actors.length)));
    } catch (e) {
      failure = String((e as Error & { cause?: unknown }).cause);
    }
    expect(failure).toMatch(/stale|never finished/);
  });

  it('catches a strategy that reports completion before the targets have flushed', () => {
    const early: ShootdownStrategy = {
      name: 'early',
      flush: (mm, req, done) => {
        done();
        const targets = [...req.space.cpuMask].map((i) => mm.vm.vcpu(i)).filter((v) => v !== req.initiator);
        mm.kernel.crossCall(req.initiator, targets, () => undefined, undefined, { cost: () => 0, run: (t) => void mm.invalidateOn(t, req.space, req.vpns) });
      },
    };
    expect(lawFailure(early)).toMatch(/stale|never finished/);
  });
});
