import type { Hypervisor, Vm } from '@ipilab/hypervisor';
import type { IpiKind } from '@ipilab/events';
import { VECTORS, type SpinTicket, type Vcpu } from '@ipilab/vcpu';

/** A queued cross-call (Linux's call_single_data): what a target's handler runs and releases. */
interface Csd {
  readonly id: number;
  readonly sender: Vcpu;
  readonly sentAt: number;
  readonly call: CrossCall;
  /** Index of the target in the call. */
  readonly slot: number;
}

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

/** One smp_call_function_* in flight. */
interface CrossCall {
  readonly work: CallWork | undefined;
  readonly targets: readonly Vcpu[];
  /** Per target: its handler has released the csd. */
  readonly released: boolean[];
  readonly onHandlerStart: ((target: Vcpu, at: number) => void) | undefined;
  /** Target index the sender is spinning on, and the spin to end, if any. */
  waitingOn: number;
  spin: SpinTicket | undefined;
}

/**
 * The guest kernel's cross-call machinery (kernel/smp.c): smp_call_function_single / _many with
 * wait=1. The sender queues a csd on each target, sends the IPI through the VM's backend, then
 * spins until each target's handler has run the function and released its csd — the release
 * becomes visible to the sender after a cache-line transfer whose cost depends on distance.
 * Targets drain their whole queue per interrupt, so coalesced vectors lose no call.
 */
export class GuestKernel {
  private readonly queues: Csd[][];
  private timersArmed = false;
  private readonly timers: { at: number; fn: (on: Vcpu) => void }[][];
  /** Device interrupt handlers by vector (run after EOI, in the handler's continuation). */
  private readonly devices = new Map<number, (v: Vcpu) => void>();
  /** Tasks woken onto each vCPU, run after its reschedule interrupt. */
  private readonly wakeups: { id: number; sentAt: number; task: () => void }[][];

  constructor(
    private readonly hv: Hypervisor,
    readonly vm: Vm,
  ) {
    this.queues = vm.vcpus.map(() => []);
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
    const vector = kind === 'unicast' ? VECTORS.callFunctionSingle : VECTORS.callFunction;
    // Per target: csd_lock + llist_add touch two lines the target last wrote (its csd, its queue head).
    const startedAt = hv.sim.now;
    let sendCost = c.guestSendOverhead;
    for (const t of targets) sendCost += c.guestPerTargetOverhead + 2 * hv.fabric.cacheLine(sender.pcpu, t.pcpu);
    sender.pushWork(sendCost, () => {
      const id = hv.newIpiId();
      const call: CrossCall = { work, targets, released: targets.map(() => false), onHandlerStart, waitingOn: -1, spin: undefined };
      const now = hv.sim.now;
      targets.forEach((t, slot) => this.queues[t.index]!.push({ id, sender, sentAt: now, call, slot }));
      if (hv.sink.wants['ipi-sent']) hv.sink.emit({ type: 'ipi-sent', t: now, id, from: sender.ref, targets: targets.map((t) => t.index), kind, vector });
      const finished = hv.sink.wants['cross-call-done']
        ? () => {
            hv.sink.emit({ type: 'cross-call-done', t: hv.sim.now, id, from: sender.ref, targets: targets.length, duration: hv.sim.now - startedAt });
            done();
          }
        : done;
      this.vm.backend.send({ sender, targets, vector, kind, id }, () => this.waitFrom(sender, call, 0, finished));
    });
  }

  /**
   * csd_lock_wait over the targets in order: spin until target i has released its csd, then pay
   * the read of that line (written on the target's pCPU) before moving to i + 1.
   */
  private waitFrom(sender: Vcpu, call: CrossCall, i: number, done: () => void): void {
    if (i === call.targets.length) {
      done();
      return;
    }
    const read = (): void => sender.pushWork(this.hv.fabric.cacheLine(sender.pcpu, call.targets[i]!.pcpu), () => this.waitFrom(sender, call, i + 1, done));
    if (call.released[i]) {
      read();
      return;
    }
    call.waitingOn = i;
    call.spin = sender.pushSpin(read);
  }

  /**
   * try_to_wake_up of work that belongs on `target`: queue it there and send the reschedule
   * IPI through the VM's backend (a unicast, so an ICR write even under pv). The target runs the
   * task after its handler; `sent` runs on the sender once the send has retired. Waking work
   * onto the sender itself needs no IPI.
   */
  wakeOn(sender: Vcpu, target: Vcpu, task: () => void, sent: () => void = () => undefined): void {
    if (target === sender) {
      sender.pushWork(0, task);
      sent();
      return;
    }
    const hv = this.hv;
    sender.pushWork(hv.costs.guestSendOverhead + hv.fabric.cacheLine(sender.pcpu, target.pcpu), () => {
      const id = hv.newIpiId();
      const now = hv.sim.now;
      this.wakeups[target.index]!.push({ id, sentAt: now, task });
      if (hv.sink.wants['ipi-sent']) hv.sink.emit({ type: 'ipi-sent', t: now, id, from: sender.ref, targets: [target.index], kind: 'unicast', vector: VECTORS.reschedule });
      this.vm.backend.send({ sender, targets: [target], vector: VECTORS.reschedule, kind: 'unicast', id }, sent);
    });
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

  private onInterrupt(v: Vcpu, vector: number): void {
    const c = this.hv.costs;
    const device = this.devices.get(vector);
    if (device !== undefined) {
      this.beginHandler(v, vector);
      v.pushWork(c.interruptEntry + c.deviceInterruptHandler, () => {
        this.endHandler(v, vector);
        v.pushWork(0, () => device(v));
        this.hv.eoi(v);
      });
      return;
    }
    if (vector === VECTORS.reschedule) {
      const woken = this.wakeups[v.index]!.splice(0);
      const began = this.beginHandler(v, vector);
      v.pushWork(c.interruptEntry + c.handlerBody, () => {
        const now = this.hv.sim.now;
        if (this.hv.sink.wants['ipi-handled']) for (const w of woken) this.hv.sink.emit({ type: 'ipi-handled', t: now, id: w.id, to: v.ref, latency: now - w.sentAt, sendToHandler: began - w.sentAt });
        this.endHandler(v, vector);
        // The woken work is queued before the EOI: an interrupt taken at the EOI must run on top
        // of it (before it), as one taken after iret would, not underneath it.
        for (const w of woken) v.pushWork(0, w.task);
        this.hv.eoi(v);
      });
      return;
    }
    if (vector !== VECTORS.callFunction && vector !== VECTORS.callFunctionSingle) {
      this.beginHandler(v, vector);
      v.pushWork(c.interruptEntry + c.handlerBody, () => {
        this.endHandler(v, vector);
        this.hv.eoi(v);
      });
      return;
    }
    const queue = this.queues[v.index]!;
    const batch = queue.splice(0, queue.length);
    this.beginHandler(v, vector);
    v.pushWork(c.interruptEntry, () => {
      const start = this.hv.sim.now;
      let cost = 0;
      for (const csd of batch) {
        csd.call.onHandlerStart?.(v, start);
        const w = csd.call.work;
        if (w === undefined) cost += c.handlerBody;
        else {
          cost += w.cost(v);
          w.run(v);
        }
      }
      v.pushWork(Math.max(cost, c.handlerBody), () => {
        const now = this.hv.sim.now;
        for (const csd of batch) {
          if (this.hv.sink.wants['ipi-handled']) this.hv.sink.emit({ type: 'ipi-handled', t: now, id: csd.id, to: v.ref, latency: now - csd.sentAt, sendToHandler: start - csd.sentAt });
          const call = csd.call;
          call.released[csd.slot] = true;
          if (call.waitingOn === csd.slot && call.spin !== undefined) {
            call.waitingOn = -1;
            call.spin.release();
          }
        }
        this.endHandler(v, vector);
        for (const csd of batch) csd.call.work?.after?.(v);
        this.hv.eoi(v);
      });
    });
  }
}
