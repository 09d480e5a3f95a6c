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

/** One smp_call_function_* in flight. */
interface CrossCall {
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

  constructor(
    private readonly hv: Hypervisor,
    readonly vm: Vm,
  ) {
    this.queues = vm.vcpus.map(() => []);
    vm.onInterrupt = (v, vector) => this.onInterrupt(v, vector);
  }

  /**
   * Runs a cross-call from `sender` to `targets` and calls `done` when the sender's wait ends.
   * `onHandlerStart` sees each target's handler begin (for send-to-handler latency).
   */
  crossCall(sender: Vcpu, targets: readonly Vcpu[], done: () => void, onHandlerStart?: (target: Vcpu, at: number) => void): void {
    const hv = this.hv;
    const c = hv.costs;
    const kind: IpiKind = targets.length === 1 ? 'unicast' : targets.length === this.vm.vcpus.length - 1 ? 'broadcast' : 'multicast';
    const vector = kind === 'unicast' ? VECTORS.callFunctionSingle : VECTORS.callFunction;
    // Per target: csd_lock + llist_add touch two lines the target last wrote (its csd, its queue head).
    let sendCost = c.guestSendOverhead;
    for (const t of targets) sendCost += c.guestPerTargetOverhead + 2 * hv.fabric.cacheLine(sender.pcpu, t.pcpu);
    sender.pushWork(sendCost, () => {
      const id = hv.newIpiId();
      const call: CrossCall = { targets, released: targets.map(() => false), onHandlerStart, waitingOn: -1, spin: undefined };
      const now = hv.sim.now;
      targets.forEach((t, slot) => this.queues[t.index]!.push({ id, sender, sentAt: now, call, slot }));
      if (hv.sink.active) hv.sink.emit({ type: 'ipi-sent', t: now, id, from: sender.ref, targets: targets.map((t) => t.index), kind, vector });
      this.vm.backend.send({ sender, targets, vector, kind, id }, () => this.waitFrom(sender, call, 0, done));
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

  private onInterrupt(v: Vcpu, vector: number): void {
    const c = this.hv.costs;
    if (vector !== VECTORS.callFunction && vector !== VECTORS.callFunctionSingle) {
      v.pushWork(c.interruptEntry + c.handlerBody, () => this.hv.eoi(v));
      return;
    }
    const queue = this.queues[v.index]!;
    const batch = queue.splice(0, queue.length);
    v.pushWork(c.interruptEntry, () => {
      const start = this.hv.sim.now;
      for (const csd of batch) csd.call.onHandlerStart?.(v, start);
      v.pushWork(c.handlerBody * Math.max(1, batch.length), () => {
        const now = this.hv.sim.now;
        for (const csd of batch) {
          if (this.hv.sink.active) this.hv.sink.emit({ type: 'ipi-handled', t: now, id: csd.id, to: v.ref, latency: now - csd.sentAt });
          const call = csd.call;
          call.released[csd.slot] = true;
          if (call.waitingOn === csd.slot && call.spin !== undefined) {
            call.waitingOn = -1;
            call.spin.release();
          }
        }
        this.hv.eoi(v);
      });
    });
  }
}
