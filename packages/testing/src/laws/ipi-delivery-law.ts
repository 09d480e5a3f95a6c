import fc from 'fast-check';
import { Simulation } from '@ipilab/core';
import { KVM_SKYLAKE_2018, resolveCosts } from '@ipilab/calibration';
import { EventSink, type ModelEvent } from '@ipilab/events';
import { compute, GuestKernel, op, Scheduler, sleep, type Task } from '@ipilab/guest';
import { HostTopology, type ApicMode, type TopologySpec } from '@ipilab/host';
import { CFS_POLICY, DEFAULT_HYPERVISOR_CONFIG, EEVDF_POLICY, FIFO_POLICY, Hypervisor, type HostSchedulerPolicy, type IpiBackendFactory, type Placement, type Vm } from '@ipilab/hypervisor';
import type { Vcpu } from '@ipilab/vcpu';
import { apicModeArbitrary, hostArbitrary, vcpuCount, type Range } from '../arbitraries';
import { assertLaw, type LawRunOptions } from '../law-runner';

/** One randomly generated IPI workload: who sends what to whom, when, on what machine. */
export interface IpiScenario {
  readonly vcpus: number;
  readonly apicMode: ApicMode;
  readonly placement: Placement;
  /** pCPUs a shared VM time-shares (overcommit when fewer than vcpus). */
  readonly sharedPcpus: number;
  readonly postedInterrupts: boolean;
  readonly boost: boolean;
  /** Host scheduler policy and whether unpinned threads migrate. */
  readonly hostScheduler: 'eevdf' | 'cfs' | 'fifo';
  /** Send-side IPI virtualization the posted backend follows (absent: avic). */
  readonly postedFlavour?: 'ipiv' | 'avic';
  /** How the guest idles (absent: halt). */
  readonly idle?: 'halt' | 'poll' | 'haltpoll';
  readonly migrate: boolean;
  readonly senders: readonly { readonly sender: number; readonly ops: readonly { readonly gap: number; readonly targets: readonly number[] }[] }[];
  /** Run on bare metal (`hypervisor.mode: bare-metal`): the vCPUs are pinned CPUs, no hypervisor. */
  readonly bareMetal?: boolean;
  /**
   * Guest tasks beside the senders (absent: none): each computes, wakes the next and sleeps, a
   * dozen times, so the guest scheduler's wake-up IPIs (queued wake-ups, reschedules of wake-up
   * preemption), its tick and the local timer run on the same vCPUs as the cross-calls.
   */
  readonly guestTasks?: { readonly count: number; readonly hz: number; readonly policy: 'eevdf' | 'cfs'; readonly llcVcpus: number };
  /** Pause-loop exiting and directed yield (absent: off). */
  readonly ple?: boolean;
  /** The host (absent: 2 x 4 x 2 threads up to 12 vCPUs, 2 x 40 x 2 above). */
  readonly host?: TopologySpec;
  /**
   * A second VM with the same backend (absent: none), sending cross-calls of its own: shared on
   * the law VM's pCPUs when that one is shared, else on the pCPUs it leaves free. Every IPI must
   * stay within the VM that sent it, and the two VMs' exits share the hypervisor service.
   */
  readonly neighbour?: { readonly vcpus: number; readonly senders: IpiScenario['senders'] };
}

/** How many senders a case has, over both VMs: each must finish its cross-calls. */
export function sendersOf(s: IpiScenario): number {
  return s.senders.length + (s.neighbour?.senders.length ?? 0);
}

/** What the delivery law draws, and how often (its vCPU range, host choices, numRuns, seed, path). */
export interface IpiLawOptions {
  /** The backend needs receive-side posted interrupts (as hardware IPI virtualization does). */
  readonly requiresPostedInterrupts?: boolean;
  /** The backend runs on bare metal only (the native backend): every scenario is run with no hypervisor. */
  readonly bareMetal?: boolean;
  /** VM sizes to draw (default 2-288: mostly up to 12, one case in five from 64 up). */
  readonly vcpus?: Range;
}

/** Above this many vCPUs a scenario runs pinned on a host with room for it instead of the small one. */
const BIG_VM = 12;
const SMALL_HOST: TopologySpec = { sockets: 2, coresPerSocket: 4, threadsPerCore: 2, ghz: 2.5 };

/** The built-in host scheduler policies, by name. */
export const HOST_SCHEDULERS: Readonly<Record<'eevdf' | 'cfs' | 'fifo', HostSchedulerPolicy>> = { eevdf: EEVDF_POLICY, cfs: CFS_POLICY, fifo: FIFO_POLICY };

/** The delivery law's cases: a VM on a host, with senders and their cross-calls. */
export function ipiScenarioArbitrary(options: IpiLawOptions = {}): fc.Arbitrary<IpiScenario> {
  // Mostly small VMs on a small host; one in five large enough for the paths that change at 64,
  // 128 and 256 vCPUs (x2APIC cluster IDs past 64, a second PV send-IPI bitmap window), pinned on
  // a preset or random host with room for them.
  const size = vcpuCount({ min: Math.max(2, options.vcpus?.min ?? 2), max: options.vcpus?.max ?? 288 });
  const arb = size.chain((vcpus) =>
    fc.record({
      vcpus: fc.constant(vcpus),
      apicMode: apicModeArbitrary({ vcpus }),
      placement: vcpus > BIG_VM ? fc.constant<Placement>('pinned') : fc.constantFrom<Placement>('pinned', 'shared'),
      sharedPcpus: fc.integer({ min: 1, max: 4 }),
      postedInterrupts: options.requiresPostedInterrupts === true ? fc.constant(true) : fc.boolean(),
      boost: fc.boolean(),
      hostScheduler: fc.constantFrom<'eevdf' | 'cfs' | 'fifo'>('eevdf', 'cfs', 'fifo'),
      postedFlavour: fc.constantFrom<'ipiv' | 'avic'>('ipiv', 'avic'),
      idle: fc.constantFrom<'halt' | 'poll' | 'haltpoll'>('halt', 'poll', 'haltpoll'),
      migrate: fc.boolean(),
      ple: fc.boolean(),
      guestTasks: fc.record({ count: fc.integer({ min: 0, max: 4 }), hz: fc.constantFrom(250, 1000, 4000), policy: fc.constantFrom<'eevdf' | 'cfs'>('eevdf', 'cfs'), llcVcpus: fc.integer({ min: 1, max: vcpus }) }),
      senders: sendersArbitrary(vcpus),
      // Last: drawing it after the rest keeps small cases (and their shrinks) as they were before hosts were drawn.
      host: vcpus > BIG_VM ? hostArbitrary({ minCpus: vcpus }) : fc.constant(SMALL_HOST),
      // After the host, for the same reason; only beside small VMs on the small host.
      neighbour:
        vcpus > BIG_VM || options.bareMetal === true
          ? fc.constant(undefined)
          : fc.option(
              fc.integer({ min: 1, max: 6 }).chain((n) => fc.record({ vcpus: fc.constant(n), senders: sendersArbitrary(n) })),
              { nil: undefined, freq: 3 },
            ),
    }).map(({ neighbour, ...rest }): IpiScenario => (neighbour === undefined ? rest : { ...rest, neighbour })),
  );
  return options.bareMetal === true ? arb.map((s): IpiScenario => ({ ...s, bareMetal: true })) : arb;
}

/** Senders of a VM of `vcpus` vCPUs and their cross-calls (up to 3 senders, 5 calls each). */
function sendersArbitrary(vcpus: number): fc.Arbitrary<IpiScenario['senders']> {
  return fc.uniqueArray(
        fc.record({
          sender: fc.integer({ min: 0, max: vcpus - 1 }),
          ops: fc.array(
            fc.record({
              gap: fc.integer({ min: 0, max: 20_000 }),
              // Any set of targets, and now and then all of them (a broadcast, such as a shootdown to every vCPU).
              targets: fc.oneof(
                { weight: 3, arbitrary: fc.uniqueArray(fc.integer({ min: 0, max: vcpus - 1 }), { minLength: 1, maxLength: vcpus }) },
                { weight: 1, arbitrary: fc.constant(Array.from({ length: vcpus }, (_, i) => i)) },
              ),
            }),
            // minLength 0: fast-check shrinks an array only down to its minimum length, and removes
            // items from the front; with 0 any one op (and any one sender) can go.
            { minLength: 0, maxLength: 5 },
          ),
        }),
        { minLength: 0, maxLength: Math.min(vcpus, 3), selector: (s) => s.sender },
      );
}

/** What one delivery-law case recorded: every send, delivery and handler, and whether each sender finished. */
export interface IpiRunOutcome {
  readonly events: readonly ModelEvent[];
  /** Senders that finished all their operations. */
  readonly finishedSenders: number;
  readonly hv: Hypervisor;
  /** Directed yields (or PV sched yields) to a vCPU that was not waiting to run. */
  readonly yieldViolations?: readonly string[];
  /** PAUSE loops that ran in guest mode longer than the vCPU's PLE window without an exit. */
  readonly pleViolations?: readonly string[];
}

/** Runs a scenario on a small host with the given backend and returns every model event. */
export function runIpiScenario(s: IpiScenario, backend: IpiBackendFactory, horizonNs = 2_000_000_000): IpiRunOutcome {
  const sim = new Simulation();
  const sink = new EventSink();
  const events: ModelEvent[] = [];
  sink.subscribe((e) => events.push(e));
  const topology = new HostTopology(s.host ?? (s.vcpus > BIG_VM ? { sockets: 2, coresPerSocket: 40, threadsPerCore: 2, ghz: 2.5 } : SMALL_HOST));
  const costs = resolveCosts(KVM_SKYLAKE_2018);
  const hv = new Hypervisor(sim, sink, topology, costs, {
    ...DEFAULT_HYPERVISOR_CONFIG,
    mode: s.bareMetal === true ? 'bare-metal' : 'kvm',
    postedInterrupts: s.postedInterrupts,
    postedFlavour: s.postedFlavour ?? 'avic',
    boostIpiTargets: s.boost,
    hostScheduler: HOST_SCHEDULERS[s.hostScheduler],
    migrate: s.migrate,
    timeSliceNs: 200_000,
    // PLE needs a fair policy (scenarios refuse it with fifo, whose boost jumps the queue).
    ple: { ...DEFAULT_HYPERVISOR_CONFIG.ple, enabled: s.ple === true && s.hostScheduler !== 'fifo' },
  });
  // Directed yield (and PV sched yield) may only pick a vCPU waiting to run: never one running,
  // in an exit, or halted.
  const yieldViolations: string[] = [];
  for (const r of hv.runners) {
    const boost = r.boost.bind(r);
    r.boost = (t) => {
      if (t.vcpu.state !== 'preempted') yieldViolations.push(`yield to vCPU ${t.vcpu.index} while ${t.vcpu.state} at ${sim.now}`);
      boost(t);
    };
  }
  // With PLE, a PAUSE loop runs in guest mode for at most the vCPU's window, then exits (and may
  // yield): from the moment only another vCPU's turn could end the wait, at most one window is burnt.
  const pleViolations: string[] = [];
  const spinSince = new Map<Vcpu, { t: number; windowNs: number }>();
  const ple = hv.ple;
  const checkSpin = (v: Vcpu, at: number): void => {
    const open = spinSince.get(v);
    if (open === undefined) return;
    spinSince.delete(v);
    // The window's expiry is scheduled rounded to whole ns (at least 1).
    if (at - open.t > Math.max(1, Math.round(open.windowNs))) pleViolations.push(`vCPU ${v.index} spun ${at - open.t} ns in guest mode from ${open.t}, past its PLE window of ${open.windowNs} ns`);
  };
  if (ple !== null) {
    const activity = ple.activity.bind(ple);
    ple.activity = (v: Vcpu): void => {
      const spinning = v.state === 'in-guest' && v.pausing;
      if (spinning && !spinSince.has(v)) spinSince.set(v, { t: sim.now, windowNs: ple.windowOf(v) * ple.config.unitNs });
      else if (!spinning) checkSpin(v, sim.now);
      activity(v);
    };
  }
  // Bare metal: every vCPU is a CPU of its own (the host has more than any scenario asks for).
  const pinned = s.bareMetal === true || (s.placement === 'pinned' && s.vcpus <= topology.size);
  const vm = hv.addVm(
    {
      name: 'law',
      vcpus: s.vcpus,
      placement: pinned ? 'pinned' : 'shared',
      ...(pinned ? {} : { pcpus: topology.pcpus.slice(0, s.sharedPcpus).map((p) => p.id) }),
      apicMode: s.apicMode,
      ...(s.idle === undefined ? {} : { idle: s.idle }),
      ...(s.guestTasks === undefined ? {} : { hz: s.guestTasks.hz }),
      backend: 'under-test',
    },
    backend,
  );
  const kernel = new GuestKernel(hv, vm);
  // Handlings still owed: targets of IPIs sent, less handlings seen (for stopping once quiet).
  let owed = 0;
  sink.subscribe((e) => {
    if (e.type === 'ipi-sent') owed += e.targets.length;
    else if (e.type === 'ipi-handled') owed--;
  }, ['ipi-sent', 'ipi-handled']);
  const tasks: Task[] = [];
  const g = s.guestTasks;
  if (g !== undefined && g.count > 0) {
    const sched = new Scheduler(hv, vm, kernel, { policy: g.policy, llcVcpus: g.llcVcpus });
    for (let k = 0; k < g.count; k++) {
      tasks.push(
        sched.spawn(`law-task-${k}`, function* () {
          for (let i = 0; i < 12; i++) {
            yield compute(5_000 + ((k * 7 + i * 3) % 10) * 4_000);
            const partner = tasks[(k + 1) % tasks.length]!;
            yield op((v, resume) => sched.wake(partner, v, resume));
            yield sleep(10_000 + ((k + i) % 4) * 20_000);
          }
        }, { vcpu: (k * 3) % s.vcpus }),
      );
    }
  }
  let finished = 0;
  const send = (onVm: Vm, onKernel: GuestKernel, senders: IpiScenario['senders']): void => {
    const n = onVm.vcpus.length;
    for (const plan of senders) {
      const sender = onVm.vcpu(plan.sender);
      const step = (i: number): void => {
        if (i === plan.ops.length) {
          finished++;
          return;
        }
        const op = plan.ops[i]!;
        sender.pushWork(op.gap, () => {
          const others = op.targets.filter((t) => t !== plan.sender).map((t) => onVm.vcpu(t));
          const targets: Vcpu[] = others.length > 0 ? others : [onVm.vcpu((plan.sender + 1) % n)];
          onKernel.crossCall(sender, targets, () => step(i + 1));
        });
      };
      step(0);
    }
  };
  send(vm, kernel, s.senders);
  const nb = s.neighbour;
  if (nb !== undefined && s.bareMetal !== true) {
    const pcpus = pinned ? topology.pcpus.slice(s.vcpus).map((p) => p.id) : topology.pcpus.slice(0, s.sharedPcpus).map((p) => p.id);
    if (pcpus.length > 0) {
      const other = hv.addVm({ name: 'neighbour', vcpus: nb.vcpus, placement: 'shared', pcpus, apicMode: nb.vcpus > 255 ? 'x2apic-physical' : s.apicMode, backend: 'under-test' }, backend);
      send(other, new GuestKernel(hv, other), nb.senders);
    } else {
      finished += nb.senders.length;
    }
  }
  hv.start();
  // Until every sender and task has finished and every IPI sent has been handled everywhere
  // (or the horizon: something was lost), then 1 ms more, which would show a late second
  // handling. A polling idle vCPU keeps its tick: the run would otherwise tick on to the horizon.
  const quiet = (): boolean => finished === sendersOf(s) && owed <= 0 && tasks.every((t) => t.state === 'done');
  while (sim.now < horizonNs && !quiet()) sim.run({ until: Math.min(horizonNs, sim.now + 1_000_000) });
  sim.run({ until: Math.min(horizonNs, sim.now + 1_000_000) });
  for (const v of [...spinSince.keys()]) checkSpin(v, sim.now);
  return { events, finishedSenders: finished, hv, yieldViolations, pleViolations };
}

/**
 * The delivery law: every IPI sent is delivered to each of its targets exactly once (one
 * `ipi-delivered` per target per id: no loss, no duplicate) and handled there exactly once (one
 * `ipi-handled`), never before it was sent (an IPI delivered or handled before its `ipi-sent`,
 * or at an earlier time, breaks it), nothing reaches a vCPU it did not target, and every
 * sender's cross-calls complete.
 */
export function checkDeliveredExactlyOnce(outcome: IpiRunOutcome, expectedSenders: number): void {
  const sent = new Map<number, { t: number; vm: number; targets: Set<number> }>();
  const handled = new Map<string, number>();
  const delivered = new Map<string, number>();
  // Deliveries of ids not sent (yet): the hypervisor's own interrupts (timers) take ids too and
  // are never sent; an id sent after it was delivered was delivered before its send.
  const unsent = new Map<number, { t: number; vcpu: number }>();
  const seen = (id: number, vm: number, vcpu: number, t: number, what: string): void => {
    const s = sent.get(id);
    if (s === undefined) throw new Error(`IPI ${id} ${what} on vCPU ${vcpu} at ${t} ns but never sent`);
    if (vm !== s.vm) throw new Error(`IPI ${id} of VM ${s.vm} ${what} on vCPU ${vcpu} of VM ${vm}, another VM`);
    if (!s.targets.has(vcpu)) throw new Error(`IPI ${id} ${what} on vCPU ${vcpu}, which it did not target`);
    if (t < s.t) throw new Error(`IPI ${id} ${what} at ${t} ns, before it was sent at ${s.t} ns`);
  };
  for (const e of outcome.events) {
    if (e.type === 'ipi-sent') {
      if (sent.has(e.id)) throw new Error(`IPI ${e.id} sent twice`);
      const early = unsent.get(e.id);
      if (early !== undefined) throw new Error(`IPI ${e.id} delivered to vCPU ${early.vcpu} at ${early.t} ns, before it was sent (at ${e.t} ns)`);
      sent.set(e.id, { t: e.t, vm: e.from.vm, targets: new Set(e.targets) });
    } else if (e.type === 'ipi-delivered') {
      if (!sent.has(e.id)) {
        if (!unsent.has(e.id)) unsent.set(e.id, { t: e.t, vcpu: e.to.vcpu });
        continue;
      }
      seen(e.id, e.to.vm, e.to.vcpu, e.t, 'delivered');
      const key = `${e.id}/${e.to.vcpu}`;
      const n = (delivered.get(key) ?? 0) + 1;
      if (n > 1) throw new Error(`IPI ${e.id} delivered to vCPU ${e.to.vcpu} ${n} times (again at ${e.t} ns), expected exactly once`);
      delivered.set(key, n);
    } else if (e.type === 'ipi-handled') {
      seen(e.id, e.to.vm, e.to.vcpu, e.t, 'handled');
      const key = `${e.id}/${e.to.vcpu}`;
      handled.set(key, (handled.get(key) ?? 0) + 1);
    }
  }
  for (const [id, s] of sent) {
    for (const t of s.targets) {
      const n = handled.get(`${id}/${t}`) ?? 0;
      if (n !== 1) throw new Error(`IPI ${id} reached vCPU ${t} ${n} times, expected exactly once`);
      const d = delivered.get(`${id}/${t}`) ?? 0;
      if (d !== 1) throw new Error(`IPI ${id} delivered to vCPU ${t} ${d} times, expected exactly once`);
    }
  }
  if (outcome.yieldViolations !== undefined && outcome.yieldViolations.length > 0) throw new Error(outcome.yieldViolations[0]);
  if (outcome.pleViolations !== undefined && outcome.pleViolations.length > 0) throw new Error(outcome.pleViolations[0]);
  if (outcome.finishedSenders !== expectedSenders) {
    throw new Error(`${expectedSenders - outcome.finishedSenders} of ${expectedSenders} senders never finished their cross-calls`);
  }
}

/**
 * The law as a property over random machines (presets and random topologies), VM sizes from 2 to
 * 288 vCPUs, APIC modes (x2APIC cluster IDs past 64 included), placements (pinned and
 * overcommitted) and send patterns: run it against any backend factory, a plugin's included.
 * Default 100 cases (FC_NUM_RUNS scales them); a failure is a `LawFailure` with seed, path,
 * shrunk case and replay command.
 */
export function assertDeliveredExactlyOnce(backend: IpiBackendFactory, options: IpiLawOptions & LawRunOptions & { readonly horizonNs?: number } = {}): void {
  assertLaw('exactly-once delivery', ipiScenarioArbitrary(options), (s) => checkDeliveredExactlyOnce(runIpiScenario(s, backend, options.horizonNs), sendersOf(s)), options);
}
