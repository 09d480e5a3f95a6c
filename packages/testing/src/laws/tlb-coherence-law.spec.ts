import fc from 'fast-check';
import { MemoryManager, SynchronousShootdown, type ShootdownRequest, type ShootdownStrategy } from '@ipilab/guest';
import type { IpiBackendFactory } from '@ipilab/hypervisor';
import { TrapAndEmulateBackend } from '@ipilab/ipi-trap';
import { LawFailure } from '../law-runner';
import { assertTlbCoherence, checkTlbCoherence, runTlbScenario, tlbScenarioArbitrary, type TlbScenario } from './tlb-coherence-law';

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
  it('takes the strategy under test: catches a strategy that skips a target (the highest vCPU of each shootdown), with seed, path and shrunk case', () => {
    const skipsOne = (): ShootdownStrategy => ({
      name: 'skips-one',
      flush: (mm, req, done) => {
        const local = req.space.cpuMask.has(req.initiator.index) ? mm.invalidateOn(req.initiator, req.space, req.vpns) : 0;
        req.initiator.pushWork(local, () => {
          const targets = mm.flushTargets(req.initiator, req.space).slice(0, -1);
          mm.crossCall(req.initiator, targets, done, undefined, { cost: () => mm.invalidateCost(req.vpns.length), run: (t) => void mm.flushHandler(t, req.space, req.vpns) });
        });
      },
    });
    let failure: unknown;
    try {
      assertTlbCoherence(trap, { strategy: skipsOne });
    } catch (e) {
      failure = e;
    }
    expect(failure).toBeInstanceOf(LawFailure);
    const f = failure as LawFailure;
    expect(f.law).toBe('TLB coherence (skips-one)');
    expect(f.reason).toMatch(/stale/);
    expect(f.message).toMatch(/seed: -?\d+, path: "[\d:]+"[^\n]*\n  shrunk case: \{"vcpus":\d+/);
  });

  it('refuses a strategy name it does not know, listing the built-ins', () => {
    expect(() => assertTlbCoherence(trap, { strategy: 'lazy' as 'sync' })).toThrow(/unknown shootdown strategy "lazy": one of sync, invlpgb, invlpgb-all, batched/);
  });

  it('catches a strategy that flushes only the initiator', () => {
    const localOnly: ShootdownStrategy = {
      name: 'local-only',
      flush: (mm: MemoryManager, req: ShootdownRequest, done) => req.initiator.pushWork(mm.invalidateOn(req.initiator, req.space, req.vpns), done),
    };
    expect(lawFailure(localOnly)).toMatch(/stale translation|stale TLB entries/);
  });

  it('draws lazy TLB mode: shootdowns skip lazy vCPUs, which catch up when they switch back', () => {
    let skips = 0;
    let catchUps = 0;
    for (const s of fc.sample(tlbScenarioArbitrary, { numRuns: 150, seed: 11 })) {
      if (s.strategy !== 'sync') continue;
      const { mm } = runTlbScenario(s, trap);
      skips += mm.lazySkips;
      catchUps += mm.catchUpFlushes;
    }
    expect(skips).toBeGreaterThan(0);
    expect(catchUps).toBeGreaterThan(0);
  });

  it('catches a guest that skips lazy vCPUs but does not flush them when they switch back (no tlb_gen check)', () => {
    // vCPU 0 reads page 3, idles in lazy TLB mode while vCPU 2 (same process) remaps page 3 and
    // page 4, then reads page 3 again. The remap's shootdown skips vCPU 0.
    const s: TlbScenario = {
      vcpus: 3, shared: false, sharedPcpus: 1, apicMode: 'x2apic-physical', postedInterrupts: false, pvTlbFlush: false,
      strategy: 'sync', coordination: 'smp', hostScheduler: 'eevdf',
      actors: [
        { vcpu: 0, ops: [{ kind: 'read', vpn: 3, gap: 0 }, { kind: 'idle', gap: 0, ns: 100_000 }, { kind: 'read', vpn: 3, gap: 0 }] },
        { vcpu: 2, ops: [{ kind: 'remap', vpns: [3, 4], gap: 30_000 }] },
      ],
    };
    const real = runTlbScenario(s, trap);
    expect(real.mm.lazySkips).toBeGreaterThan(0);
    expect(real.mm.catchUpFlushes).toBe(1);
    expect(() => checkTlbCoherence(real, 2)).not.toThrow();
    // Loads the space and leaves lazy mode, but never flushes what was skipped.
    const switchTo = MemoryManager.prototype.switchTo;
    MemoryManager.prototype.switchTo = function (this: MemoryManager, v, space) {
      this.current[v.index] = space;
      (this as unknown as { lazy: Uint8Array }).lazy[v.index] = 0;
      space.cpuMask.add(v.index);
      return 0;
    };
    try {
      expect(() => checkTlbCoherence(runTlbScenario(s, trap), 2)).toThrow(/vCPU 0 used a stale translation of parent page 3/);
    } finally {
      MemoryManager.prototype.switchTo = switchTo;
    }
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
        const targets = [...req.space.cpuMask].map((i) => mm.vcpus[i]!).filter((v) => v !== req.initiator);
        mm.crossCall(req.initiator, targets, () => undefined, undefined, { cost: () => 0, run: (t) => void mm.invalidateOn(t, req.space, req.vpns) });
      },
    };
    expect(lawFailure(early)).toMatch(/stale|never finished/);
  });
});
