import fc from 'fast-check';
import { InvalidParameterError } from '@ipilab/core';
import { composeContainer, type PolicyRegistry } from '@ipilab/di';
import type { Vcpu } from '@ipilab/vcpu';
import { ROUND_ROBIN, addVm, rig, vmSpec } from '../../test/harness';
import { guestModule } from '../guest-module';
import { Scheduler } from '../sched/scheduler';
import { BatchedShootdown, BroadcastInvalidation, MemoryManager, ShootdownStrategyRegistry, SynchronousShootdown, type Coordination, type ShootdownStrategy } from '../index';

type Backend = 'trap' | 'pv' | 'posted';

function setup(opts: { backend?: Backend; vcpus?: number; strategy?: ShootdownStrategy; coordination?: Coordination; shared?: number[]; tlbFlush?: boolean } = {}) {
  const r = rig({ config: { ...ROUND_ROBIN, timeSliceNs: 1_000_000 } });
  const { vm, kernel } = addVm(
    r,
    opts.backend ?? 'pv',
    vmSpec(opts.vcpus ?? 4, 'x2apic-physical', {
      ...(opts.shared === undefined ? {} : { placement: 'shared' as const, pcpus: opts.shared }),
      pv: { tlbFlush: opts.tlbFlush ?? true },
    }),
  );
  const mm = new MemoryManager(r.hv, vm, kernel, { strategy: opts.strategy ?? new SynchronousShootdown(), coordination: opts.coordination ?? 'smp' });
  return { r, vm, kernel, mm };
}

/** Runs `steps` one after another on `v` (each gets a `next`). */
function sequence(v: Vcpu, steps: ((next: () => void) => void)[], done: () => void = () => undefined): void {
  const go = (i: number): void => (i === steps.length ? done() : steps[i]!(() => go(i + 1)));
  v.pushWork(0, () => go(0));
}

describe('copy-on-write after fork', () => {
  it('each process sees its own copy after a write, through a fault, a copy and a shootdown', () => {
    const { r, vm, mm } = setup();
    const parent = mm.createSpace('parent');
    mm.populate(parent, 0, 8);
    const v0 = vm.vcpu(0);
    mm.switchTo(v0, parent);
    let child = parent;
    const seen: Record<string, number> = {};
    sequence(v0, [
      (next) => mm.write(v0, 3, 7, next),
      (next) => mm.fork(v0, parent, 'child', (c) => ((child = c), next())),
      (next) => {
        mm.switchTo(v0, child);
        const before = mm.shootdowns;
        mm.write(v0, 3, 9, () => ((seen['shootdownsForChildWrite'] = mm.shootdowns - before), next()));
      },
      (next) => mm.read(v0, 3, (x) => ((seen['child'] = x), next())),
      (next) => {
        mm.switchTo(v0, parent);
        mm.read(v0, 3, (x) => ((seen['parent'] = x), next()));
      },
    ]);
    r.hv.start();
    r.sim.run({ until: 5_000_000 });
    expect(seen).toEqual({ shootdownsForChildWrite: 1, child: 9, parent: 7 });
    expect(child.translate(3)!.frame).not.toBe(parent.translate(3)!.frame);
    expect(child.translate(3)!.writable).toBe(true);
    // Pages nobody wrote stay shared, read-only, in both.
    expect(child.translate(4)).toEqual({ ...parent.translate(4)!, writable: false });
    expect(mm.staleUses).toEqual([]);
  });

  it("fork write-protects the parent and removes its writable entries from every vCPU's TLB", () => {
    const { r, vm, kernel, mm } = setup();
    const parent = mm.createSpace('parent');
    mm.populate(parent, 0, 8);
    const [v0, v1] = [vm.vcpu(0), vm.vcpu(1)];
    mm.switchTo(v0, parent);
    sequence(v0, [
      (next) => kernel.wakeOn(v0, v1, () => {
        mm.switchTo(v1, parent);
        mm.write(v1, 5, 1, () => undefined);
      }, next),
      (next) => v0.pushWork(50_000, next),
      (next) => mm.fork(v0, parent, 'child', () => next()),
    ]);
    r.hv.start();
    r.sim.run({ until: 5_000_000 });
    expect(parent.translate(5)!.writable).toBe(false);
    const e = mm.tlb(v1).lookup(parent.id, 5);
    expect(e === undefined || e.writable === false).toBe(true);
    expect(mm.staleEntries()).toEqual([]);
  });
});

describe('huge pages', () => {
  it('a split replaces one 2 MiB mapping by 512 small ones with the same frames and removes the huge entry from every TLB', () => {
    const { r, vm, kernel, mm } = setup();
    const s = mm.createSpace('p');
    mm.populateHuge(s, 2, 1);
    const base = s.translate(1024)!.frame;
    const [v0, v1] = [vm.vcpu(0), vm.vcpu(1)];
    mm.switchTo(v0, s);
    sequence(v0, [
      (next) => mm.read(v0, 1030, () => next()),
      (next) => kernel.wakeOn(v0, v1, () => {
        mm.switchTo(v1, s);
        mm.read(v1, 1100, () => undefined);
      }, next),
      (next) => v0.pushWork(50_000, next),
      (next) => mm.splitHuge(v0, s, 2, next),
    ]);
    r.hv.start();
    r.sim.run({ until: 5_000_000 });
    expect(s.isHuge(2)).toBe(false);
    for (const vpn of [1024, 1030, 1535]) expect(s.translate(vpn)).toEqual({ frame: base + (vpn - 1024), writable: true, huge: false });
    for (const v of [v0, v1]) expect(mm.tlb(v).lookup(s.id, 1030)?.huge ?? false).toBe(false);
    expect(mm.staleEntries()).toEqual([]);
  });

  it('splitting a page that is not huge is refused, naming it', () => {
    const { vm, mm } = setup();
    const s = mm.createSpace('p');
    expect(() => mm.splitHuge(vm.vcpu(0), s, 9, () => undefined)).toThrow(new InvalidParameterError('hugeVpn', 9, 'a huge mapping of p'));
  });
});

describe('SMP and AMP coordination', () => {
  /** Three vCPUs read pages, vCPU 2 remaps two of them, all read again; returns the final TLB contents. */
  const scenario = (coordination: Coordination) => {
    const { r, vm, kernel, mm } = setup({ coordination });
    const s = mm.createSpace('p');
    mm.populate(s, 0, 8);
    const readers = [1, 2, 3].map((i) => vm.vcpu(i));
    let phase2 = 0;
    const readAll = (v: Vcpu, then: () => void) => sequence(v, [0, 1, 2, 3, 4, 5, 6, 7].map((vpn) => (next: () => void) => mm.read(v, vpn, () => next())), then);
    const v0 = vm.vcpu(0);
    mm.switchTo(v0, s);
    v0.pushWork(0, () => {
      for (const v of readers) {
        kernel.wakeOn(v0, v, () => {
          mm.switchTo(v, s);
          readAll(v, () => {
            if (v.index !== 2) return;
            mm.remap(v, s, [1, 2], () => {
              for (const w of readers) kernel.wakeOn(v, w, () => readAll(w, () => phase2++));
            });
          });
        });
      }
    });
    r.hv.start();
    r.sim.run({ until: 50_000_000 });
    expect(phase2).toBe(3);
    const tlbs = readers.map((v) => [0, 1, 2, 3, 4, 5, 6, 7].map((vpn) => mm.tlb(v).lookup(s.id, vpn)?.frame ?? null));
    return { tlbs, table: [0, 1, 2, 3, 4, 5, 6, 7].map((vpn) => s.translate(vpn)!.frame), stale: mm.staleEntries(), uses: mm.staleUses };
  };

  it('end in the same page tables and the same TLB contents, with no stale entry', () => {
    const smp = scenario('smp');
    const amp = scenario('amp');
    expect(amp.table).toEqual(smp.table);
    expect(amp.tlbs).toEqual(smp.tlbs);
    expect(smp.tlbs.every((t) => t.every((f, vpn) => f === smp.table[vpn]))).toBe(true);
    expect([smp.stale, amp.stale, smp.uses, amp.uses]).toEqual([[], [], [], []]);
  });

  it('AMP serialises concurrent shootdowns on the master', () => {
    const makespan = (coordination: Coordination): number => {
      const { r, vm, kernel, mm } = setup({ coordination, vcpus: 6 });
      const s = mm.createSpace('p');
      mm.populate(s, 0, 16);
      let finished = 0;
      let last = 0;
      const v0 = vm.vcpu(0);
      mm.switchTo(v0, s);
      v0.pushWork(0, () => {
        for (let i = 1; i < 6; i++) {
          const v = vm.vcpu(i);
          kernel.wakeOn(v0, v, () => {
            mm.switchTo(v, s);
            mm.read(v, i, () => mm.remap(v, s, [i], () => ((last = r.sim.now), finished++)));
          });
        }
      });
      r.hv.start();
      r.sim.run({ until: 50_000_000 });
      expect(finished).toBe(5);
      return last;
    };
    expect(makespan('amp')).toBeGreaterThan(makespan('smp'));
  });

  it('bad coordination settings name the field', () => {
    const { r, vm, kernel } = setup();
    expect(() => new MemoryManager(r.hv, vm, kernel, { strategy: new SynchronousShootdown(), coordination: 'mixed' as never })).toThrow(
      new InvalidParameterError('vms[0].coordination', 'mixed', '"smp" or "amp"'),
    );
    expect(() => new MemoryManager(r.hv, vm, kernel, { strategy: new SynchronousShootdown(), master: 9 })).toThrow('vms[0].master: expected a vCPU index in [0, 3], got 9');
  });
});

describe('shootdown strategies', () => {
  /** vCPUs 1..3 cache a page each, then all remap concurrently; counts flush IPIs. */
  const concurrentRemaps = (strategy: ShootdownStrategy, backend: Backend = 'pv') => {
    const { r, vm, kernel, mm } = setup({ strategy, backend });
    const s = mm.createSpace('p');
    mm.populate(s, 0, 8);
    const v0 = vm.vcpu(0);
    mm.switchTo(v0, s);
    let done = 0;
    v0.pushWork(0, () => {
      for (let i = 1; i < 4; i++) {
        const v = vm.vcpu(i);
        kernel.wakeOn(v0, v, () => {
          mm.switchTo(v, s);
          mm.read(v, 5, () => mm.remap(v, s, [i], () => done++));
        });
      }
    });
    r.hv.start();
    r.sim.run({ until: 50_000_000 });
    expect(done).toBe(3);
    expect(mm.staleEntries()).toEqual([]);
    // vCPU 0's three wake-ups are call-function-single IPIs too (the wake list): left out.
    const flushIpis = r.events.filter((e) => e.type === 'ipi-sent' && e.vector !== 0xfd && e.from.vcpu !== 0).length;
    const exits = r.events.filter((e) => e.type === 'vm-exit').length;
    return { flushIpis, exits };
  };

  it('invlpgb-all removes translations everywhere with no IPI and no exit', () => {
    const sync = concurrentRemaps(new SynchronousShootdown());
    const bcast = concurrentRemaps(new BroadcastInvalidation('always'));
    expect(sync.flushIpis).toBe(3);
    expect(bcast.flushIpis).toBe(0);
    expect(bcast.exits).toBeLessThan(sync.exits);
  });

  it('batched flushes concurrent requests together: one cross-call instead of three', () => {
    expect(concurrentRemaps(new BatchedShootdown(3, 1_000_000)).flushIpis).toBe(1);
  });

  it.each([
    ['trap', true],
    ['pv', true],
    ['posted', true],
    ['trap', false],
  ] as const)('PV TLB flush under %s, feature %s: a preempted vCPU is not IPIed (with the feature), and its stale entries are gone when it next enters', (backend, tlbFlush) => {
    // vCPU 3 shares pCPU 0 with vCPU 0 (both busy); vCPU 1 remaps a page vCPU 3 has cached.
    const { r, vm, kernel, mm } = setup({ backend, shared: [0, 1, 2], tlbFlush });
    const s = mm.createSpace('p');
    mm.populate(s, 0, 8);
    const [v0, v1, v3] = [vm.vcpu(0), vm.vcpu(1), vm.vcpu(3)];
    mm.switchTo(v0, s);
    mm.switchTo(v3, s);
    let ipied: number[] = [];
    let deferred: number | undefined;
    v3.pushWork(0, () => mm.read(v3, 4, () => v3.pushWork(8_000_000, () => undefined)));
    v0.pushWork(0, () => {
      mm.read(v0, 4, () => v0.pushWork(8_000_000, () => undefined));
      kernel.wakeOn(v0, v1, () => {
        mm.switchTo(v1, s);
        // At 3.5 ms both sharers have run and read page 4 (slices of 1 ms), and one of them is preempted.
        v1.pushWork(3_500_000, () => {
          deferred = [v0, v3].find((v) => v.state === 'preempted')?.index;
          r.events.length = 0;
          mm.remap(v1, s, [4], () => (ipied = r.events.flatMap((e) => (e.type === 'ipi-sent' ? [...e.targets] : []))));
        });
      });
    });
    r.hv.start();
    r.sim.run({ until: 20_000_000 });
    expect(deferred).toBeDefined();
    // PV TLB flush is a guest feature (kvm_flush_tlb_multi), used whatever sends the IPIs.
    if (tlbFlush) expect(ipied).not.toContain(deferred);
    else expect(ipied).toContain(deferred);
    expect(mm.tlb(vm.vcpu(deferred!)).lookup(s.id, 4)).toBeUndefined();
    expect(mm.staleUses).toEqual([]);
    expect(mm.staleEntries()).toEqual([]);
  });

  it('invlpgb under Linux\'s rule: a process active on fewer than 4 vCPUs has no global ASID and is shot down with IPIs, as sync', () => {
    // consider_global_asid: mm_active_cpus_exceeds(mm, 3) — these remaps run on 4 vCPUs at most
    // one or two at a time, so the space never qualifies and every flush takes the IPI path.
    const bcast = concurrentRemaps(new BroadcastInvalidation());
    expect(bcast.flushIpis).toBe(3);
  });

  it('the guest module registers sync (default), invlpgb, invlpgb-all and batched; an unknown name lists them', () => {
    const c = composeContainer({ run: { seed: 1 }, modules: [guestModule] });
    const reg = c.get<PolicyRegistry<ShootdownStrategy>>(ShootdownStrategyRegistry);
    expect(reg.names()).toEqual(['batched', 'invlpgb', 'invlpgb-all', 'sync']);
    expect(reg.get().name).toBe('sync');
    expect(() => reg.get('latr')).toThrow('unknown shootdown strategy "latr"; known: "batched", "invlpgb", "invlpgb-all", "sync"');
  });
});

describe('frees and deferred release (ShootdownRequest.kind, ShootdownContext.deferRelease)', () => {
  /** A strategy that flushes the initiator only, lets it go, and releases a free when the test says. */
  function deferring(): { strategy: ShootdownStrategy; kinds: string[]; releases: (() => void)[] } {
    const kinds: string[] = [];
    const releases: (() => void)[] = [];
    const strategy: ShootdownStrategy = {
      name: 'deferring',
      flush: (ctx, req, done) => {
        kinds.push(req.kind ?? 'absent');
        if (req.kind === 'free') releases.push(ctx.deferRelease(req));
        req.initiator.pushWork(ctx.invalidateOn(req.initiator, req.space, req.vpns), done);
      },
    };
    return { strategy, kinds, releases };
  }

  it('an unmap is a free and a remap an in-place change; built-ins release a free at done, so its frame is the next one mapped', () => {
    const { r, vm, mm } = setup();
    const s = mm.createSpace('p');
    mm.populate(s, 0, 4);
    const v0 = vm.vcpu(0);
    mm.switchTo(v0, s);
    const freed = s.translate(2)!.frame;
    sequence(v0, [(next) => mm.unmap(v0, s, [2], next), (next) => mm.faultIn(v0, s, 9, next)]);
    r.hv.start();
    r.sim.run({ until: 5_000_000 });
    expect(s.translate(9)!.frame).toBe(freed);
    expect(mm.lazyFrees).toEqual({ deferred: 0, released: 0, staleUses: 0, aliased: 0 });
  });

  it('a deferred free keeps its frame off the free list and its range quarantined until the strategy releases it', () => {
    const d = deferring();
    const { r, vm, mm } = setup({ strategy: d.strategy });
    const s = mm.createSpace('p');
    mm.populate(s, 0, 4);
    const v0 = vm.vcpu(0);
    mm.switchTo(v0, s);
    const freed = s.translate(2)!.frame;
    const seen: Record<string, unknown> = {};
    sequence(v0, [
      (next) => mm.remap(v0, s, [1], next),
      (next) => mm.unmap(v0, s, [2], next),
      (next) => mm.faultIn(v0, s, 9, next),
      (next) => {
        seen['quarantinedBefore'] = s.quarantined.has(2);
        d.releases[0]!();
        seen['quarantinedAfter'] = s.quarantined.has(2);
        next();
      },
      (next) => mm.faultIn(v0, s, 10, next),
    ]);
    r.hv.start();
    r.sim.run({ until: 5_000_000 });
    expect(d.kinds).toEqual(['in-place', 'free']);
    expect(s.translate(9)!.frame).not.toBe(freed);
    expect(s.translate(10)!.frame).toBe(freed);
    expect(seen).toEqual({ quarantinedBefore: true, quarantinedAfter: false });
    expect(mm.lazyFrees).toMatchObject({ deferred: 1, released: 1 });
    expect(() => d.releases[0]!()).toThrow(/twice/);
  });

  it('refuses to defer an in-place change: its old translations must be gone at done', () => {
    let error: unknown;
    const strategy: ShootdownStrategy = {
      name: 'defers-everything',
      flush: (ctx, req, done) => {
        try {
          ctx.deferRelease(req);
        } catch (e) {
          error = e;
        }
        new SynchronousShootdown().flush(ctx, req, done);
      },
    };
    const { r, vm, mm } = setup({ strategy });
    const s = mm.createSpace('p');
    mm.populate(s, 0, 4);
    const v0 = vm.vcpu(0);
    mm.switchTo(v0, s);
    sequence(v0, [(next) => mm.remap(v0, s, [1], next)]);
    r.hv.start();
    r.sim.run({ until: 5_000_000 });
    expect(String(error)).toMatch(/not a free under way/);
  });

  it('a stale entry of a quarantined page is used while the page stays unmapped, set aside once it is mapped again, and a stale use once released', () => {
    const d = deferring();
    const { r, vm, mm } = setup({ strategy: d.strategy });
    const s = mm.createSpace('p');
    mm.populate(s, 0, 4);
    const [v0, v1] = [vm.vcpu(0), vm.vcpu(1)];
    mm.switchTo(v0, s);
    mm.switchTo(v1, s);
    const seen: number[] = [];
    const at: Record<string, unknown> = {};
    const wait = (v: Vcpu, ns: number) => (next: () => void) => v.pushWork(ns, next);
    // v1 caches pages 2 and 3; v0 unmaps 2; v1 reads the old, held frame through its entry.
    sequence(v1, [
      (next) => mm.write(v1, 2, 5, next),
      (next) => mm.read(v1, 3, () => next()),
      wait(v1, 100_000),
      (next) => mm.read(v1, 2, (x) => (seen.push(x), next())),
      (next) => {
        at['staleUses'] = mm.lazyFrees.staleUses;
        at['leftBehind'] = mm.staleEntries().length;
        next();
      },
      wait(v1, 100_000),
      // v0 mapped page 2 again meanwhile: another range in reality; v1 walks to the new frame.
      (next) => mm.read(v1, 2, (x) => (seen.push(x), next())),
      wait(v1, 100_000),
      // Page 3 was freed and released without v1 sweeping: its entry is a stale translation.
      (next) => mm.read(v1, 3, () => next()),
    ]);
    sequence(v0, [
      wait(v0, 50_000),
      (next) => mm.unmap(v0, s, [2], next),
      wait(v0, 100_000),
      (next) => mm.faultIn(v0, s, 2, next),
      (next) => mm.unmap(v0, s, [3], next),
      (next) => {
        d.releases[1]!();
        at['leftAfterRelease'] = mm.staleEntries().map((e) => e.vpn);
        next();
      },
    ]);
    r.hv.start();
    r.sim.run({ until: 5_000_000 });
    expect(seen).toEqual([5, 0]);
    expect(at).toEqual({ staleUses: 1, leftBehind: 0, leftAfterRelease: [3] });
    expect(mm.lazyFrees.aliased).toBe(1);
    expect(mm.staleUses.map((u) => [u.vcpu, u.vpn])).toEqual([[1, 3]]);
  });
});

describe('onNextTickOrSwitch (ShootdownContext)', () => {
  it('runs at the vCPU\'s next context switch, once, and charges what it returns there', () => {
    const { vm, mm } = setup();
    const s = mm.createSpace('p');
    const v1 = vm.vcpu(1);
    const ran: number[] = [];
    mm.onNextTickOrSwitch(v1, (v) => (ran.push(v.index), 123));
    expect(mm.switchTo(v1, s)).toBe(123);
    expect(mm.switchTo(v1, s)).toBe(0);
    expect(ran).toEqual([1]);
  });

  it('runs at the vCPU\'s next tick when it does not switch, and its cost is charged on that vCPU', () => {
    const { r, vm, kernel, mm } = setup();
    new Scheduler(r.hv, vm, kernel);
    const v1 = vm.vcpu(1);
    const ran: number[] = [];
    let end = 0;
    const tickNs = kernel.localTimer.tickNs;
    v1.pushWork(2.5 * tickNs, () => (end = r.sim.now));
    mm.onNextTickOrSwitch(v1, () => (ran.push(r.sim.now), 50_000));
    r.hv.start();
    r.sim.run({ until: 10 * tickNs });
    expect(ran).toHaveLength(1);
    expect(ran[0]).toBeGreaterThanOrEqual(tickNs);
    expect(ran[0]).toBeLessThan(2 * tickNs);
    // The busy work ends later by the sweep's 50 us (and the ticks' own handlers).
    const ticks = kernel.localTimer.ticks[1]!;
    expect(end).toBeGreaterThanOrEqual(2.5 * tickNs + 50_000 + ticks * r.hv.costs.tickHandler);
  });
});

describe('filterIpiTargets (the sync strategy\'s allocation-free target filter)', () => {
  // Law: one in-place pass leaves at the front of the list what deferPreempted then skipLazy give, with the same marks.
  it('equals skipLazy after deferPreempted: same survivors in order, same flush-on-entry and catch-up marks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('running', 'preempted', 'lazy', 'away'), { minLength: 2, maxLength: 8 }),
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom<'skip' | 'leave'>('skip', 'leave'),
        (states, tlbFlush, freedTables, lazyTlb) => {
          const outcome = (fused: boolean) => {
            const { r, vm, kernel } = setup({ vcpus: states.length, tlbFlush });
            const mm = new MemoryManager(r.hv, vm, kernel, { strategy: new SynchronousShootdown(), coordination: 'smp', lazyTlb });
            const space = mm.createSpace('p');
            const other = mm.createSpace('q');
            states.forEach((s, i) => {
              const v = vm.vcpu(i);
              mm.switchTo(v, space);
              if (s === 'lazy') kernel.enterLazyTlb(v);
              if (s === 'away') mm.switchTo(v, other);
              if (s === 'preempted') v.setState('preempted');
            });
            const initiator = vm.vcpu(0);
            // A used scratch list: entries past the count must be ignored.
            const scratch = vm.vcpus.slice().reverse();
            const n = mm.flushTargetsInto(initiator, space, scratch);
            const loaded = mm.flushTargets(initiator, space);
            expect(scratch.slice(0, n)).toEqual(loaded);
            let kept: readonly Vcpu[] = loaded;
            if (fused) kept = scratch.slice(0, mm.filterIpiTargets(initiator, space, scratch, n, freedTables));
            else {
              // What the sync strategy did before the fused pass.
              if (mm.pvTlbFlush) kept = mm.deferPreempted(initiator, kept);
              if (!freedTables) kept = mm.skipLazy(space, kept);
            }
            return {
              targets: kept.map((t) => t.index),
              flushOnEntry: vm.vcpus.filter((v) => r.hv.hasFlushOnEntry(v)).map((v) => v.index),
              stale: [...space.lazyStale].sort((a, b) => a - b),
              skipped: mm.lockReport().lazyTlb.skipped,
            };
          };
          expect(outcome(true)).toEqual(outcome(false));
        },
      ),
    );
  });
});
