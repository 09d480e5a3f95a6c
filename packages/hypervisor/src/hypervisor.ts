import { InvalidParameterError, KernelError, RandomStreams, type RandomStream, type Simulation } from '@ipilab/core';
import type { Costs } from '@ipilab/calibration';
import type { EventSink, ExitReason } from '@ipilab/events';
import { checkApicMode, InterruptFabric, maxApicId, type HostTopology } from '@ipilab/host';
import { Vcpu } from '@ipilab/vcpu';
import { BareMetal } from './bare-metal';
import { DEFAULT_HYPERVISOR_CONFIG, HYPERVISOR_MODES, type HypervisorConfig } from './config';
import { InterruptDelivery } from './delivery';
import { HaltPolling } from './halting';
import { HostScheduling } from './host-scheduling';
import { HypervisorService } from './hypervisor-service';
import type { BackendHost, Clock, ExitBody, GuestOs, HostFeatures } from './contracts';
import type { IpiBackendFactory } from './ipi-backend';
import type { Balancer } from './migration';
import type { PcpuRunner } from './pcpu-runner';
import { placementPolicy } from './placement';
import { PauseLoopExiting, yieldTo } from './spinning';
import { NICE_0_WEIGHT, type HostSchedulerPolicy, type HostThread } from './sched/host-scheduler';
import type { SmtContention } from './smt';
import { Vm, type VmSpec } from './vm';

export { DEFAULT_HYPERVISOR_CONFIG, HYPERVISOR_MODES, type HaltPollConfig, type HypervisorConfig, type HypervisorMode } from './config';

/** How the sender's exit ends: `done()` re-enters the guest. */

/**
 * The hypervisor: VMs and their vCPUs, VM exits (a cost per reason, the shared service) and
 * entries (injection of pending interrupts), EOI. The rest has a file of its own, and the
 * hypervisor is the one object backends and the guest talk to:
 *
 *   host-scheduling.ts  run queues per pCPU, host threads, placement, migration, SMT, occupancy
 *   delivery.ts         the delivery path every backend uses (posted, kicked, pended, woken)
 *   halting.ts          HLT, KVM halt polling and the wake-up of a halted vCPU
 *   bare-metal.ts       the native paths when `config.mode` is `bare-metal`
 *
 * Everything is wired once; per-event work touches only fields and the calendar.
 */
export class Hypervisor implements BackendHost {
  readonly vms: Vm[] = [];
  readonly fabric: InterruptFabric;
  readonly service: HypervisorService;
  readonly scheduling: HostScheduling;
  readonly delivery: InterruptDelivery;
  readonly halting: HaltPolling;
  /**
   * The native paths when `config.mode` is `bare-metal` (null under KVM). Where the two differ —
   * start, halt, delivery, EOI — the hypervisor hands over to it; every exit path refuses to run.
   */
  readonly bareMetal: BareMetal | null;
  readonly runners: readonly PcpuRunner[];
  /** One host thread per vCPU, by `Vcpu.hostId`. */
  readonly threads: readonly HostThread[];
  /** SMT contention between sibling threads; null on a host without SMT. */
  readonly smt: SmtContention | null;
  /** Moves unpinned threads between pCPUs; null when `migrate` is off. */
  readonly balancer: Balancer | null;
  /** Pause-loop exits and directed yield; null when `ple` is off or on bare metal (spinning.ts). */
  readonly ple: PauseLoopExiting | null;
  private nextIpi = 0;
  /** vCPUs the PV TLB flush marked: the host flushes their TLB on their next VM entry. */
  private readonly flushOnEntry = new Set<Vcpu>();
  /** Exit reasons that hold the shared service (none when its capacity is unlimited). */
  private readonly serviceReasons: ReadonlySet<ExitReason>;
  /** The simulated clock, as a backend sees it (`BackendHost.clock`): the simulation itself. */
  readonly clock: Clock;
  /** The host's mode and interrupt virtualization (`BackendHost.features`). */
  readonly features: HostFeatures;
  /** What a VM without a guest attached does with an interrupt: acknowledge it and go on. */
  private readonly noGuest: GuestOs = {
    interrupt: (v) => this.defaultHandler(v),
    flushedOnEntry: () => undefined,
  };

  constructor(
    readonly sim: Simulation,
    readonly sink: EventSink,
    readonly topology: HostTopology,
    readonly costs: Costs,
    readonly config: HypervisorConfig = DEFAULT_HYPERVISOR_CONFIG,
    /** The run's random streams (its seed); backends draw theirs from it (`random`). Default: seed 0. */
    private readonly streams: RandomStreams = new RandomStreams(0),
  ) {
    this.clock = sim;
    this.features = { mode: config.mode, postedInterrupts: config.postedInterrupts, postedFlavour: config.postedFlavour };
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
    this.scheduling = new HostScheduling(this, sim, topology, costs, config, config.mode === 'bare-metal');
    this.runners = this.scheduling.runners;
    this.threads = this.scheduling.threads;
    this.smt = this.scheduling.smt;
    this.balancer = this.scheduling.balancer;
    this.ple = config.ple.enabled && config.mode !== 'bare-metal' ? new PauseLoopExiting(this, config.ple) : null;
    this.delivery = new InterruptDelivery(this);
    this.halting = new HaltPolling(this);
    this.bareMetal = config.mode === 'bare-metal' ? new BareMetal(this) : null;
  }

  get policy(): HostSchedulerPolicy {
    return this.config.hostScheduler;
  }

  /** The host thread that runs vCPU `v`. */
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
    const allowed = this.scheduling.place(field, spec);
    const exclusive = placementPolicy(spec.placement).exclusive;
    if (exclusive) {
      const starved = this.scheduling.reservePinned(allowed.map((a) => a[0]!));
      if (starved >= 0) {
        throw new InvalidParameterError(`${field}.pcpus`, spec.pcpus ?? allowed.map((a) => a[0]!), `pCPUs that leave ${JSON.stringify(this.vms[starved]!.name)} (vms[${starved}], shared) at least one pCPU: a pinned VM's pCPUs are its own`);
      }
    }
    const index = this.vms.length;
    const vcpus = Array.from({ length: spec.vcpus }, (_, i) => new Vcpu(this.sim, this.sink, index, i, i, allowed[i]![i % allowed[i]!.length]!));
    const vm = new Vm(index, spec, vcpus, this.noGuest);
    for (const v of vcpus) v.onIdle = (x) => this.halt(x);
    this.scheduling.adopt(vcpus, weight, allowed, exclusive);
    this.vms.push(vm);
    this.bareMetal?.adopt(vcpus);
    vm.backend = backend(this, vm);
    return vm;
  }

  /** Puts every vCPU on a run queue (on bare metal: each CPU runs its own); the first on each pCPU enters the guest at once. */
  start(): void {
    if (this.bareMetal !== null) this.bareMetal.start();
    else this.scheduling.start();
  }

  // ---- host scheduling (host-scheduling.ts) --------------------------------------------------

  /** @internal A thread started or stopped waiting on some run queue. */
  noteQueued(t: HostThread, queued: boolean): void {
    this.scheduling.noteQueued(t, queued);
  }

  /** The balancer moved a waiting thread to `dst`: it waits there, paying the move when it next runs. */
  migrate(t: HostThread, dst: PcpuRunner): void {
    dst.wake(t, this.costs.vcpuSwitch + this.costs.vcpuMigration, 'migrated');
  }

  /** ns each pCPU was idle since the start or the last `resetOccupancy`. */
  idleNsByPcpu(): Float64Array {
    return this.scheduling.idleNsByPcpu();
  }

  /** ns each VM's vCPU threads held each pCPU since the start or the last `resetOccupancy`. */
  occupancyByVm(): readonly Float64Array[] {
    return this.scheduling.occupancyByVm();
  }

  /** Start counting pCPU occupancy afresh (at the end of a run's warm-up). */
  resetOccupancy(): void {
    this.scheduling.resetOccupancy();
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
    if (this.flushOnEntry.delete(vcpu)) this.vms[vcpu.vm]!.guest.flushedOnEntry(vcpu);
    vcpu.apic.syncPir();
    if (vcpu.apic.hasPending() && !vcpu.apic.anyInService()) {
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

  /** @internal The guest accepts its highest pending vector and runs its handler (pushed as work). */
  takeInterrupt(vcpu: Vcpu): void {
    const vector = vcpu.apic.highestRequested();
    if (vector < 0) return;
    vcpu.apic.accept(vector);
    this.vms[vcpu.vm]!.guest.interrupt(vcpu, vector);
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

  /** The guest OS of `vm` from now on: the hypervisor calls it as interrupts arrive and TLBs are flushed on entry. */
  attachGuest(vm: Vm, guest: GuestOs): void {
    vm.guest = guest;
  }

  private defaultHandler(vcpu: Vcpu): void {
    vcpu.pushWork(this.costs.interruptEntry + this.costs.handlerBody, () => this.eoi(vcpu));
  }

  // ---- delivery (delivery.ts) ---------------------------------------------------------------

  /** Delivers `vector` to each target in turn on behalf of a sender in an exit (or hardware, `from` null); `then` runs after the last. */
  deliverAll(from: Vcpu | null, targets: readonly Vcpu[], vector: number, ipiId: number, then: () => void): void {
    this.delivery.deliverAll(from, targets, vector, ipiId, then);
  }

  /** Delivers to one target now; returns the host time it cost the sender (ns). */
  deliver(from: Vcpu | null, target: Vcpu, vector: number, ipiId: number): number {
    // Natively the sender's ICR write is the whole send: the interrupt crosses the wire by itself.
    if (this.bareMetal !== null) return this.bareMetal.deliver(from, target, vector, ipiId);
    return this.delivery.deliver(from, target, vector, ipiId);
  }

  /** AVIC send side: delivers with no exit while the target's IsRunning bit is set; false otherwise (delivery.ts). */
  hardwarePost(from: Vcpu, target: Vcpu, vector: number, ipiId: number): boolean {
    return this.delivery.hardwarePost(from, target, vector, ipiId);
  }

  /** IPIv send side: posts to the target whatever its state, never an exit (delivery.ts). */
  ipivPost(from: Vcpu, target: Vcpu, vector: number, ipiId: number): void {
    this.delivery.ipivPost(from, target, vector, ipiId);
  }

  /** A random stream of the run's seed for a backend (`BackendHost.random`): `backend/<name>`. */
  random(name: string): RandomStream {
    return this.streams.stream(`backend/${name}`);
  }

  /** A self-IPI: virtualized with APICv, a trapped write without. */
  selfIpi(v: Vcpu, vector: number, ipiId: number, done: () => void): void {
    this.delivery.selfIpi(v, vector, ipiId, done);
  }

  // ---- halting (halting.ts) ------------------------------------------------------------------

  /**
   * The guest executes HLT: idle (an empty work stack), or, from a paravirtual spinlock's kvm_wait,
   * with the waiter's continuation on the stack; either way it resumes when the vCPU re-enters.
   */
  halt(v: Vcpu): void {
    if (this.bareMetal !== null) this.bareMetal.halt(v); // native idle (HLT/MWAIT): no KVM halt polling, the pCPU is not released
    else this.halting.halt(v);
  }

  /**
   * PV spinlock kick, the host's side of KVM_HC_KICK_CPU issued by `from` in its hypercall exit:
   * wakes `target` if it halted in kvm_wait (delivery.ts `unhalt`); returns the host time it
   * cost the sender (ns). The guest halts for kvm_wait through `halt` with its spin's
   * continuation left on the work stack, which resumes when the vCPU re-enters.
   */
  pvKick(from: Vcpu, target: Vcpu): number {
    return this.delivery.unhalt(from, target);
  }

  /** Ends a halted vCPU's polling without blocking it (it was woken, or its pCPU was taken). */
  stopPolling(v: Vcpu): void {
    this.halting.stopPolling(v);
  }

  // ---- PV features ---------------------------------------------------------------------------

  /** PV TLB flush: mark a preempted vCPU to have its TLB flushed by the host on its next entry. */
  requestFlushOnEntry(v: Vcpu): void {
    this.flushOnEntry.add(v);
  }

  /** Whether `v` is marked to have its TLB flushed by the host on its next entry. */
  hasFlushOnEntry(v: Vcpu): boolean {
    return this.flushOnEntry.has(v);
  }

  /** PV sched yield (kvm_sched_yield -> kvm_vcpu_yield_to): `from` yields its pCPU's turn to `target` (spinning.ts yieldTo). */
  yieldTo(from: Vcpu, target: Vcpu): void {
    if (target.state === 'preempted') yieldTo(this, from, target);
  }
}
