import fc from 'fast-check';
import { Simulation } from '@ipilab/core';
import { KVM_SKYLAKE_2018, resolveCosts } from '@ipilab/calibration';
import { EventSink, type ModelEvent } from '@ipilab/events';
import { HostTopology } from '@ipilab/host';
import { DEFAULT_HYPERVISOR_CONFIG, Hypervisor, type HostSchedulerPolicy, type IpiBackendFactory, type Placement, type Vm } from '@ipilab/hypervisor';
import type { Vcpu } from '@ipilab/vcpu';
import { assertLaw } from '../law-runner';
import { HOST_SCHEDULERS } from './ipi-delivery-law';

/** What one vCPU does: burn CPU forever, or run then sleep (halt until a timer interrupt) in a loop. */
export type VcpuBehaviour = { readonly kind: 'hog' } | { readonly kind: 'sleeper'; readonly runNs: number; readonly sleepNs: number };

/** One VM of a host-scheduler case: its vCPUs' behaviour (hogs, sleepers) and placement. */
export interface HostSchedVm {
  readonly vcpus: readonly VcpuBehaviour[];
  readonly placement: Placement;
  /** pCPUs a shared VM may use (indexes into the host; absent: all). */
  readonly pcpus?: readonly number[] | undefined;
  readonly weight: number;
}

/** A random host and VMs for the host-scheduler laws. */
export interface HostSchedScenario {
  readonly sockets: number;
  readonly coresPerSocket: number;
  readonly threadsPerCore: number;
  readonly migrate: boolean;
  readonly vms: readonly HostSchedVm[];
}

/** What one host-scheduler case recorded: who ran where and when, waits and wake-ups. */
export interface HostSchedOutcome {
  readonly hv: Hypervisor;
  readonly end: number;
  /** Every model event, when asked for (`record`). */
  readonly events: readonly ModelEvent[];
  /** Broken invariants seen while running (two vCPUs on one pCPU, a running vCPU its pCPU does not hold). */
  readonly violations: readonly string[];
  /** Per vCPU (by host thread id): the longest time it waited runnable, and its wake-up delays (woken -> in guest). */
  readonly longestWaitNs: readonly number[];
  readonly wakeDelaysNs: readonly (readonly number[])[];
}

const TIMER_VECTOR = 0xec;
const noIpis: IpiBackendFactory = () => ({ name: 'none', send: () => undefined });

const behaviourArb: fc.Arbitrary<VcpuBehaviour> = fc.oneof(
  fc.constant<VcpuBehaviour>({ kind: 'hog' }),
  fc.record({ kind: fc.constant('sleeper' as const), runNs: fc.integer({ min: 50_000, max: 2_000_000 }), sleepNs: fc.integer({ min: 50_000, max: 3_000_000 }) }),
);

/** The host-scheduler laws' cases. */
export const hostSchedScenarioArbitrary: fc.Arbitrary<HostSchedScenario> = fc
  .record({ sockets: fc.integer({ min: 1, max: 2 }), coresPerSocket: fc.integer({ min: 1, max: 3 }), threadsPerCore: fc.integer({ min: 1, max: 2 }), migrate: fc.boolean() })
  .chain((h) => {
    const n = h.sockets * h.coresPerSocket * h.threadsPerCore;
    const vm = fc.record({
      vcpus: fc.array(behaviourArb, { minLength: 1, maxLength: 4 }),
      placement: fc.constantFrom<Placement>('pinned', 'shared'),
      pcpus: fc.option(fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { minLength: 1, maxLength: n }), { nil: undefined }),
      weight: fc.constantFrom(335, 1024, 3121),
    });
    return fc.array(vm, { minLength: 1, maxLength: 3 }).map((vms): HostSchedScenario => ({ ...h, vms }));
  });

/** Runs a scenario under `policy` until `horizonNs`, checking the exclusivity invariant at every state change. */
export function runHostSchedScenario(s: HostSchedScenario, policy: HostSchedulerPolicy, horizonNs: number, record = false): HostSchedOutcome {
  const sim = new Simulation();
  const sink = new EventSink();
  const topology = new HostTopology({ sockets: s.sockets, coresPerSocket: s.coresPerSocket, threadsPerCore: s.threadsPerCore, ghz: 2.5 });
  const hv = new Hypervisor(sim, sink, topology, resolveCosts(KVM_SKYLAKE_2018), { ...DEFAULT_HYPERVISOR_CONFIG, hostScheduler: policy, migrate: s.migrate, timeSliceNs: 1_000_000 });
  // Pinned VMs take the lowest free pCPUs outside the sets earlier shared VMs listed, while at
  // least one pCPU stays unpinned (a pinned VM's pCPUs leave earlier shared VMs' affinity, so it
  // must not empty one); shared VMs keep the unpinned part of their set (all unpinned pCPUs when
  // nothing of it is left).
  const pinnedTaken = new Set<number>();
  const listedByShared = new Set<number>();
  const vms: Vm[] = s.vms.map((spec, i) => {
    const free = topology.pcpus.map((p) => p.id).filter((p) => !pinnedTaken.has(p));
    const candidates = free.filter((p) => !listedByShared.has(p));
    const pinned = spec.placement === 'pinned' && spec.vcpus.length < free.length && spec.vcpus.length <= candidates.length;
    const chosen = pinned ? candidates.slice(0, spec.vcpus.length) : [];
    for (const p of chosen) pinnedTaken.add(p);
    const sharedSet = spec.pcpus?.filter((p) => !pinnedTaken.has(p));
    if (!pinned) for (const p of sharedSet !== undefined && sharedSet.length > 0 ? sharedSet : free) listedByShared.add(p);
    return hv.addVm(
      {
        name: `vm${i}`,
        vcpus: spec.vcpus.length,
        placement: pinned ? 'pinned' : 'shared',
        ...(pinned ? { pcpus: chosen } : sharedSet === undefined || sharedSet.length === 0 ? {} : { pcpus: sharedSet }),
        apicMode: 'x2apic-physical',
        backend: 'none',
        weight: spec.weight,
      },
      noIpis,
    );
  });
  const all: Vcpu[] = vms.flatMap((vm) => [...vm.vcpus]);
  const events: ModelEvent[] = [];
  const violations: string[] = [];
  const waitStart = new Float64Array(all.length).fill(-1);
  const longestWait = new Array<number>(all.length).fill(0);
  const wokenAt = new Float64Array(all.length).fill(-1);
  const wakeDelays: number[][] = all.map(() => []);
  sink.subscribe((e) => {
    if (record) events.push(e);
    if (e.type !== 'vcpu-state') return;
    const v = vms[e.vcpu.vm]!.vcpu(e.vcpu.vcpu);
    const id = v.hostId;
    if (e.to === 'preempted') waitStart[id] = e.t;
    else if (e.from === 'preempted' && waitStart[id]! >= 0) {
      longestWait[id] = Math.max(longestWait[id]!, e.t - waitStart[id]!);
      waitStart[id] = -1;
    }
    if (e.to === 'in-guest' && wokenAt[id]! >= 0) {
      wakeDelays[id]!.push(e.t - wokenAt[id]!);
      wokenAt[id] = -1;
    }
    const holders = new Set<Vcpu>();
    for (const r of hv.runners) {
      if (r.current === null) continue;
      if (holders.has(r.current) && violations.length < 10) violations.push(`${e.t}: vCPU ${r.current.vm}.${r.current.index} held by two pCPUs`);
      holders.add(r.current);
    }
    for (const x of all) {
      if ((x.state === 'in-guest' || x.state === 'exited') && hv.runners[x.pcpu]!.current !== x && violations.length < 10) {
        violations.push(`${e.t}: vCPU ${x.vm}.${x.index} is ${x.state} on pCPU ${x.pcpu}, which runs ${hv.runners[x.pcpu]!.current?.index ?? 'nothing'}`);
      }
    }
  });
  /** A sleeper's cycle: run its burst, halt, and be woken by a timer interrupt `sleepNs` later. */
  const burstThenSleep = (v: Vcpu, b: Extract<VcpuBehaviour, { kind: 'sleeper' }>): void => {
    v.pushWork(b.runNs, () =>
      sim.schedule(b.sleepNs, () => {
        wokenAt[v.hostId] = sim.now;
        hv.deliver(null, v, TIMER_VECTOR, hv.newIpiId());
      }),
    );
  };
  s.vms.forEach((spec, i) => {
    const vm = vms[i]!;
    spec.vcpus.forEach((b, j) => {
      if (b.kind === 'hog') vm.vcpu(j).pushWork(1e15, () => undefined);
      else burstThenSleep(vm.vcpu(j), b);
    });
    hv.attachGuest(vm, {
      interrupt: (v) => {
        const b = spec.vcpus[v.index]!;
        v.pushWork(hv.costs.interruptEntry, () => {
          hv.eoi(v);
          if (b.kind === 'sleeper') burstThenSleep(v, b);
        });
      },
      flushedOnEntry: () => undefined,
    });
  });
  hv.start();
  sim.run({ until: horizonNs });
  for (let id = 0; id < all.length; id++) if (waitStart[id]! >= 0) longestWait[id] = Math.max(longestWait[id]!, sim.now - waitStart[id]!);
  return { hv, end: sim.now, events, violations, longestWaitNs: longestWait, wakeDelaysNs: wakeDelays };
}

/**
 * Conservation and exclusivity: never two vCPUs on one pCPU (and a running vCPU is always the
 * one its pCPU holds); each pCPU's time adds up to the run (occupants, switches included in the
 * incoming occupant's, plus idle); each VM held pCPUs at least as long as its vCPUs were in guest
 * or in the hypervisor; no runnable vCPU waits longer than `maxWaitNs`.
 */
export function checkHostSchedulerInvariants(o: HostSchedOutcome, maxWaitNs: number): void {
  if (o.violations.length > 0) throw new Error(`exclusivity: ${o.violations[0]} (${o.violations.length} in all)`);
  const occ = o.hv.occupancyByVm();
  const idle = o.hv.idleNsByPcpu();
  for (let p = 0; p < o.hv.runners.length; p++) {
    let sum = idle[p]!;
    for (const row of occ) sum += row[p]!;
    if (Math.abs(sum - o.end) > 1e-6) throw new Error(`pCPU ${p}: occupants + idle = ${sum} ns, expected the run's ${o.end} ns`);
  }
  o.hv.vms.forEach((vm, i) => {
    let held = 0;
    for (const x of occ[i]!) held += x;
    let ran = 0;
    for (const v of vm.vcpus) {
      const clock = { ...v.timeIn };
      clock[v.state] += o.end - v.since;
      ran += clock['in-guest'] + clock.exited;
    }
    if (held + 1e-6 < ran) throw new Error(`VM ${i} held pCPUs ${held} ns but its vCPUs ran ${ran} ns`);
  });
  const worst = Math.max(...o.longestWaitNs);
  if (worst > maxWaitNs) throw new Error(`a runnable vCPU waited ${worst} ns, over the bound of ${maxWaitNs} ns: starvation`);
}

/** How the host-scheduler laws run: the policy under test and fast-check's settings. */
export interface HostSchedulerLawOptions {
  /**
   * Longest a runnable vCPU may wait in the random scenarios (at most 12 threads on a pCPU), for
   * equal weights; a weighted policy's bound is scaled by the scenario's largest weight ratio.
   */
  readonly maxWaitNs: number;
  /** Largest |share - fair share| of CPU-bound vCPUs sharing one pCPU over `fairnessWindowNs`; absent: the policy does not promise fairness. */
  readonly fairnessTolerance?: number;
  readonly fairnessWindowNs?: number;
  /** Whether shares follow the weights (absent: equal shares are checked only for equal weights). */
  readonly weighted?: boolean;
  /**
   * A sleeper (sleeping at least as long as it runs) beside a CPU hog on one pCPU runs within
   * this of its wake-up; a function of the sleeper's burst (ns run before each sleep) for a
   * policy whose wake-up delay depends on it.
   */
  readonly wakeupBoundNs: number | ((runNs: number) => number);
  readonly numRuns?: number;
}

/** CPU-bound vCPUs with the given weights, one per VM, all on pCPU 0 of a 4-pCPU host: each one's share of the window. */
export function hogShares(policy: HostSchedulerPolicy, weights: readonly number[], windowNs: number): number[] {
  const s: HostSchedScenario = { sockets: 1, coresPerSocket: 2, threadsPerCore: 2, migrate: true, vms: weights.map((w) => ({ vcpus: [{ kind: 'hog' }], placement: 'shared', pcpus: [0], weight: w })) };
  const o = runHostSchedScenario(s, policy, windowNs);
  return o.hv.occupancyByVm().map((row) => row[0]! / o.end);
}

/**
 * The host-scheduler laws for any policy, a plugin's included: exclusivity and conservation and
 * no starvation over random hosts, placements, weights and sleep patterns; fairness among equal
 * (and, for weighted policies, unequal) CPU-bound vCPUs on one pCPU; a bounded wake-up delay for a
 * sleeper beside a hog; and determinism (the same scenario twice gives the same events).
 */
export function assertHostSchedulerLaws(policyUnderTest: HostSchedulerPolicy | 'eevdf' | 'cfs' | 'fifo', options: HostSchedulerLawOptions): void {
  const policy = typeof policyUnderTest === 'string' ? HOST_SCHEDULERS[policyUnderTest] : policyUnderTest;
  const runs = options.numRuns === undefined ? {} : { numRuns: options.numRuns };
  assertLaw(
    `host scheduler ${policy.name}: exclusive, conserving, no starvation`,
    hostSchedScenarioArbitrary,
    (s) => {
      // A light thread beside heavy ones waits longer in proportion: the bound scales with the weight spread.
      const weights = s.vms.map((v) => v.weight);
      const bound = options.maxWaitNs * (options.weighted === true ? Math.max(...weights) / Math.min(...weights) : 1);
      checkHostSchedulerInvariants(runHostSchedScenario(s, policy, Math.ceil(Math.max(60_000_000, 2 * bound))), bound);
    },
    runs,
  );
  assertLaw(
    `host scheduler ${policy.name}: deterministic`,
    hostSchedScenarioArbitrary,
    (s) => {
      const a = runHostSchedScenario(s, policy, 10_000_000, true).events;
      const b = runHostSchedScenario(s, policy, 10_000_000, true).events;
      if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error('two runs of the same scenario differ: the policy is not deterministic');
    },
    { numRuns: 20 },
  );
  if (options.fairnessTolerance !== undefined) {
    const tol = options.fairnessTolerance;
    const window = options.fairnessWindowNs ?? 200_000_000;
    assertLaw(
      `host scheduler ${policy.name}: fair shares`,
      fc.array(options.weighted === true ? fc.constantFrom(335, 1024, 3121) : fc.constant(1024), { minLength: 2, maxLength: 4 }),
      (weights) => {
        const shares = hogShares(policy, weights, window);
        const total = weights.reduce((a, b) => a + b, 0);
        weights.forEach((w, i) => {
          const fair = w / total;
          if (Math.abs(shares[i]! - fair) > tol) throw new Error(`weights ${weights.join(', ')}: vCPU ${i} got ${(shares[i]! * 100).toFixed(1)} % of the pCPU, fair is ${(fair * 100).toFixed(1)} % (tolerance ${tol * 100} points)`);
        });
      },
      { numRuns: 12 },
    );
  }
  // A sleeper that sleeps at least as long as it runs asks for no more than its fair half: it
  // wakes with no debt (EEVDF lag >= 0, CFS vruntime at or behind the hog's).
  assertLaw(
    `host scheduler ${policy.name}: bounded wake-up delay`,
    fc.tuple(fc.integer({ min: 50_000, max: 2_000_000 }), fc.integer({ min: 0, max: 3_000_000 })),
    ([runNs, extra]) => {
      const sleepNs = runNs + extra;
      const s: HostSchedScenario = {
        sockets: 1,
        coresPerSocket: 2,
        threadsPerCore: 2,
        migrate: true,
        vms: [
          { vcpus: [{ kind: 'hog' }], placement: 'shared', pcpus: [0], weight: 1024 },
          { vcpus: [{ kind: 'sleeper', runNs, sleepNs }], placement: 'shared', pcpus: [0], weight: 1024 },
        ],
      };
      const o = runHostSchedScenario(s, policy, 100_000_000);
      const delays = o.wakeDelaysNs[1]!;
      if (delays.length === 0) throw new Error('the sleeper never woke');
      const worst = Math.max(...delays);
      const bound = typeof options.wakeupBoundNs === 'number' ? options.wakeupBoundNs : options.wakeupBoundNs(runNs);
      if (worst > bound) throw new Error(`a sleeper beside a hog waited ${worst} ns after its wake-up, over the bound of ${bound} ns`);
    },
    { numRuns: 12 },
  );
}
