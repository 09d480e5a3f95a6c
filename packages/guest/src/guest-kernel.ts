import type { GuestOs, Hypervisor, Vm } from '@ipilab/hypervisor';
import { VECTORS, type Vcpu } from '@ipilab/vcpu';
import { CrossCalls, emptyCsdList, type CallWork, type CsdList } from './cross-calls';
import { GuestIdle } from './idle';
import { Timers } from './timers';

/** What the guest kernel asks of the VM's scheduler (sched/scheduler.ts), once one is attached. */
export interface SchedulerHooks {
  /** scheduler_tick on `v`. */
  tick(v: Vcpu): void;
  /** A reschedule IPI (or need_resched seen by a polling idle loop) on `v`. */
  reschedule(v: Vcpu): void;
}
import { Wakeups, type Wakeup } from './wakeups';

/** One interrupt handler on one vCPU, from entry to EOI; recycled once it ends. */
interface HandlerFrame {
  kernel: GuestKernel;
  v: Vcpu;
  vector: number;
  /** Call-function handlers: the csds taken at entry. */
  batch: CsdList;
  /** Reschedule handlers: the wake-ups taken at entry. */
  woken: Wakeup[];
  /** Handler start (after entry), or when it began for the reschedule vector. */
  start: number;
  device: ((v: Vcpu) => void) | undefined;
}

// Stages of the handlers below, as plain functions taking their frame as the work item's
// argument: pushing work allocates no closure.
const callEntryStage = (f: unknown): void => (f as HandlerFrame).kernel.runCalls(f as HandlerFrame);
const callEndStage = (f: unknown): void => (f as HandlerFrame).kernel.endCalls(f as HandlerFrame);
const rescheduleEndStage = (f: unknown): void => (f as HandlerFrame).kernel.endReschedule(f as HandlerFrame);
const deviceEndStage = (f: unknown): void => (f as HandlerFrame).kernel.endDevice(f as HandlerFrame);
const plainEndStage = (f: unknown): void => (f as HandlerFrame).kernel.endPlain(f as HandlerFrame);

/**
 * The guest kernel: what the guest sends (cross-calls in `cross-calls.ts`, wake-ups in
 * `wakeups.ts`, timers in `timers.ts`) and how it takes interrupts. Every vector arrives here
 * (`Vm.onInterrupt`) and runs as a handler frame from entry to EOI: the call-function and
 * reschedule handlers run the bodies those files hold, device vectors run what `onDevice`
 * registered, and any other vector only costs its entry and body.
 */
export class GuestKernel implements GuestOs {
  private readonly calls: CrossCalls;
  private readonly wakeups: Wakeups;
  private readonly timers: Timers;
  /** The idle loop of each vCPU (`vms[].idle`). */
  readonly idle: GuestIdle;
  /** Device interrupt handlers by vector (run after EOI, in the handler's continuation). */
  private readonly devices = new Map<number, (v: Vcpu) => void>();
  /** Handler frames not in use. */
  private readonly frames: HandlerFrame[] = [];
  private sched: SchedulerHooks | null = null;
  /** The memory manager's enter_lazy_tlb (onEnterLazyTlb), once it exists. */
  private lazyTlb: ((v: Vcpu) => void) | null = null;
  /** What flushes the guest's view of a vCPU's TLB when the host flushed it on entry (the memory manager, once it exists). */
  private hostTlbFlush: ((v: Vcpu) => void) | null = null;
  /** What runs after scheduler_tick on a vCPU (the memory manager's tick-time sweeps, once one is asked for). */
  private tickListener: ((v: Vcpu) => void) | null = null;

  /**
   * KVM_FEATURE_PV_TLB_FLUSH in use: the VM has it and runs under KVM (a bare-metal CPU has no
   * steal-time area to read). A guest feature, used whatever the IPI backend.
   */
  readonly pvTlbFlush: boolean;
  /** KVM_FEATURE_PV_SCHED_YIELD in use, likewise. */
  readonly pvSchedYield: boolean;
  /**
   * Paravirtual qspinlocks in use (the guest's spinlocks halt a waiter after SPIN_THRESHOLD and
   * are kicked by KVM_HC_KICK_CPU: mm/spinlock.ts). kvm_spinlock_init (arch/x86/kernel/kvm.c)
   * installs them only under KVM with KVM_FEATURE_PV_UNHALT (`vms[].pvSpinlocks`) and more than
   * one possible CPU; KVM_HINTS_REALTIME (dedicated pCPUs, a hint the host sets) and the
   * `nopvspin` boot option turn them off, which `pvSpinlocks: false` models.
   */
  readonly pvSpinlocks: boolean;

  constructor(
    private readonly hv: Hypervisor,
    readonly vm: Vm,
  ) {
    this.pvTlbFlush = vm.pv.tlbFlush && hv.bareMetal === null;
    this.pvSchedYield = vm.pv.schedYield && hv.bareMetal === null;
    this.pvSpinlocks = vm.pv.spinlocks && hv.bareMetal === null && vm.vcpus.length > 1;
    this.calls = new CrossCalls(hv, vm, this.pvSchedYield);
    this.timers = new Timers(hv, vm, (vector, handler) => this.onDevice(vector, handler));
    // Bare metal idles natively (bare-metal.ts): the guest idle modes are KVM guest options.
    this.idle = new GuestIdle(hv, vm.vcpus, hv.bareMetal === null ? (vm.spec.idle ?? 'halt') : 'halt');
    this.wakeups = new Wakeups(hv, vm, this.idle);
    this.idle.attach({ stopTick: (v) => this.timers.stopTick(v), pollWoken: (v) => this.pollWoken(v) });
    hv.attachGuest(vm, this);
  }

  /** The guest's tick rate (CONFIG_HZ, `vms[].hz`). */
  get hz(): number {
    return this.timers.hz;
  }

  /** The local timer: ticks taken and deadline writes (for counts and tests). */
  get localTimer(): Timers {
    return this.timers;
  }

  /** Connects the VM's scheduler: the tick drives it, reschedule IPIs reach it. */
  attachScheduler(hooks: SchedulerHooks): void {
    this.sched = hooks;
    this.timers.attach({
      tick: (v) => {
        hooks.tick(v);
        this.tickListener?.(v);
      },
    });
  }

  /**
   * Runs `fn` on `v`'s every tick, after scheduler_tick (one listener: the memory manager's
   * sweeps for lazy shootdowns, `ShootdownContext.onNextTickOrSwitch`). A guest without a
   * scheduler has no tick, so `fn` never runs there.
   */
  onTick(fn: (v: Vcpu) => void): void {
    this.tickListener = fn;
  }

  /** What runs when a vCPU enters lazy TLB mode (one handler: the memory manager's enter_lazy_tlb). */
  onEnterLazyTlb(fn: (v: Vcpu) => void): void {
    this.lazyTlb = fn;
  }

  /**
   * The scheduler's call when `v` goes idle or switches to a task without an address space of
   * its own (a kernel thread): enter_lazy_tlb, when a memory manager is there.
   */
  enterLazyTlb(v: Vcpu): void {
    this.lazyTlb?.(v);
  }

  /** The vCPU leaves idle to run a task: its tick restarts (NOHZ idle exit). */
  tickRestart(v: Vcpu): void {
    this.timers.restartTick(v);
  }

  /** A polling idle loop saw need_resched without an IPI: sched_ttwu_pending runs the wake list there. */
  private pollWoken(v: Vcpu): void {
    const list = this.wakeups.take(v, []);
    v.pushWork(this.hv.costs.handlerBody, () => {
      this.wakeups.runWoken(v, list);
      this.sched?.reschedule(v);
    });
  }

  /**
   * Runs a cross-call (smp_call_function_single / _many, wait=1) from `sender` to `targets` and
   * calls `done` when the sender's wait ends. `onHandlerStart` sees each target's handler begin
   * (for send-to-handler latency); `work` is what each target runs (`handlerBody` if absent).
   */
  crossCall(sender: Vcpu, targets: readonly Vcpu[], done: () => void, onHandlerStart?: (target: Vcpu, at: number) => void, work?: CallWork): void {
    this.calls.crossCall(sender, targets, done, onHandlerStart, work);
  }

  /**
   * PV TLB flush (kvm_flush_tlb_multi): sets flush-on-entry for the preempted targets instead of
   * IPIing them and returns the targets that still need the IPI (see `CrossCalls.deferPreempted`).
   */
  deferPreempted(sender: Vcpu, targets: readonly Vcpu[]): readonly Vcpu[] {
    return this.calls.deferPreempted(sender, targets);
  }

  /** `deferPreempted` for one target: whether it was marked for a flush on entry instead of an IPI. */
  deferIfPreempted(sender: Vcpu, target: Vcpu): boolean {
    return this.calls.deferIfPreempted(sender, target);
  }

  /**
   * A queued wake-up of work that belongs on `target` (__ttwu_queue_wakelist): queue it there
   * and send a call-function-single IPI through the VM's backend (a unicast, so an ICR write even
   * under pv) — or none when the target polls in idle, which sees need_resched by itself. The
   * target runs the task in its handler; `sent` runs on the sender once the send has retired.
   * Waking work onto the sender itself needs no IPI. Returns whether an IPI was sent.
   */
  wakeOn(sender: Vcpu, target: Vcpu, task: () => void, sent?: () => void): boolean {
    return this.wakeups.wakeOn(sender, target, task, sent, VECTORS.callFunctionSingle);
  }

  /**
   * resched_curr on a remote `target` (smp_send_reschedule): a reschedule IPI, none if the
   * target polls in idle. Returns whether an IPI was sent.
   */
  reschedule(sender: Vcpu, target: Vcpu, sent?: () => void): boolean {
    return this.wakeups.wakeOn(sender, target, null, sent, VECTORS.reschedule);
  }

  /**
   * A one-shot timer on `v` (hrtimer on the local APIC timer): after `ns` its interrupt is
   * delivered to `v` — waking it if halted — and `fn` runs there after the handler.
   */
  timer(v: Vcpu, ns: number, fn: (on: Vcpu) => void): void {
    this.timers.timer(v, ns, fn);
  }

  /** Registers what the guest does on a device interrupt vector (its top half's continuation). */
  onDevice(vector: number, handler: (v: Vcpu) => void): void {
    this.devices.set(vector, handler);
  }

  /** Marks the start of an interrupt handler on `v` (for ledgers); returns the time. */
  private beginHandler(v: Vcpu, vector: number): number {
    const t = this.hv.sim.now;
    if (this.hv.sink.wants['handler-begin']) this.hv.sink.emit({ type: 'handler-begin', t, vcpu: v.ref, vector });
    return t;
  }

  private endHandler(v: Vcpu, vector: number): void {
    if (this.hv.sink.wants['handler-end']) this.hv.sink.emit({ type: 'handler-end', t: this.hv.sim.now, vcpu: v.ref, vector });
  }

  private frame(v: Vcpu, vector: number): HandlerFrame {
    const f = this.frames.pop() ?? { kernel: this, v, vector, batch: emptyCsdList(), woken: [], start: 0, device: undefined };
    f.v = v;
    f.vector = vector;
    return f;
  }

  private recycle(f: HandlerFrame): void {
    // The batch keeps its capacity; it holds calls by number, so it keeps no finished call alive.
    f.batch.n = 0;
    f.device = undefined;
    this.frames.push(f);
  }

  /** `GuestOs`: `v` accepted `vector`; its handler runs as guest work and ends with an EOI. */
  interrupt(v: Vcpu, vector: number): void {
    this.onInterrupt(v, vector);
  }

  /** `GuestOs`: the host flushed `v`'s TLB as it entered (KVM_VCPU_FLUSH_TLB): the guest's TLB model empties too. */
  flushedOnEntry(v: Vcpu): void {
    this.hostTlbFlush?.(v);
  }

  /** @internal The memory manager's side of `flushedOnEntry` (one per VM). */
  onHostTlbFlush(flush: (v: Vcpu) => void): void {
    this.hostTlbFlush = flush;
  }

  private onInterrupt(v: Vcpu, vector: number): void {
    this.idle.interrupted(v);
    const c = this.hv.costs;
    const device = this.devices.get(vector);
    if (device !== undefined) {
      const f = this.frame(v, vector);
      f.device = device;
      this.beginHandler(v, vector);
      v.pushWork(c.interruptEntry + c.deviceInterruptHandler, deviceEndStage, f);
      return;
    }
    if (vector === VECTORS.reschedule) {
      const f = this.frame(v, vector);
      // Swap lists: the handler takes the queue, the vCPU gets the frame's empty one.
      f.woken = this.wakeups.take(v, f.woken);
      f.start = this.beginHandler(v, vector);
      v.pushWork(c.interruptEntry + c.handlerBody, rescheduleEndStage, f);
      return;
    }
    if (vector !== VECTORS.callFunction && vector !== VECTORS.callFunctionSingle) {
      const f = this.frame(v, vector);
      this.beginHandler(v, vector);
      v.pushWork(c.interruptEntry + c.handlerBody, plainEndStage, f);
      return;
    }
    // The handler drains the whole queue (flush_smp_call_function_queue), swapping lists likewise;
    // the wake list shares it (sched_ttwu_pending).
    const f = this.frame(v, vector);
    f.batch = this.calls.take(v, f.batch);
    f.woken = this.wakeups.take(v, f.woken);
    f.start = this.hv.sim.now;
    this.beginHandler(v, vector);
    v.pushWork(c.interruptEntry, callEntryStage, f);
  }

  /** @internal Call-function handler, after entry: run each csd's function. */
  runCalls(f: HandlerFrame): void {
    const start = this.hv.sim.now;
    f.start = start;
    f.v.pushWork(this.calls.run(f.v, f.batch, start), callEndStage, f);
  }

  /** @internal Call-function handler, done: release each csd (ending its sender's spin), EOI. */
  endCalls(f: HandlerFrame): void {
    const v = f.v;
    this.calls.release(v, f.batch, f.start);
    this.wakeups.handled(v, f.woken, f.start);
    this.endHandler(v, f.vector);
    this.calls.runAfter(v, f.batch);
    // Before the EOI: see `Wakeups.runWoken`.
    this.wakeups.runWoken(v, f.woken);
    this.hv.eoi(v);
    this.recycle(f);
  }

  /** @internal Reschedule handler, done: queue the woken tasks, EOI. */
  endReschedule(f: HandlerFrame): void {
    const v = f.v;
    this.wakeups.handled(v, f.woken, f.start);
    this.endHandler(v, f.vector);
    // Before the EOI: see `Wakeups.runWoken`. scheduler_ipi likewise: what it starts (an idle
    // vCPU's next task) must run under any interrupt taken at the EOI, not above it.
    this.wakeups.runWoken(v, f.woken);
    this.sched?.reschedule(v);
    this.hv.eoi(v);
    this.recycle(f);
  }

  /** @internal Device interrupt handler, done: its continuation runs after the EOI. */
  endDevice(f: HandlerFrame): void {
    const v = f.v;
    const device = f.device!;
    this.endHandler(v, f.vector);
    v.pushWork(0, () => device(v));
    this.hv.eoi(v);
    this.recycle(f);
  }

  /** @internal Any other vector's handler, done. */
  endPlain(f: HandlerFrame): void {
    this.endHandler(f.v, f.vector);
    this.hv.eoi(f.v);
    this.recycle(f);
  }
}
