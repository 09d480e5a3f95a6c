import { InvalidParameterError, KernelError, type EventHandle, type Simulation } from '@ipilab/core';
import type { Costs } from '@ipilab/calibration';
import type { EventSink, ExitReason } from '@ipilab/events';
import { checkApicMode, InterruptFabric, maxApicId, type HostTopology } from '@ipilab/host';
import { Vcpu } from '@ipilab/vcpu';
import { BareMetal } from './bare-metal';
import { HypervisorService } from './hypervisor-service';
import type { IpiBackendFactory } from './ipi-backend';
import { Balancer } from './migration';
import { PcpuRunner } from './pcpu-runner';
import { VcpuPlacement } from './placement';
import { EEVDF_POLICY } from './sched/eevdf-policy';
import { SmtContention } from './smt';
import { HostThread, NICE_0_WEIGHT, type HostSchedulerPolicy } from './sched/host-scheduler';
import { Vm, type VmSpec } from './vm';

/**
 * `kvm`: VMs run under KVM (exits, the host scheduler, halt polling, posted interrupts).
 * `bare-metal`: no hypervisor at all: one VM whose vCPUs are the machine's CPUs, for the
 * "what does virtualization cost" baseline (bare-metal.ts).
 */
export type HypervisorMode = 'kvm' | 'bare-metal';
export const HYPERVISOR_MODES: readonly HypervisorMode[] = ['kvm', 'bare-metal'];

export interface HypervisorConfig {
  /** KVM, or the same host with no hypervisor (the native baseline). */
  readonly mode: HypervisorMode;
  /** Receive-side posted interrupts (Intel APICv / AMD AVIC): running targets take IPIs without an exit, EOI is virtualized. */
  readonly postedInterrupts: boolean;
  /** Put a vCPU that receives an interrupt at the head of its pCPU's run queue and preempt the current one. */
  readonly boostIpiTargets: boolean;
  /** Servers of the shared hypervisor service; Infinity: exits never queue. */
  readonly serviceCapacity: number;
  /** Exit reasons whose handling holds the shared service. */
  readonly serviceReasons: readonly ExitReason[];
  /** The host's scheduling policy for vCPU threads (`eevdf`, `cfs`, `fifo` or a plugin's). */
  readonly hostScheduler: HostSchedulerPolicy;
  /** Host scheduler tick rate (CONFIG_HZ). */
  readonly hz: number;
  /** Unpinned vCPU threads move between the pCPUs they may use (wake-up placement and load balancing). */
  readonly migrate: boolean;
  /** Time slice of the legacy `fifo` policy. */
  readonly timeSliceNs: number;
  /**
   * KVM halt polling (virt/kvm/kvm_main.c): a halted vCPU spins on its pCPU for its own window
   * before blocking; the window grows (x grow, from growStartNs) after a short block and shrinks
   * (/ shrink, or to 0 when shrink is 0) after a block longer than maxNs. maxNs 0 disables it.
   */
  readonly haltPoll: HaltPollConfig;
}

export interface HaltPollConfig {
  readonly maxNs: number;
  readonly grow: number;
  readonly growStartNs: number;
  readonly shrink: number;
}

export const DEFAULT_HYPERVISOR_CONFIG: HypervisorConfig = {
  mode: 'kvm',
  postedInterrupts: true,
  boostIpiTargets: false,
  serviceCapacity: Infinity,
  serviceReasons: ['apic-write', 'hypercall', 'incomplete-ipi', 'io'],
  hostScheduler: EEVDF_POLICY,
  // CONFIG_HZ=1000: Ubuntu's and Fedora's x86-64 kernels (RHEL's is 1000 too); Debian's is 250.
  hz: 1000,
  migrate: true,
  // fifo only: CFS gives each of two runnable tasks half of its 6 ms scheduling latency (estimate; kernel default sysctl_sched_latency).
  timeSliceNs: 3_000_000,
  // KVM_HALT_POLL_NS_DEFAULT (x86) 200000, halt_poll_ns_grow 2, halt_poll_ns_grow_start 10000;
  // halt_poll_ns_shrink was 0 in 4.x kernels (reset to 0), 2 in current ones.
  haltPoll: { maxNs: 200_000, grow: 2, growStartNs: 10_000, shrink: 0 },
};


/** How the sender's exit ends: `done()` re-enters the guest. */
export type ExitBody = (done: () => void) => void;

/**
 * The hypervisor: VMs, vCPU placement and scheduling on pCPUs, VM-exit handling with a cost
 * per exit reason, the shared service, and the delivery path every backend uses:
 *
 *   target in guest  -> posted (notification IPI, no exit) or kicked (IPI, external-interrupt exit)
 *   target exited    -> pended, injected on its next entry
 *   target halted    -> woken: a polling vCPU re-enters at once, a blocked one is scheduled
 *   target preempted -> pended until it next runs (optionally boosted)
 *
 * Everything is wired once; per-event work touches only fields and the calendar.
 */
export class Hypervisor {
  readonly vms: Vm[] = [];
  readonly runners: PcpuRunner[];
  readonly fabric: InterruptFabric;
  readonly service: HypervisorService;
  /** One host thread per vCPU, by `Vcpu.hostId`. */
  readonly threads: HostThread[] = [];
  /** SMT contention between sibling threads; null on a host without SMT. */
  readonly smt: SmtContention | null;
  /** Moves unpinned threads between pCPUs; null when `migrate` is off. */
  readonly balancer: Balancer | null;
  /** ns each VM's threads held each pCPU: occupancy[vm][pcpu]. */
  private occupancy: Float64Array[] = [];
  private readonly idleNs: Float64Array;
  private queuedThreads = 0;
  private balanceArmed = false;
  private readonly placement: VcpuPlacement;
  private nextIpi = 0;
  private readonly pollEnd = new Map<Vcpu, EventHandle>();
  /** vCPUs the PV TLB flush marked: the host flushes their TLB on their next VM entry. */
  private readonly flushOnEntry = new Set<Vcpu>();
  /** Exit reasons that hold the shared service (none when its capacity is unlimited). */
  private readonly serviceReasons: ReadonlySet<ExitReason>;
  /**
   * The native paths when `config.mode` is `bare-metal` (null under KVM). Where the two differ —
   * start, halt, delivery, EOI — the hypervisor hands over to it; every exit path refuses to run.
   */
  readonly bareMetal: BareMetal | null;
  /** Guest hook: the host flushed this vCPU's TLB on entry (KVM_VCPU_FLUSH_TLB). */
  onFlushOnEntry: (vcpu: Vcpu) => void = () => undefined;

  constructor(
    readonly sim: Simulation,
    readonly sink: EventSink,
    readonly topology: HostTopology,
    readonly costs: Costs,
    readonly config: HypervisorConfig = DEFAULT_HYPERVISOR_CONFIG,
  ) {
    if (!(HYPERVISOR_MODES as readonly string[]).includes(config.mode)) {
      throw new InvalidParameterError('hypervisor.mode', config.mode, HYPERVISOR_MODES.map((m) => JSON.stringify(m)).join(' or '));
    }
    if (!(config.serviceCapacity >= 1)) {
      throw new InvalidParameterError('hypervisor.serviceCapacity', config.serviceCapacity, 'a number of servers >= 1 (Infinity for none)');
    }
    if (!(Number.isSafeInteger(config.timeSliceNs) && config.timeSliceNs > 0)) {
      throw new InvalidParameterError('hypervisor.timeSliceNs', config.timeSliceNs, 'a positive integer number of ns');
    }
    if (!(Number.isFinite(config.hz) && config.hz >= 1 && config.hz <= 10_000)) {
      throw new InvalidParameterError('hypervisor.scheduler.hz', config.hz, 'a tick rate in Hz in [1, 10000] (CONFIG_HZ: 100, 250, 300 or 1000)');
    }
    this.fabric = new InterruptFabric(
      topology,
      { self: 0, smt: costs.ipiWireSmt, socket: costs.ipiWireSocket, remote: costs.ipiWireRemote },
      { self: 0, smt: costs.cacheLineSmt, socket: costs.cacheLineSocket, remote: costs.cacheLineRemote },
    );
    this.service = new HypervisorService(config.serviceCapacity, () => sim.now);
    this.serviceReasons = new Set(config.serviceCapacity === Infinity ? [] : config.serviceReasons);
    const n = topology.size;
    const tickNs = 1e9 / config.hz;
    this.runners = topology.pcpus.map(
      (p) =>
        new PcpuRunner(
          this,
          p.id,
          config.hostScheduler.createRunqueue({ pcpu: p.id, nrCpus: n, hz: config.hz, tickPhaseNs: Math.floor(((tickNs / 2) * p.id) / n), timeSliceNs: config.timeSliceNs }),
        ),
    );
    this.placement = new VcpuPlacement(topology);
    this.idleNs = new Float64Array(topology.size);
    this.bareMetal = config.mode === 'bare-metal' ? new BareMetal(this) : null;
    // On bare metal every CPU runs its own code: there is no vCPU thread to move.
    this.balancer = config.migrate && this.bareMetal === null ? new Balancer(this, this.runners, topology) : null;
    // SMT contention is the core's, not the hypervisor's: it applies on bare metal too.
    const smt = new SmtContention(topology, this.runners, costs.smtCoreThroughput, costs.smtPauseShare);
    this.smt = smt.active ? smt : null;
  }

  get policy(): HostSchedulerPolicy {
    return this.config.hostScheduler;
  }

  threadOf(v: Vcpu): HostThread {
    return this.threads[v.hostId]!;
  }

  /** A fresh IPI id for `ipi-sent` / `ipi-handled` events. */
  newIpiId(): number {
    return this.nextIpi++;
  }

  /**
   * Creates a VM: validates its shape against the host, places its vCPUs, builds its backend.
   * vCPU i gets APIC ID i (QEMU's numbering for a flat topology).
   */
  addVm(spec: VmSpec, backend: IpiBackendFactory): Vm {
    const field = `vms[${this.vms.length}]`;
    if (this.bareMetal !== null) {
      if (this.vms.length > 0) throw new InvalidParameterError('vms', this.vms.length + 1, 'exactly one VM when hypervisor.mode is bare-metal: its vCPUs are the machine\'s CPUs');
      // A CPU is its own: one vCPU per pCPU, whatever placement the spec asked for.
      const available = spec.pcpus === undefined ? this.topology.size : new Set(spec.pcpus).size;
      if (spec.vcpus > available) {
        const where = spec.pcpus === undefined ? `the host has ${available} pCPUs` : `${field}.pcpus lists ${available}`;
        throw new InvalidParameterError(`${field}.vcpus`, spec.vcpus, `at most ${available} on bare metal (hypervisor.mode: bare-metal), where each vCPU is a pCPU of its own: ${where}`);
      }
      spec = { ...spec, placement: 'pinned' };
    }
    if (!(Number.isSafeInteger(spec.vcpus) && spec.vcpus >= 1)) {
      throw new InvalidParameterError(`${field}.vcpus`, spec.vcpus, 'a positive integer');
    }
    const mode = checkApicMode(`${field}.apicMode`, spec.apicMode);
    if (spec.vcpus - 1 > maxApicId(mode)) {
      throw new InvalidParameterError(`${field}.vcpus`, spec.vcpus, `at most ${maxApicId(mode) + 1} vCPUs: APIC IDs 0..${spec.vcpus - 1} exceed the ${mode} range`);
    }
    const weight = spec.weight ?? NICE_0_WEIGHT;
    if (!(Number.isFinite(weight) && weight >= 1 && weight <= 1_000_000)) {
      throw new InvalidParameterError(`${field}.weight`, weight, 'a load weight in [1, 1000000] (1024 = nice 0)');
    }
    const allowed = this.placement.place(field, spec);
    const index = this.vms.length;
    const vcpus = Array.from({ length: spec.vcpus }, (_, i) => new Vcpu(this.sim, this.sink, index, i, i, allowed[i]![i % allowed[i]!.length]!));
    const vm = new Vm(index, spec, vcpus, (v) => this.defaultHandler(v));
    for (const v of vcpus) {
      v.onIdle = (x) => this.halt(x);
      if (this.smt !== null) {
        const smt = this.smt;
        v.onActivity = (x) => smt.activity(x);
      }
      v.hostId = this.threads.length;
      const a = allowed[v.index]!;
      this.threads.push(new HostThread(v.hostId, v, weight, a, spec.placement === 'pinned'));
    }
    this.occupancy.push(new Float64Array(this.topology.size));
    this.vms.push(vm);
    this.bareMetal?.adopt(vcpus);
    vm.backend = backend(this, vm);
    return vm;
  }

  /** Puts every vCPU on its pCPU's run queue; the first on each pCPU enters the guest at once. */
  start(): void {
    if (this.bareMetal !== null) {
      this.bareMetal.start();
      return;
    }
    for (const vm of this.vms) {
      for (const v of vm.vcpus) {
        v.setState('preempted');
        const t = this.threadOf(v);
        this.runners[this.balancer === null ? v.pcpu : this.balancer.selectWakeCpu(t)]!.wake(t, 0, 'initial');
      }
    }
  }

  // ---- host scheduling -----------------------------------------------------------------------

  /** A thread started or stopped waiting on some run queue: keeps the periodic balance armed while any waits. */
  noteQueued(t: HostThread, queued: boolean): void {
    if (t.queued === queued) return;
    t.queued = queued;
    this.queuedThreads += queued ? 1 : -1;
    if (queued && !this.balanceArmed && this.balancer !== null) this.armBalance();
  }

  private armBalance(): void {
    this.balanceArmed = true;
    const period = Math.round(1e9 / this.config.hz);
    this.sim.schedule(period - (this.sim.now % period), () => {
      this.balanceArmed = false;
      if (this.queuedThreads === 0) return;
      this.balancer!.rebalance(this.sim.now);
      if (this.queuedThreads > 0) this.armBalance();
    });
  }

  /** The balancer moved a waiting thread to `dst`: it waits there, paying the move when it next runs. */
  migrate(t: HostThread, dst: PcpuRunner): void {
    dst.wake(t, this.costs.vcpuSwitch + this.costs.vcpuMigration, 'migrated');
  }

  /** @internal pCPU runners report who held them (vm -1: nobody, the pCPU was idle). */
  addOccupancy(vm: number, pcpu: number, ns: number): void {
    if (vm < 0) this.idleNs[pcpu]! += ns;
    else this.occupancy[vm]![pcpu]! += ns;
  }

  /** ns each pCPU was idle since the start or the last `resetOccupancy`. */
  idleNsByPcpu(): Float64Array {
    for (const r of this.runners) r.flushOccupancy();
    return this.idleNs;
  }

  /** ns each VM's vCPU threads held each pCPU since the start or the last `resetOccupancy`. */
  occupancyByVm(): readonly Float64Array[] {
    for (const r of this.runners) r.flushOccupancy();
    return this.occupancy;
  }

  resetOccupancy(): void {
    for (const r of this.runners) r.flushOccupancy();
    this.occupancy = this.occupancy.map((o) => new Float64Array(o.length));
    this.idleNs.fill(0);
  }

  // ---- VM exits ------------------------------------------------------------------------------

  /**
   * `vcpu` takes an exit of `reason`: it leaves guest mode, waits for the shared service if the
   * reason uses it, spends `handlingNs` (world switch + handling), then runs `body` (more
   * hypervisor work, e.g. delivering to targets) which calls `done` to re-enter the guest.
   * `resume` is the guest's continuation after the trapped instruction: it runs as guest code
   * once the vCPU is back in guest mode (so it may itself cause the next exit).
   */
  exit(vcpu: Vcpu, reason: ExitReason, handlingNs: number, body: ExitBody | null, resume: (() => void) | null): void {
    if (vcpu.state !== 'in-guest') {
      throw new KernelError(`vCPU ${vcpu.vm}.${vcpu.index}: a ${reason} exit was raised while the vCPU is ${vcpu.state}; exits come from guest mode`);
    }
    if (this.bareMetal !== null) {
      // With no hypervisor nothing can trap: a backend or path that exits is a model bug, not a cost.
      throw new KernelError(`CPU ${vcpu.index}: a ${reason} exit was raised on bare metal (hypervisor.mode: bare-metal), where nothing exits; the VM's backend must be native`);
    }
    const start = this.sim.now;
    vcpu.leaveGuest('exited');
    const usesService = this.serviceReasons.has(reason);
    const finish = (): void => {
      if (usesService) this.service.release(vcpu.vm);
      if (this.sink.wants['vm-exit']) this.sink.emit({ type: 'vm-exit', t: this.sim.now, vcpu: vcpu.ref, reason, cost: this.sim.now - start });
      // The trapped instruction retires; the guest continues from there once it is back in guest
      // mode, after any interrupt injected on entry (interrupts are taken at instruction boundaries).
      if (resume !== null) vcpu.pushWork(0, resume);
      this.reenter(vcpu);
    };
    // Host handling runs on the vCPU's hardware thread, at the speed SMT leaves it.
    const ns = this.smt === null ? handlingNs : Math.round(handlingNs / vcpu.workSpeed);
    const handle = (): void => {
      this.sim.schedule(ns, () => (body === null ? finish() : body(finish)));
    };
    if (usesService) {
      this.service.acquire(vcpu.vm, (waited, behind) => {
        if (waited > 0 && this.sink.wants['service-queued']) this.sink.emit({ type: 'service-queued', t: this.sim.now, vcpu: vcpu.ref, waited, behind });
        handle();
      });
    } else {
      handle();
    }
  }

  /**
   * Returns `vcpu` to guest mode after an exit or a (re)schedule. Pending interrupts are merged
   * and injected on the way in (costing `injection`); the runner may preempt instead.
   */
  reenter(vcpu: Vcpu): void {
    const runner = this.runners[vcpu.pcpu]!;
    if (runner.current !== vcpu) {
      vcpu.setState('preempted');
      return;
    }
    if (runner.preemptRequested && runner.preemptNow()) return;
    // Out of HLT (or off the run queue) and into KVM's entry path.
    if (vcpu.state === 'halted') vcpu.setState('exited');
    if (this.flushOnEntry.delete(vcpu)) this.onFlushOnEntry(vcpu);
    vcpu.apic.syncPir();
    if (vcpu.apic.hasPending() && !this.inService(vcpu)) {
      const token = vcpu.entryToken;
      this.sim.schedule(this.costs.injection, () => {
        if (runner.current !== vcpu || vcpu.entryToken !== token || vcpu.state === 'in-guest') return;
        this.takeInterrupt(vcpu);
        vcpu.enterGuest(vcpu.pcpu);
      });
      return;
    }
    vcpu.enterGuest(vcpu.pcpu);
  }

  private inService(vcpu: Vcpu): boolean {
    return vcpu.apic.anyInService();
  }

  /** @internal The guest accepts its highest pending vector and runs its handler (pushed as work). */
  takeInterrupt(vcpu: Vcpu): void {
    const vector = vcpu.apic.highestRequested();
    if (vector < 0) return;
    vcpu.apic.accept(vector);
    this.vms[vcpu.vm]!.onInterrupt(vcpu, vector);
  }

  /**
   * End of interrupt, called by the guest's handler when it finishes. Virtualized (no exit)
   * with posted interrupts / APICv; otherwise the EOI register write traps.
   */
  eoi(vcpu: Vcpu): void {
    if (this.bareMetal !== null) {
      this.bareMetal.eoi(vcpu);
      return;
    }
    if (this.config.postedInterrupts) {
      vcpu.apic.eoi();
      vcpu.apic.syncPir();
      if (vcpu.apic.hasPending() && vcpu.state === 'in-guest') this.takeInterrupt(vcpu);
      return;
    }
    this.exit(
      vcpu,
      'apic-write',
      this.costs.exitRoundTrip + this.costs.apicWriteEmulation,
      (reenter) => {
        vcpu.apic.eoi();
        reenter();
      },
      null,
    );
  }

  private defaultHandler(vcpu: Vcpu): void {
    vcpu.pushWork(this.costs.interruptEntry + this.costs.handlerBody, () => this.eoi(vcpu));
  }

  // ---- delivery ------------------------------------------------------------------------------

  /**
   * The host delivers `vector` to each target in turn, as kvm_irq_delivery_to_apic does, on
   * behalf of a sender in an exit (or of hardware, `sender` null). Each target costs the sender
   * `deliverPerTarget` plus what notifying it takes (a notification/kick IPI, or waking a
   * blocked thread); the next target is reached only after that. `then` runs after the last.
   */
  deliverAll(from: Vcpu | null, targets: readonly Vcpu[], vector: number, ipiId: number, then: () => void): void {
    let i = 0;
    const step = (): void => {
      if (i === targets.length) {
        then();
        return;
      }
      const cost = this.deliver(from, targets[i++]!, vector, ipiId);
      this.sim.schedule(cost, step);
    };
    step();
  }

  /** Delivers to one target now; returns the host time it cost the sender (ns). */
  deliver(from: Vcpu | null, target: Vcpu, vector: number, ipiId: number): number {
    // Natively the sender's ICR write is the whole send: the interrupt crosses the wire by itself.
    if (this.bareMetal !== null) return this.bareMetal.deliver(from, target, vector, ipiId);
    const c = this.costs;
    const srcPcpu = from === null ? target.pcpu : from.pcpu;
    // The target's descriptor, mode and wait queue are written by the target's pCPU: each touch is a miss.
    let cost = c.deliverPerTarget + c.deliverTargetLines * this.fabric.cacheLine(srcPcpu, target.pcpu);
    let via: 'posted' | 'injected' | 'pending' = 'pending';
    if (target === from) {
      // Self-IPI: pended; the sender takes it when it re-enters.
      this.request(target, vector);
    } else if (target.state === 'in-guest') {
      if (this.config.postedInterrupts) {
        if (this.postAndNotify(srcPcpu, target, vector)) cost += c.postNotifySend;
        via = 'posted';
      } else {
        target.apic.request(vector);
        cost += c.postNotifySend; // the kick is a physical IPI, same send cost
        this.sim.schedule(this.fabric.latency(srcPcpu, target.pcpu), () => this.onKick(target));
        via = 'injected';
      }
    } else {
      this.request(target, vector);
      if (target.state === 'halted') cost += this.wake(target, srcPcpu);
      else if (target.state === 'preempted' && this.config.boostIpiTargets) this.runners[target.pcpu]!.boost(this.threadOf(target));
      via = target.state === 'exited' ? 'injected' : 'pending';
    }
    if (this.sink.wants['ipi-delivered']) this.sink.emit({ type: 'ipi-delivered', t: this.sim.now, id: ipiId, to: target.ref, via });
    return cost;
  }

  /** Posts `vector` in a running target's descriptor; if that needs a notification IPI, sends it. Returns whether it did. */
  private postAndNotify(srcPcpu: number, target: Vcpu, vector: number): boolean {
    if (!target.apic.post(vector)) return false;
    this.sim.schedule(this.fabric.latency(srcPcpu, target.pcpu), () => this.onNotification(target));
    return true;
  }

  private request(v: Vcpu, vector: number): void {
    if (this.config.postedInterrupts) v.apic.post(vector);
    else v.apic.request(vector);
  }

  /** A posted-interrupt notification reaches a target: in guest, it takes the interrupt with no exit. */
  private onNotification(v: Vcpu): void {
    if (v.state !== 'in-guest') return; // merged at its next entry
    v.apic.syncPir();
    if (!this.inService(v)) this.takeInterrupt(v);
  }

  /** A kick reaches a running target: it exits so the interrupt can be injected on entry. */
  private onKick(v: Vcpu): void {
    if (v.state !== 'in-guest') return;
    this.exit(v, 'external-interrupt', this.costs.externalInterruptExit, null, null);
  }

  /** Wakes a halted target; returns the sender-side cost. */
  private wake(v: Vcpu, srcPcpu: number): number {
    if (v.polling) {
      this.stopPolling(v);
      // The poll loop sees the pending interrupt once the write is visible on its pCPU.
      const token = v.entryToken;
      this.sim.schedule(this.fabric.latency(srcPcpu, v.pcpu) + this.costs.haltPollNotice, () => {
        if (v.entryToken === token && v.state === 'halted') this.reenter(v);
      });
      v.polling = false;
      return 0;
    }
    const t = this.threadOf(v);
    if (t.queued || this.runners[v.pcpu]!.current === v) return 0; // already being woken
    this.adaptHaltPoll(v);
    const dst = this.balancer === null ? v.pcpu : this.balancer.selectWakeCpu(t);
    const moved = t.lastPcpu >= 0 && dst !== t.lastPcpu;
    this.runners[dst]!.wake(t, this.costs.hostWakeLatency + (moved ? this.costs.vcpuMigration : 0), 'wakeup');
    return this.costs.wakeBlockedSender;
  }

  // ---- halting -------------------------------------------------------------------------------

  /** The guest is idle and executes HLT. */
  halt(v: Vcpu): void {
    if (this.bareMetal !== null) {
      this.bareMetal.halt(v); // native idle (HLT/MWAIT): no KVM halt polling, the pCPU is not released
      return;
    }
    v.apic.syncPir();
    if (v.apic.hasPending()) {
      if (!this.inService(v)) this.takeInterrupt(v);
      return;
    }
    v.leaveGuest('halted');
    v.haltedAt = this.sim.now;
    const runner = this.runners[v.pcpu]!;
    // KVM polls only while nothing else is runnable on the pCPU (single_task_running()).
    if (v.haltPollNs > 0 && runner.queueLength === 0) {
      v.polling = true;
      this.pollEnd.set(
        v,
        this.sim.schedule(v.haltPollNs, () => {
          this.pollEnd.delete(v);
          v.polling = false;
          runner.release(v);
        }),
      );
    } else {
      runner.release(v);
    }
  }

  /** Ends a halted vCPU's polling without blocking it (it was woken, or its pCPU was taken). */
  stopPolling(v: Vcpu): void {
    const h = this.pollEnd.get(v);
    if (h !== undefined) {
      this.sim.tryCancel(h);
      this.pollEnd.delete(v);
    }
    v.polling = false;
  }

  /** kvm_vcpu_halt's window update, on the wake-up that ends a halt. */
  private adaptHaltPoll(v: Vcpu): void {
    const hp = this.config.haltPoll;
    if (hp.maxNs === 0) return;
    const blockNs = this.sim.now - v.haltedAt;
    if (v.polling) return; // woken while polling: the window was right
    if (v.haltPollNs > 0 && blockNs > hp.maxNs) {
      v.haltPollNs = hp.shrink === 0 ? 0 : Math.floor(v.haltPollNs / hp.shrink);
    } else if (v.haltPollNs < hp.maxNs && blockNs < hp.maxNs) {
      v.haltPollNs = Math.min(hp.maxNs, v.haltPollNs === 0 ? hp.growStartNs : v.haltPollNs * hp.grow);
    }
  }

  /** PV TLB flush: mark a preempted vCPU to have its TLB flushed by the host on its next entry. */
  requestFlushOnEntry(v: Vcpu): void {
    this.flushOnEntry.add(v);
  }

  hasFlushOnEntry(v: Vcpu): boolean {
    return this.flushOnEntry.has(v);
  }

  /**
   * Hardware IPI virtualization (IPIv / AVIC) on the send side: if `target` is running, the
   * processor posts the vector and notifies it with no exit anywhere. Returns false when the
   * target is not running (the sender must then take an incomplete-IPI exit).
   */
  hardwarePost(from: Vcpu, target: Vcpu, vector: number, ipiId: number): boolean {
    if (target.state !== 'in-guest') return false;
    this.postAndNotify(from.pcpu, target, vector);
    if (this.sink.wants['ipi-delivered']) this.sink.emit({ type: 'ipi-delivered', t: this.sim.now, id: ipiId, to: target.ref, via: 'posted' });
    return true;
  }

  /**
   * A self-IPI. With APICv the x2APIC SELF_IPI write is virtualized: the vector is taken as
   * soon as the sender's guest code allows (no exit). Without it the write traps.
   */
  selfIpi(v: Vcpu, vector: number, ipiId: number, done: () => void): void {
    if (this.sink.wants['ipi-delivered']) this.sink.emit({ type: 'ipi-delivered', t: this.sim.now, id: ipiId, to: v.ref, via: this.config.postedInterrupts ? 'posted' : 'injected' });
    if (this.config.postedInterrupts) {
      v.apic.post(vector);
      v.apic.syncPir();
      done();
      if (v.state === 'in-guest' && !this.inService(v)) this.takeInterrupt(v);
      return;
    }
    this.exit(
      v,
      'apic-write',
      this.costs.exitRoundTrip + this.costs.apicWriteEmulation,
      (reenter) => {
        v.apic.request(vector);
        reenter();
      },
      done,
    );
  }

  /** Yield the sender's pCPU to `target` (PV sched yield): boost it where it waits. */
  yieldTo(target: Vcpu): void {
    if (target.state === 'preempted') this.runners[target.pcpu]!.boost(this.threadOf(target));
  }
}
