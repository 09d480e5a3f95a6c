import type { Hypervisor, Vm } from '@ipilab/hypervisor';
import type { IpiKind } from '@ipilab/events';
import { VECTORS, type SpinTicket, type Vcpu } from '@ipilab/vcpu';

/**
 * What a cross-call runs on each target (the `func` of smp_call_function): its cost as guest
 * work, its effect when the handler runs it, and an optional continuation after the handler's
 * EOI (work deferred out of interrupt context, as a kworker would run it).
 */
export interface CallWork {
  /** The handler's cost on `target`, in ns (charged as its guest work). */
  cost(target: Vcpu): number;
  /** What the handler does on `target` when its work has run. */
  run(target: Vcpu): void;
  /** Runs on `target` after it acknowledged (the csd released), if given. */
  after?(target: Vcpu): void;
}

/**
 * One smp_call_function_* in flight. Its csds (call_single_data) are not objects of their own:
 * a target's queue holds the call and the target's index in it. Calls are records reused from
 * call to call (a finished call's record serves the VM's next one), as Linux reuses each CPU's
 * `cfd_data` (its cpumask and csds): the target list and the release flags keep their capacity,
 * so a call to a whole VM allocates nothing sized to the VM.
 */
export interface CrossCall {
  readonly calls: CrossCalls;
  /** The record's number in its `CrossCalls` (what csd lists hold). */
  readonly rec: number;
  sender: Vcpu;
  /** The call's own copy of its targets (the caller's list is not kept). */
  readonly targets: Vcpu[];
  work: CallWork | undefined;
  onHandlerStart: ((target: Vcpu, at: number) => void) | undefined;
  done: () => void;
  kind: IpiKind;
  vector: number;
  /** When the send path started (for cross-call-done's duration). */
  startedAt: number;
  /** Set when the IPI goes out. */
  id: number;
  sentAt: number;
  /** Per target (its first `targets.length` entries): 1 once its handler has released the csd. */
  released: Uint8Array;
  /** The target the sender waits on next (csd_lock_wait goes through them in order). */
  waitIdx: number;
  /** The sender's spin on target `waitIdx`, while it lasts. */
  spin: SpinTicket | undefined;
  /** Runs when the send has retired: the sender starts waiting (bound once per record). */
  readonly afterSend: () => void;
}

const noop = (): void => {};

/**
 * Queued csds, as two parallel typed lists — the call (its record's number, `CrossCall.rec`) and
 * the target's index in it — of which the first `n` entries are live. Numbers, not references:
 * filling a queue writes no pointer the collector must trace or copy, however long the queue
 * grows (when every vCPU of a large VM flushes at once, each queue holds a csd per sender, as
 * Linux's per-CPU csds do). A vCPU's queue and a handler's batch swap lists, so taking the queue
 * copies nothing and the lists keep their capacity.
 */
export interface CsdList {
  recs: Int32Array;
  slots: Int32Array;
  n: number;
}

/** An empty csd list (every one is built here, so queues and batches share one shape). */
export function emptyCsdList(): CsdList {
  return { recs: new Int32Array(8), slots: new Int32Array(8), n: 0 };
}

/** Appends a csd to `q`, doubling its lists when full. */
function pushCsd(q: CsdList, rec: number, slot: number): void {
  const n = q.n;
  if (n === q.recs.length) {
    const recs = new Int32Array(2 * n);
    recs.set(q.recs);
    q.recs = recs;
    const slots = new Int32Array(2 * n);
    slots.set(q.slots);
    q.slots = slots;
  }
  q.recs[n] = rec;
  q.slots[n] = slot;
  q.n = n + 1;
}

// Stages of the send and wait paths, as plain functions taking the call as the work item's
// argument: pushing work allocates no closure.
const sendStage = (c: unknown): void => (c as CrossCall).calls.sendCall(c as CrossCall);
const readStage = (c: unknown): void => (c as CrossCall).calls.readRelease(c as CrossCall);
const nextStage = (c: unknown): void => {
  const call = c as CrossCall;
  call.waitIdx++;
  call.calls.waitNext(call);
};

/**
 * The guest kernel's cross-call machinery (kernel/smp.c): smp_call_function_single / _many with
 * wait=1. The sender queues a csd on each target, sends the IPI through the VM's backend, then
 * spins until each target's handler has run the function and released its csd — the release
 * becomes visible to the sender after a cache-line transfer whose cost depends on distance.
 * Targets drain their whole queue per interrupt, so coalesced vectors lose no call. The
 * call-function handler's body is here too; `GuestKernel` dispatches the interrupt to it.
 */
export class CrossCalls {
  /** Each vCPU's queued csds, taken whole by its next call-function handler. */
  private readonly queues: CsdList[];
  /** Every call record, by number (`CrossCall.rec`). */
  private readonly records: CrossCall[] = [];
  /** Finished calls' records, for the next calls (see `CrossCall`). */
  private readonly free: CrossCall[] = [];

  constructor(
    private readonly hv: Hypervisor,
    private readonly vm: Vm,
    /** KVM_FEATURE_PV_SCHED_YIELD in use (see `GuestKernel.pvSchedYield`). */
    private readonly pvSchedYield: boolean,
  ) {
    this.queues = vm.vcpus.map(() => emptyCsdList());
  }

  /** See `GuestKernel.crossCall`. */
  crossCall(sender: Vcpu, targets: readonly Vcpu[], done: () => void, onHandlerStart?: (target: Vcpu, at: number) => void, work?: CallWork): void {
    if (targets.length === 0) {
      sender.pushWork(this.hv.costs.guestSendOverhead, done);
      return;
    }
    const hv = this.hv;
    const c = hv.costs;
    const kind: IpiKind = targets.length === 1 ? 'unicast' : targets.length === this.vm.vcpus.length - 1 ? 'broadcast' : 'multicast';
    // Per target: csd_lock + llist_add touch two lines the target last wrote (its csd, its queue head).
    // The call keeps its own copy of the targets, taken in the same pass.
    const call = this.record();
    const own = call.targets;
    let sendCost = c.guestSendOverhead;
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i]!;
      own[i] = t;
      sendCost += c.guestPerTargetOverhead + 2 * hv.fabric.cacheLine(sender.pcpu, t.pcpu);
    }
    // Shrinking by more than half would make V8 trim the list's store; it is refilled next time.
    own.length = targets.length;
    if (call.released.length < targets.length) call.released = new Uint8Array(Math.max(targets.length, 2 * call.released.length));
    else call.released.fill(0, 0, targets.length);
    call.sender = sender;
    call.work = work;
    call.onHandlerStart = onHandlerStart;
    call.done = done;
    call.kind = kind;
    call.vector = kind === 'unicast' ? VECTORS.callFunctionSingle : VECTORS.callFunction;
    call.startedAt = hv.sim.now;
    call.id = -1;
    call.sentAt = -1;
    call.waitIdx = 0;
    call.spin = undefined;
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
    const queues = this.queues;
    const rec = call.rec;
    for (let i = 0; i < targets.length; i++) pushCsd(queues[targets[i]!.index]!, rec, i);
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
    for (const t of targets) if (!this.deferIfPreempted(sender, t)) running.push(t);
    return running;
  }

  /** `deferPreempted` for one target: whether it was preempted, and so marked instead of IPIed. */
  deferIfPreempted(sender: Vcpu, t: Vcpu): boolean {
    if (t === sender || t.state !== 'preempted') return false;
    this.hv.requestFlushOnEntry(t);
    return true;
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
    // kvm_sched_yield runs in the hypercall's handling: the yield is decided before re-entry.
    hv.exit(sender, 'hypercall', c.exitRoundTrip + c.hypercallHandling, (reenter) => {
      hv.yieldTo(sender, preempted);
      reenter();
    }, () => this.waitNext(call));
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
      const done = call.done;
      this.recycle(call);
      done();
      return;
    }
    if (call.released[i] === 1) {
      this.readRelease(call);
      return;
    }
    call.spin = call.sender.pushSpin(readStage, call);
  }

  /** @internal The sender reads target `waitIdx`'s released csd line. */
  readRelease(call: CrossCall): void {
    call.sender.pushWork(this.hv.fabric.cacheLine(call.sender.pcpu, call.targets[call.waitIdx]!.pcpu), nextStage, call);
  }

  /** @internal Call records made so far (at most the calls ever in flight at once). */
  get recordCount(): number {
    return this.records.length;
  }

  /** A record for a new call: a finished one, or a new one. */
  private record(): CrossCall {
    const r = this.free.pop();
    if (r !== undefined) return r;
    const call: CrossCall = {
      calls: this,
      rec: this.records.length,
      sender: undefined as unknown as Vcpu,
      targets: [],
      work: undefined,
      onHandlerStart: undefined,
      done: noop,
      kind: 'unicast',
      vector: 0,
      startedAt: 0,
      id: -1,
      sentAt: -1,
      released: new Uint8Array(0),
      waitIdx: 0,
      spin: undefined,
      afterSend: () => this.afterSend(call),
    };
    this.records.push(call);
    return call;
  }

  /**
   * The sender's wait has ended: every target has released its csd, so no queue holds the call
   * and no handler reads it again (a handler's batch is done with it once `runAfter` ran). The
   * record drops what the caller gave it and waits for the next call.
   */
  private recycle(call: CrossCall): void {
    call.work = undefined;
    call.onHandlerStart = undefined;
    call.done = noop;
    this.free.push(call);
  }

  /**
   * Call-function handler, at entry: takes `v`'s whole queue (flush_smp_call_function_queue)
   * and leaves the handler's empty `spare` list in its place. Returns the batch taken.
   */
  take(v: Vcpu, spare: CsdList): CsdList {
    const taken = this.queues[v.index]!;
    this.queues[v.index] = spare;
    return taken;
  }

  /**
   * Call-function handler, after entry (at `start`): runs each csd's function. Returns the
   * handler body's cost: the calls' work, at least `handlerBody`.
   */
  run(v: Vcpu, b: CsdList, start: number): number {
    const c = this.hv.costs;
    let cost = 0;
    for (let i = 0; i < b.n; i++) {
      const call = this.records[b.recs[i]!]!;
      call.onHandlerStart?.(v, start);
      const w = call.work;
      if (w === undefined) cost += c.handlerBody;
      else {
        cost += w.cost(v);
        w.run(v);
      }
    }
    return Math.max(cost, c.handlerBody);
  }

  /** Call-function handler, done (it began at `start`): releases each csd, ending its sender's spin. */
  release(v: Vcpu, b: CsdList, start: number): void {
    const hv = this.hv;
    const now = hv.sim.now;
    const report = hv.sink.wants['ipi-handled'];
    for (let i = 0; i < b.n; i++) {
      const call = this.records[b.recs[i]!]!;
      const slot = b.slots[i]!;
      if (report) hv.sink.emit({ type: 'ipi-handled', t: now, id: call.id, to: v.ref, latency: now - call.sentAt, sendToHandler: start - call.sentAt });
      call.released[slot] = 1;
      if (call.waitIdx === slot && call.spin !== undefined) {
        call.spin.release();
        call.spin = undefined;
      }
    }
  }

  /** Call-function handler, ended (before its EOI): each call's continuation (`CallWork.after`). */
  runAfter(v: Vcpu, b: CsdList): void {
    const records = this.records;
    for (let i = 0; i < b.n; i++) records[b.recs[i]!]!.work?.after?.(v);
  }
}
