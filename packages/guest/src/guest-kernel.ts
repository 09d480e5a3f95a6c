import type { Hypervisor, Vm } from '@ipilab/hypervisor';
import type { IpiKind } from '@ipilab/events';
import { VECTORS, type SpinTicket, type Vcpu } from '@ipilab/vcpu';

/**
 * What a cross-call runs on each target (the `func` of smp_call_function): its cost as guest
 * work, its effect when the handler runs it, and an optional continuation after the handler's
 * EOI (work deferred out of interrupt context, as a kworker would run it).
 */
export interface CallWork {
  cost(target: Vcpu): number;
  run(target: Vcpu): void;
  after?(target: Vcpu): void;
}

/**
 * One smp_call_function_* in flight. Its csds (call_single_data) are not objects of their own:
 * a target's queue holds the call and the target's index in it.
 */
interface CrossCall {
  readonly kernel: GuestKernel;
  readonly sender: Vcpu;
  readonly targets: readonly Vcpu[];
  readonly work: CallWork | undefined;
  readonly onHandlerStart: ((target: Vcpu, at: number) => void) | undefined;
  readonly done: () => void;
  readonly kind: IpiKind;
  readonly vector: number;
  /** When the send path started (for cross-call-done's duration). */
  readonly startedAt: number;
  /** Set when the IPI goes out. */
  id: number;
  sentAt: number;
  /** Per target: its handler has released the csd. */
  readonly released: boolean[];
  /** The target the sender waits on next (csd_lock_wait goes through them in order). */
  waitIdx: number;
  /** The sender's spin on target `waitIdx`, while it lasts. */
  spin: SpinTicket | undefined;
  /** Runs when the send has retired: the sender starts waiting. */
  readonly afterSend: () => void;
}

/**
 * Queued csds, as two parallel lists — the call and the target's index in it — of which the
 * first `n` entries are live. A vCPU's queue and a handler's batch swap lists, so taking the
 * queue copies nothing and the lists keep their capacity.
 */
interface CsdList {
  calls: CrossCall[];
  slots: number[];
  n: number;
}

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

/** A try_to_wake_up in flight, then queued on its target until the reschedule handler runs it. */
interface Wakeup {
  readonly kernel: GuestKernel;
  readonly sender: Vcpu;
  readonly target: Vcpu;
  readonly task: () => void;
  readonly sent: () => void;
  id: number;
  sentAt: number;
}

// Stages of the paths below, as plain functions taking their state as the work item's argument:
// pushing work allocates no closure.
const sendStage = (c: unknown): void => (c as CrossCall).kernel.sendCall(c as CrossCall);
const readStage = (c: unknown): void => (c as CrossCall).kernel.readRelease(c as CrossCall);
const nextStage = (c: unknown): void => {
  const call = c as CrossCall;
  call.waitIdx++;
  call.kernel.waitNext(call);
};
const callEntryStage = (f: unknown): void => (f as HandlerFrame).kernel.runCalls(f as HandlerFrame);
const callEndStage = (f: unknown): void => (f as HandlerFrame).kernel.endCalls(f as HandlerFrame);
const rescheduleEndStage = (f: unknown): void => (f as HandlerFrame).kernel.endReschedule(f as HandlerFrame);
const deviceEndStage = (f: unknown): void => (f as HandlerFrame).kernel.endDevice(f as HandlerFrame);
const plainEndStage = (f: unknown): void => (f as HandlerFrame).kernel.endPlain(f as HandlerFrame);
const wakeStage = (w: unknown): void => (w as Wakeup).kernel.sendWakeup(w as Wakeup);
const noop = (): void => undefined;

/**
 * The guest kernel's cross-call machinery (kernel/smp.c): smp_call_function_single / _many with
 * wait=1. The sender queues a csd on each target, sends the IPI through the VM's backend, then
 * spins until each target's handler has run the function and released its csd — the release
 * becomes visible to the sender after a cache-line transfer whose cost depends on distance.
 * Targets drain their whole queue per interrupt, so coalesced vectors lose no call.
 */
export class GuestKernel {
  private readonly queues: CsdList[];
  private timersArmed = false;
  private readonly timers: { at: number; fn: (on: Vcpu) => void }[][];
  /** Device interrupt handlers by vector (run after EOI, in the handler's continuation). */
  private readonly devices = new Map<number, (v: Vcpu) => void>();
  /** Tasks woken onto each vCPU, run after its reschedule interrupt. */
  private readonly wakeups: Wakeup[][];
  /** Handler frames not in use. */
  private readonly frames: HandlerFrame[] = [];

  /**
   * KVM_FEATURE_PV_TLB_FLUSH in use: the VM has it and runs under KVM (a bare-metal CPU has no
   * steal-time area to read). A guest feature, used whatever the IPI backend.
   */
  readonly pvTlbFlush: boolean;
  /** KVM_FEATURE_PV_SCHED_YIELD in use, likewise. */
  readonly pvSchedYield: boolean;

  constructor(
    private readonly hv: Hypervisor,
    readonly vm: Vm,
  ) {
    this.pvTlbFlush = vm.pv.tlbFlush && hv.bareMetal === null;
    this.pvSchedYield = vm.pv.schedYield && hv.bareMetal === null;
    this.queues = vm.vcpus.map(() => ({ calls: [], slots: [], n: 0 }));
    this.wakeups = vm.vcpus.map(() => []);
    this.timers = vm.vcpus.map(() => []);
    vm.onInterrupt = (v, vector) => this.onInterrupt(v, vector);
  }

  /**
   * Runs a cross-call from `sender` to `targets` and calls `done` when the sender's wait ends.
   * `onHandlerStart` sees each target's handler begin (for send-to-handler latency).
   */
  crossCall(sender: Vcpu, targets: readonly Vcpu[], done: () => void, onHandlerStart?: (target: Vcpu, at: number) => void, work?: CallWork): void {
    if (targets.length === 0) {
      sender.pushWork(this.hv.costs.guestSendOverhead, done);
      return;
    }
    const hv = this.hv;
    const c = hv.costs;
    const kind: IpiKind = targets.length === 1 ? 'unicast' : targets.length === this.vm.vcpus.length - 1 ? 'broadcast' : 'multicast';
    // Per target: csd_lock + llist_add touch two lines the target last wrote (its csd, its queue head).
    let sendCost = c.guestSendOverhead;
    for (let i = 0; i < targets.length; i++) sendCost += c.guestPerTargetOverhead + 2 * hv.fabric.cacheLine(sender.pcpu, targets[i]!.pcpu);
    const released: boolean[] = new Array<boolean>(targets.length).fill(false);
    const call: CrossCall = {
      kernel: this,
      sender,
      targets,
      work,
      onHandlerStart,
      done,
      kind,
      vector: kind === 'unicast' ? VECTORS.callFunctionSingle : VECTORS.callFunction,
      startedAt: hv.sim.now,
      id: -1,
      sentAt: -1,
      released,
      waitIdx: 0,
      spin: undefined,
      afterSend: () => this.afterSend(call),
    };
    sender.pushWork(sendCost, sendStage, call);
  }

  /** @internal The send path has run: queue the csds and send the IPI. */
  sendCall(call: CrossCall): void {
    const hv = this.hv;
    const id = hv.newIpiId();
    const now = hv.sim.now;
    call.id = id;
    call.sentAt = now;
    const targets = call.targets;
    for (let i = 0; i < targets.length; i++) {
      const q = this.queues[targets[i]!.index]!;
      q.calls[q.n] = call;
      q.slots[q.n] = i;
      q.n++;
    }
    if (hv.sink.wants['ipi-sent']) hv.sink.emit({ type: 'ipi-sent', t: now, id, from: call.sender.ref, targets: targets.map((t) => t.index), kind: call.kind, vector: call.vector });
    this.vm.backend.send({ sender: call.sender, targets, vector: call.vector, kind: call.kind, id }, call.afterSend);
  }

  /**
   * PV TLB flush (arch/x86/kernel/kvm.c kvm_flush_tlb_multi): for each target the guest reads
   * its steal-time `preempted` flag; a preempted target gets KVM_VCPU_FLUSH_TLB set instead of an
   * IPI, and the host flushes its TLB on its next entry (record_steal_time), so the sender never
   * waits for it. The local vCPU is never treated as preempted. Returns the targets that still
   * need the IPI; the caller pays `pvFlushCheck` per target for the reads.
   */
  deferPreempted(sender: Vcpu, targets: readonly Vcpu[]): readonly Vcpu[] {
    const running: Vcpu[] = [];
    for (const t of targets) {
      if (t !== sender && t.state === 'preempted') this.hv.requestFlushOnEntry(t);
      else running.push(t);
    }
    return running;
  }

  /**
   * @internal The call-function IPI has been sent. With PV sched yield, a multicast is followed
   * by a yield to the first preempted target (kvm_smp_send_call_func_ipi: KVM_HC_SCHED_YIELD, so
   * the host runs the vCPU the sender is about to wait for); then the sender waits.
   */
  afterSend(call: CrossCall): void {
    if (!this.pvSchedYield || call.kind === 'unicast') {
      this.waitNext(call);
      return;
    }
    const sender = call.sender;
    const preempted = call.targets.find((t) => t !== sender && t.state === 'preempted');
    if (preempted === undefined) {
      this.waitNext(call);
      return;
    }
    const hv = this.hv;
    const c = hv.costs;
    if (hv.sink.wants['hypercall']) hv.sink.emit({ type: 'hypercall', t: hv.sim.now, vcpu: sender.ref, name: 'KVM_HC_SCHED_YIELD', targets: 1 });
    hv.exit(sender, 'hypercall', c.exitRoundTrip + c.hypercallHandling, null, () => {
      hv.yieldTo(preempted);
      this.waitNext(call);
    });
  }

  /**
   * @internal csd_lock_wait over the targets in order: spin until target `waitIdx` has released
   * its csd, then pay the read of that line (written on the target's pCPU) before the next.
   */
  waitNext(call: CrossCall): void {
    const i = call.waitIdx;
    if (i === call.targets.length) {
      const hv = this.hv;
      if (hv.sink.wants['cross-call-done']) hv.sink.emit({ type: 'cross-call-done', t: hv.sim.now, id: call.id, from: call.sender.ref, targets: call.targets.length, duration: hv.sim.now - call.startedAt });
      call.done();
      return;
    }
    if (call.released[i]) {
      this.readRelease(call);
      return;
    }
    call.spin = call.sender.pushSpin(readStage, call);
  }

  /** @internal The sender reads target `waitIdx`'s released csd line. */
  readRelease(call: CrossCall): void {
    call.sender.pushWork(this.hv.fabric.cacheLine(call.sender.pcpu, call.targets[call.waitIdx]!.pcpu), nextStage, call);
  }

  /**
   * try_to_wake_up of work that belongs on `target`: queue it there and send the reschedule
   * IPI through the VM's backend (a unicast, so an ICR write even under pv). The target runs the
   * task after its handler; `sent` runs on the sender once the send has retired. Waking work
   * onto the sender itself needs no IPI.
   */
  wakeOn(sender: Vcpu, target: Vcpu, task: () => void, sent: () => void = noop): void {
    if (target === sender) {
      sender.pushWork(0, task);
      sent();
      return;
    }
    const hv = this.hv;
    const w: Wakeup = { kernel: this, sender, target, task, sent, id: -1, sentAt: -1 };
    sender.pushWork(hv.costs.guestSendOverhead + hv.fabric.cacheLine(sender.pcpu, target.pcpu), wakeStage, w);
  }

  /** @internal The wake-up's send path has run: queue the task and send the reschedule IPI. */
  sendWakeup(w: Wakeup): void {
    const hv = this.hv;
    w.id = hv.newIpiId();
    w.sentAt = hv.sim.now;
    this.wakeups[w.target.index]!.push(w);
    if (hv.sink.wants['ipi-sent']) hv.sink.emit({ type: 'ipi-sent', t: w.sentAt, id: w.id, from: w.sender.ref, targets: [w.target.index], kind: 'unicast', vector: VECTORS.reschedule });
    this.vm.backend.send({ sender: w.sender, targets: [w.target], vector: VECTORS.reschedule, kind: 'unicast', id: w.id }, w.sent);
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

  /**
   * A one-shot timer on `v` (hrtimer on the local APIC timer): after `ns` its interrupt is
   * delivered to `v` — waking it if halted — and `fn` runs there after the handler.
   */
  timer(v: Vcpu, ns: number, fn: (on: Vcpu) => void): void {
    if (!this.timersArmed) {
      this.timersArmed = true;
      this.onDevice(VECTORS.localTimer, (on) => {
        const due = this.timers[on.index]!;
        const now = this.hv.sim.now;
        const ready = due.filter((x) => x.at <= now);
        this.timers[on.index] = due.filter((x) => x.at > now);
        for (const x of ready) x.fn(on);
      });
    }
    const at = this.hv.sim.now + ns;
    this.timers[v.index]!.push({ at, fn });
    this.hv.sim.schedule(ns, () => this.hv.deliver(null, v, VECTORS.localTimer, this.hv.newIpiId()));
  }

  /** Registers what the guest does on a device interrupt vector (its top half's continuation). */
  onDevice(vector: number, handler: (v: Vcpu) => void): void {
    this.devices.set(vector, handler);
  }

  private frame(v: Vcpu, vector: number): HandlerFrame {
    const f = this.frames.pop() ?? { kernel: this, v, vector, batch: { calls: [], slots: [], n: 0 }, woken: [], start: 0, device: undefined };
    f.v = v;
    f.vector = vector;
    return f;
  }

  private recycle(f: HandlerFrame): void {
    f.batch.n = 0;
    f.device = undefined;
    this.frames.push(f);
  }

  private onInterrupt(v: Vcpu, vector: number): void {
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
      const q = this.wakeups[v.index]!;
      this.wakeups[v.index] = f.woken;
      f.woken = q;
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
    // The handler drains the whole queue (flush_smp_call_function_queue).
    const f = this.frame(v, vector);
    const taken = this.queues[v.index]!;
    this.queues[v.index] = f.batch;
    f.batch = taken;
    this.beginHandler(v, vector);
    v.pushWork(c.interruptEntry, callEntryStage, f);
  }

  /** @internal Call-function handler, after entry: run each csd's function. */
  runCalls(f: HandlerFrame): void {
    const c = this.hv.costs;
    const v = f.v;
    const start = this.hv.sim.now;
    f.start = start;
    let cost = 0;
    const b = f.batch;
    for (let i = 0; i < b.n; i++) {
      const call = b.calls[i]!;
      call.onHandlerStart?.(v, start);
      const w = call.work;
      if (w === undefined) cost += c.handlerBody;
      else {
        cost += w.cost(v);
        w.run(v);
      }
    }
    v.pushWork(Math.max(cost, c.handlerBody), callEndStage, f);
  }

  /** @internal Call-function handler, done: release each csd (ending its sender's spin), EOI. */
  endCalls(f: HandlerFrame): void {
    const hv = this.hv;
    const v = f.v;
    const now = hv.sim.now;
    const report = hv.sink.wants['ipi-handled'];
    const b = f.batch;
    for (let i = 0; i < b.n; i++) {
      const call = b.calls[i]!;
      const slot = b.slots[i]!;
      if (report) hv.sink.emit({ type: 'ipi-handled', t: now, id: call.id, to: v.ref, latency: now - call.sentAt, sendToHandler: f.start - call.sentAt });
      call.released[slot] = true;
      if (call.waitIdx === slot && call.spin !== undefined) {
        call.spin.release();
        call.spin = undefined;
      }
    }
    this.endHandler(v, f.vector);
    for (let i = 0; i < b.n; i++) b.calls[i]!.work?.after?.(v);
    hv.eoi(v);
    this.recycle(f);
  }

  /** @internal Reschedule handler, done: queue the woken tasks, EOI. */
  endReschedule(f: HandlerFrame): void {
    const hv = this.hv;
    const v = f.v;
    const now = hv.sim.now;
    if (hv.sink.wants['ipi-handled']) for (const w of f.woken) hv.sink.emit({ type: 'ipi-handled', t: now, id: w.id, to: v.ref, latency: now - w.sentAt, sendToHandler: f.start - w.sentAt });
    this.endHandler(v, f.vector);
    // The woken work is queued before the EOI: an interrupt taken at the EOI must run on top
    // of it (before it), as one taken after iret would, not underneath it.
    for (let i = 0; i < f.woken.length; i++) v.pushWork(0, f.woken[i]!.task);
    f.woken.length = 0;
    hv.eoi(v);
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
