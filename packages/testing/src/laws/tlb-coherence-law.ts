import fc from 'fast-check';
import { Simulation } from '@ipilab/core';
import { KVM_SKYLAKE_2018, resolveCosts } from '@ipilab/calibration';
import { EventSink } from '@ipilab/events';
import { BatchedShootdown, BroadcastInvalidation, GuestKernel, MemoryManager, Scheduler, SynchronousShootdown, type Coordination, type ShootdownStrategy } from '@ipilab/guest';
import { HostTopology, type ApicMode } from '@ipilab/host';
import { HOST_SCHEDULERS } from './ipi-delivery-law';
import { DEFAULT_HYPERVISOR_CONFIG, Hypervisor, type IpiBackendFactory } from '@ipilab/hypervisor';
import { assertLaw, type LawRunOptions } from '../law-runner';

/** One operation of a TLB-coherence case: a read, a write, a remap, an unmap (and fault back in), a switch, a split, a sleep, an idle. */
export type TlbOp =
  | { readonly kind: 'read' | 'write'; readonly vpn: number; readonly gap: number }
  | { readonly kind: 'remap'; readonly vpns: readonly number[]; readonly gap: number }
  /**
   * munmap the pages (a free: a lazy strategy may let the initiator go before every TLB dropped
   * them, and release their frames later), then map and touch them again, as a malloc loop does.
   */
  | { readonly kind: 'unmap'; readonly vpns: readonly number[]; readonly gap: number }
  | { readonly kind: 'switch'; readonly gap: number }
  | { readonly kind: 'split'; readonly gap: number }
  /** Sleep on a timer: the vCPU may halt; the timer interrupt's continuation resumes the actor. */
  | { readonly kind: 'sleep'; readonly gap: number }
  /**
   * After `gap`, go idle in lazy TLB mode for `ns` (the space stays loaded; shootdowns that free
   * no page tables skip the vCPU), then switch back to the space, catching up on what was skipped.
   */
  | { readonly kind: 'idle'; readonly gap: number; readonly ns: number };

/** A TLB-coherence case: the VM, its strategy and coordination, and each actor's operations. */
export interface TlbScenario {
  readonly vcpus: number;
  readonly shared: boolean;
  readonly sharedPcpus: number;
  readonly apicMode: ApicMode;
  readonly postedInterrupts: boolean;
  readonly pvTlbFlush: boolean;
  /** PV sched yield after multicasts (a guest feature, under every backend). Absent: off. */
  readonly pvSchedYield?: boolean;
  readonly strategy: 'sync' | 'invlpgb' | 'invlpgb-all' | 'batched';
  readonly coordination: Coordination;
  /** Lazy-TLB handling (absent: skip). */
  readonly lazyTlb?: 'skip' | 'leave';
  readonly hostScheduler: 'eevdf' | 'cfs' | 'fifo';
  /** Send-side IPI virtualization the posted backend follows (absent: avic). */
  readonly postedFlavour?: 'ipiv' | 'avic';
  /** How the guest idles (absent: halt). */
  readonly idle?: 'halt' | 'poll' | 'haltpoll';
  /** The guest's tick rate, with a scheduler attached so the tick runs (absent: no tick). */
  readonly hz?: number | undefined;
  readonly actors: readonly { readonly vcpu: number; readonly ops: readonly TlbOp[] }[];
  /** Run on bare metal (`hypervisor.mode: bare-metal`): pinned CPUs, no hypervisor. */
  readonly bareMetal?: boolean;
  /** Fault injection `faults.dropIpiFence`: no fence between the PTE writes and the shootdown IPI (absent: fenced, as Linux). */
  readonly dropIpiFence?: boolean;
}

const SMALL_PAGES = 12;
const HUGE_INDEX = 1;
const vpnArb = fc.oneof(fc.integer({ min: 0, max: SMALL_PAGES - 1 }), fc.integer({ min: HUGE_INDEX * 512, max: HUGE_INDEX * 512 + 3 }));

const opArb: fc.Arbitrary<TlbOp> = fc.oneof(
  fc.record({ kind: fc.constantFrom('read' as const, 'write' as const), vpn: vpnArb, gap: fc.integer({ min: 0, max: 3_000 }) }),
  fc.record({ kind: fc.constant('remap' as const), vpns: fc.uniqueArray(fc.integer({ min: 0, max: SMALL_PAGES - 1 }), { minLength: 1, maxLength: 4 }), gap: fc.integer({ min: 0, max: 3_000 }) }),
  fc.record({ kind: fc.constant('unmap' as const), vpns: fc.uniqueArray(fc.integer({ min: 0, max: SMALL_PAGES - 1 }), { minLength: 1, maxLength: 4 }), gap: fc.integer({ min: 0, max: 3_000 }) }),
  fc.record({ kind: fc.constant('switch' as const), gap: fc.integer({ min: 0, max: 3_000 }) }),
  fc.record({ kind: fc.constant('split' as const), gap: fc.integer({ min: 0, max: 3_000 }) }),
  fc.record({ kind: fc.constant('sleep' as const), gap: fc.integer({ min: 1, max: 20_000 }) }),
  fc.record({ kind: fc.constant('idle' as const), gap: fc.integer({ min: 0, max: 3_000 }), ns: fc.integer({ min: 1, max: 20_000 }) }),
);

/** Above this many vCPUs a scenario runs pinned on a 160-thread host. */
const BIG_VM = 6;

// Mostly small VMs; one in ten of 64-130 vCPUs, whose actors can sit beyond APIC ID 64 or 128
// (x2APIC cluster IDs, a second PV send-IPI bitmap window in the shootdown's IPI).
/** The TLB-coherence law's cases (2-130 vCPUs). */
export const tlbScenarioArbitrary: fc.Arbitrary<TlbScenario> = fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 2, max: BIG_VM }) }, { weight: 1, arbitrary: fc.constantFrom(64, 65, 129, 130) }).chain((vcpus) =>
  fc.record({
    vcpus: fc.constant(vcpus),
    shared: vcpus > BIG_VM ? fc.constant(false) : fc.boolean(),
    sharedPcpus: fc.integer({ min: 1, max: 3 }),
    apicMode: fc.constantFrom<ApicMode>('xapic', 'x2apic-physical', 'x2apic-cluster'),
    postedInterrupts: fc.boolean(),
    pvTlbFlush: fc.boolean(),
    pvSchedYield: fc.boolean(),
    strategy: fc.constantFrom('sync' as const, 'invlpgb' as const, 'invlpgb-all' as const, 'batched' as const),
    coordination: fc.constantFrom<Coordination>('smp', 'amp'),
    lazyTlb: fc.constantFrom<'skip' | 'leave'>('skip', 'leave'),
    hostScheduler: fc.constantFrom<'eevdf' | 'cfs' | 'fifo'>('eevdf', 'cfs', 'fifo'),
    postedFlavour: fc.constantFrom<'ipiv' | 'avic'>('ipiv', 'avic'),
    idle: fc.constantFrom<'halt' | 'poll' | 'haltpoll'>('halt', 'poll', 'haltpoll'),
    hz: fc.constantFrom<number | undefined>(undefined, 250, 4000),
    // In a big VM the actors sit at the edges of the APIC-ID ranges that change the paths.
    actors: fc.uniqueArray(fc.record({ vcpu: vcpus > BIG_VM ? fc.constantFrom(...[0, 1, 63, 64, 127, 128, vcpus - 1].filter((i) => i < vcpus)) : fc.integer({ min: 0, max: vcpus - 1 }), ops: fc.array(opArb, { minLength: 1, maxLength: 8 }) }), {
      minLength: 1,
      maxLength: Math.min(3, vcpus),
      selector: (a) => a.vcpu,
    }),
  }),
);

/** The built-in shootdown strategies by name, each call a fresh instance (batched keeps per-space state). */
export const BUILTIN_SHOOTDOWN_STRATEGIES: Readonly<Record<TlbScenario['strategy'], () => ShootdownStrategy>> = {
  sync: () => new SynchronousShootdown(),
  invlpgb: () => new BroadcastInvalidation(),
  'invlpgb-all': () => new BroadcastInvalidation('always'),
  batched: () => new BatchedShootdown(4, 20_000),
};

function strategyFor(name: TlbScenario['strategy']): ShootdownStrategy {
  return BUILTIN_SHOOTDOWN_STRATEGIES[name]();
}

/** The strategy a law is given: a built-in's name, or a factory making a fresh instance per run. */
export type StrategyUnderTest = TlbScenario['strategy'] | (() => ShootdownStrategy);

function strategyFactory(s: StrategyUnderTest): () => ShootdownStrategy {
  if (typeof s === 'function') return s;
  if (!Object.hasOwn(BUILTIN_SHOOTDOWN_STRATEGIES, s)) throw new Error(`unknown shootdown strategy ${JSON.stringify(s)}: one of ${Object.keys(BUILTIN_SHOOTDOWN_STRATEGIES).join(', ')}, or pass a factory`);
  return BUILTIN_SHOOTDOWN_STRATEGIES[s];
}

/** What one TLB-coherence case left: the memory manager's books and whether every operation finished. */
export interface TlbRunOutcome {
  readonly mm: MemoryManager;
  readonly finishedActors: number;
}

/**
 * Runs a scenario: a parent space with small pages and a huge page is forked (so writes take
 * copy-on-write faults), then each actor vCPU reads, writes, remaps pages, switches between
 * parent and child and splits the huge page, interleaved in time with the others.
 */
export function runTlbScenario(s: TlbScenario, backend: IpiBackendFactory, requiresPosted = false, strategy?: ShootdownStrategy): TlbRunOutcome {
  const sim = new Simulation();
  const topology = s.vcpus > 160 ? new HostTopology({ sockets: 2, coresPerSocket: 72, threadsPerCore: 2, ghz: 2.5 }) : s.vcpus > BIG_VM ? new HostTopology({ sockets: 2, coresPerSocket: 40, threadsPerCore: 2, ghz: 2.5 }) : new HostTopology({ sockets: 2, coresPerSocket: 3, threadsPerCore: 1, ghz: 2.5 });
  const hv = new Hypervisor(sim, new EventSink(), topology, resolveCosts(KVM_SKYLAKE_2018), {
    ...DEFAULT_HYPERVISOR_CONFIG,
    mode: s.bareMetal === true ? 'bare-metal' : 'kvm',
    postedInterrupts: requiresPosted || s.postedInterrupts,
    postedFlavour: s.postedFlavour ?? 'avic',
    hostScheduler: HOST_SCHEDULERS[s.hostScheduler],
    timeSliceNs: 100_000,
  });
  const shared = s.shared && s.bareMetal !== true;
  const vm = hv.addVm(
    {
      name: 'tlb',
      vcpus: s.vcpus,
      placement: shared ? 'shared' : 'pinned',
      ...(shared ? { pcpus: [0, 1, 2].slice(0, s.sharedPcpus) } : {}),
      apicMode: s.apicMode,
      ...(s.idle === undefined ? {} : { idle: s.idle }),
      ...(s.hz === undefined ? {} : { hz: s.hz }),
      backend: 'under-test',
      pv: { tlbFlush: s.pvTlbFlush, schedYield: s.pvSchedYield === true },
    },
    backend,
  );
  const kernel = new GuestKernel(hv, vm);
  // A scheduler with no tasks: its tick interrupts (and their timer exits) land among the shootdowns.
  if (s.hz !== undefined) new Scheduler(hv, vm, kernel);
  const mm = new MemoryManager(hv, vm, kernel, {
    strategy: strategy ?? strategyFor(s.strategy),
    coordination: s.coordination,
    ...(s.lazyTlb === undefined ? {} : { lazyTlb: s.lazyTlb }),
    ...(s.dropIpiFence === true ? { faults: { dropIpiFence: true } } : {}),
  });
  const parent = mm.createSpace('parent');
  mm.populate(parent, 0, SMALL_PAGES);
  mm.populateHuge(parent, HUGE_INDEX, 1);
  let finished = 0;
  const starter = vm.vcpu(s.actors[0]!.vcpu);
  mm.switchTo(starter, parent);
  starter.pushWork(0, () =>
    mm.fork(starter, parent, 'child', (child) => {
      for (const a of s.actors) {
        const v = vm.vcpu(a.vcpu);
        // A sleeping actor is a task woken by its timer: on the AMP master it runs again once the
        // master has finished the flushes queued to it, not on top of them, where it could spin on
        // a page-table lock whose holder waits for that very flush.
        const resume = (fn: () => void): void => {
          const go = (): void => {
            if (v === mm.master && mm.ampPending) kernel.timer(v, 1_000, go);
            else fn();
          };
          go();
        };
        const step = (i: number): void => {
          if (i === a.ops.length) {
            finished++;
            return;
          }
          const op = a.ops[i]!;
          const next = (): void => step(i + 1);
          v.pushWork(op.gap, () => {
            const space = mm.current[v.index]!;
            // A page another actor unmapped is faulted back in first, as a touch of it would be.
            const mapped = (vpn: number, fn: () => void): void => {
              if (space.translate(vpn) === undefined) mm.faultIn(v, space, vpn, () => mapped(vpn, fn));
              else fn();
            };
            switch (op.kind) {
              case 'read':
                mapped(op.vpn, () => mm.read(v, op.vpn, () => next()));
                return;
              case 'write':
                mapped(op.vpn, () => mm.write(v, op.vpn, i + 1, next));
                return;
              case 'remap':
                mm.remap(v, space, op.vpns, next);
                return;
              case 'unmap': {
                const refault = (k: number): void => {
                  if (k === op.vpns.length) next();
                  else mapped(op.vpns[k]!, () => refault(k + 1));
                };
                mm.unmap(v, space, op.vpns, () => refault(0));
                return;
              }
              case 'switch':
                mm.switchTo(v, space === parent ? child : parent);
                next();
                return;
              case 'split':
                if (space.isHuge(HUGE_INDEX)) mm.splitHuge(v, space, HUGE_INDEX, next);
                else next();
                return;
              case 'sleep':
                kernel.timer(v, op.gap, () => resume(next));
                return;
              case 'idle':
                mm.enterLazy(v);
                kernel.timer(v, op.ns, () =>
                  resume(() => {
                    mm.switchTo(v, space);
                    next();
                  }),
                );
                return;
            }
          });
        };
        // Each actor is a task woken onto its vCPU (a reschedule IPI when it is another vCPU).
        kernel.wakeOn(starter, v, () => {
          mm.switchTo(v, a.vcpu % 2 === 0 ? parent : child);
          step(0);
        });
      }
    }),
  );
  hv.start();
  // Until every actor has finished (or the horizon: a lost acknowledgement), then 1 ms more: a
  // polling idle vCPU keeps its tick, and the run would otherwise go on ticking to the horizon.
  const horizon = 2_000_000_000;
  while (sim.now < horizon && finished < s.actors.length) sim.run({ until: Math.min(horizon, sim.now + 1_000_000) });
  sim.run({ until: Math.min(horizon, sim.now + 1_000_000) });
  return { mm, finishedActors: finished };
}

/**
 * The coherence law: no stale translation used, none left behind, every operation finished. A
 * lazy strategy's stale entries of a freed range whose frames it has not released yet
 * (`ShootdownContext.deferRelease`) are neither: the memory manager counts them apart
 * (`MemoryManager.lazyFrees`); once the frames are released, or the range is mapped again after
 * that, such an entry is a stale translation like any other.
 */
export function checkTlbCoherence(outcome: TlbRunOutcome, actors: number): void {
  const { mm } = outcome;
  if (mm.staleUses.length > 0) {
    const u = mm.staleUses[0]!;
    throw new Error(`vCPU ${u.vcpu} used a stale translation of ${u.space} page ${u.vpn} at ${u.at} ns (entry of version ${u.version}, page at ${u.committed}; ${mm.staleUses.length} stale uses)`);
  }
  const left = mm.staleEntries();
  if (left.length > 0) {
    const e = left[0]!;
    throw new Error(`stale TLB entries left after their shootdowns completed: vCPU ${e.vcpu} holds ${e.space} page ${e.vpn} of version ${e.version}, a shootdown of version ${e.committed} completed at ${e.since} ns (${left.length} stale entries)`);
  }
  if (outcome.finishedActors !== actors) throw new Error(`${actors - outcome.finishedActors} of ${actors} actors never finished (a lost acknowledgement?)`);
}

export interface TlbLawOptions extends LawRunOptions {
  /** The strategy under test (a built-in's name or a factory); absent: every built-in, drawn per case. */
  readonly strategy?: StrategyUnderTest;
  readonly requiresPostedInterrupts?: boolean;
  readonly bareMetal?: boolean;
}

/**
 * After a shootdown completes, no vCPU uses a stale translation, none is left behind, and every
 * operation finishes — for any backend and any strategy (the one under test, or every built-in
 * drawn per case), SMP and AMP coordination, VMs of 2-288 vCPUs. Default 100 cases. A lazy
 * strategy's deferred free (`ShootdownContext.deferRelease`) may leave entries of the freed
 * range until it releases the frames, never after; an in-place change is coherent at `done`.
 */
export function assertTlbCoherence(backend: IpiBackendFactory, options: TlbLawOptions = {}): void {
  const scenarios = options.bareMetal === true ? tlbScenarioArbitrary.map((s): TlbScenario => ({ ...s, bareMetal: true })) : tlbScenarioArbitrary;
  const make = options.strategy === undefined ? undefined : strategyFactory(options.strategy);
  // A built-in under test by name: the printed case names it (a factory's case keeps its drawn name, unused).
  const named = options.strategy;
  const cases = typeof named === 'string' ? scenarios.map((s): TlbScenario => ({ ...s, strategy: named })) : scenarios;
  const law = make === undefined ? 'TLB coherence' : `TLB coherence (${make().name})`;
  assertLaw(law, cases, (s) => checkTlbCoherence(runTlbScenario(s, backend, options.requiresPostedInterrupts === true, make?.()), s.actors.length), options);
}
