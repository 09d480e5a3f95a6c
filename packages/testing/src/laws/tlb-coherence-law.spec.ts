import fc from 'fast-check';
import { MemoryManager, SynchronousShootdown, type ShootdownRequest, type ShootdownStrategy } from '@ipilab/guest';
import type { IpiBackendFactory } from '@ipilab/hypervisor';
import type { Vcpu } from '@ipilab/vcpu';
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

  /**
   * A LATR-like lazy strategy: a free flushes the initiator, lets it go, and each other vCPU that
   * may hold the pages invalidates them at its next tick or switch; the frames are released after
   * the last of them (`early`: at done, before any has — the broken fixture). Anything else: sync.
   */
  const lazy = (early: boolean) => (): ShootdownStrategy => {
    const sync = new SynchronousShootdown();
    return {
      name: early ? 'lazy-releases-early' : 'lazy',
      flush: (ctx, req, done) => {
        if (req.kind !== 'free') return sync.flush(ctx, req, done);
        const { initiator, space, vpns } = req;
        const local = space.cpuMask.has(initiator.index) ? ctx.invalidateOn(initiator, space, vpns) : 0;
        let targets: readonly Vcpu[] = ctx.flushTargets(initiator, space);
        if (req.freedTables !== true) targets = ctx.skipLazy(space, targets);
        const release = ctx.deferRelease(req);
        let left = targets.length;
        for (const t of targets) {
          ctx.onNextTickOrSwitch(t, (v) => {
            if (--left === 0 && !early) release();
            return ctx.invalidateOn(v, space, vpns);
          });
        }
        initiator.pushWork(local, () => {
          if (left === 0 || early) release();
          done();
        });
      },
    };
  };

  it('holds for a lazy strategy: stale entries of a freed range are used or set aside only until its frames are released', () => {
    expect(() => assertTlbCoherence(trap, { strategy: lazy(false) })).not.toThrow();
    // Frees were deferred and sweeps at ticks and switches released them.
    const totals = { deferred: 0, released: 0 };
    for (const s of fc.sample(tlbScenarioArbitrary, { numRuns: 150, seed: 11 })) {
      const { mm } = runTlbScenario(s, trap, false, lazy(false)());
      totals.deferred += mm.lazyFrees.deferred;
      totals.released += mm.lazyFrees.released;
    }
    expect(totals.deferred).toBeGreaterThan(0);
    expect(totals.released).toBeGreaterThan(0);
    // vCPU 0 caches page 3; vCPU 2 unmaps it and faults it in again; vCPU 0 reads it before it
    // sweeps: its entry is of the quarantined range, set aside, not a stale use. Released at
    // done instead, the frame goes straight back to vCPU 2's fault and the read is a stale use.
    const s: TlbScenario = {
      vcpus: 3, shared: false, sharedPcpus: 1, apicMode: 'x2apic-physical', postedInterrupts: false, pvTlbFlush: false,
      strategy: 'sync', coordination: 'smp', hostScheduler: 'eevdf',
      actors: [
        { vcpu: 0, ops: [{ kind: 'read', vpn: 3, gap: 0 }, { kind: 'read', vpn: 3, gap: 50_000 }] },
        { vcpu: 2, ops: [{ kind: 'unmap', vpns: [3], gap: 10_000 }] },
      ],
    };
    const ok = runTlbScenario(s, trap, false, lazy(false)());
    expect(ok.mm.lazyFrees).toMatchObject({ deferred: 1, aliased: 1 });
    expect(() => checkTlbCoherence(ok, 2)).not.toThrow();
    expect(() => checkTlbCoherence(runTlbScenario(s, trap, false, lazy(true)()), 2)).toThrow(/vCPU 0 used a stale translation of parent page 3/);
  });

  it('catches a lazy strategy that releases the frames before every vCPU has swept, and shrinks it', () => {
    let failure: unknown;
    try {
      assertTlbCoherence(trap, { strategy: lazy(true) });
    } catch (e) {
      failure = e;
    }
    expect(failure).toBeInstanceOf(LawFailure);
    const f = failure as LawFailure;
    expect(f.law).toBe('TLB coherence (lazy-releases-early)');
    expect(f.reason).toMatch(/stale/);
    expect(f.message).toMatch(/shrunk case: \{"vcpus":\d+[^\n]*"kind":"unmap"/);
  });
});
