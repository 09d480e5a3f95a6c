import type { Hypervisor, Vm } from '@ipilab/hypervisor';
import { VECTORS, type Vcpu } from '@ipilab/vcpu';
import type { GuestIdle } from './idle';

/** A try_to_wake_up in flight, then queued on its target until the reschedule handler runs it. */
export interface Wakeup {
  readonly wakeups: Wakeups;
  readonly vector: number;
  readonly sender: Vcpu;
  readonly target: Vcpu;
  readonly task: () => void;
  readonly sent: () => void;
  id: number;
  sentAt: number;
}

// The send path's stage, a plain function taking the wake-up as the work item's argument:
// pushing work allocates no closure.
const wakeStage = (w: unknown): void => (w as Wakeup).wakeups.sendWakeup(w as Wakeup);
const noop = (): void => undefined;
const noopStage = (): void => undefined;

/**
 * Wake-ups across vCPUs (kernel/sched/core.c):
 * - a queued wake-up (__ttwu_queue_wakelist): the woken work goes on the target's wake list and
 *   a call-function-single IPI makes the target run it in its handler (sched_ttwu_pending; since
 *   Linux 5.8, "sched: Replace rq::wake_list", the wake list shares the call-single queue and
 *   its vector); the reschedule vector before that;
 * - a reschedule (resched_curr -> smp_send_reschedule): a reschedule IPI, whose handler
 *   (scheduler_ipi) only makes the target reschedule.
 * Both skip the IPI when the target idles in a polling loop (set_nr_if_polling /
 * set_nr_and_not_polling: TIF_POLLING_NRFLAG): setting need_resched there is enough, the loop
 * sees it and runs the wake list (do_idle -> flush_smp_call_function_queue). The handlers'
 * bodies are here too; `GuestKernel` dispatches the interrupts to them.
 */
export class Wakeups {
  /** Tasks woken onto each vCPU, run after its reschedule interrupt. */
  private readonly queues: Wakeup[][];

  private readonly pollWakeCb = (v: Vcpu): void => this.pollWake(v);

  constructor(
    private readonly hv: Hypervisor,
    private readonly vm: Vm,
    private readonly idle: GuestIdle,
  ) {
    this.queues = vm.vcpus.map(() => []);
  }

  /**
   * See `GuestKernel.wakeOn` (`vector` callFunctionSingle) and `GuestKernel.reschedule`
   * (`vector` reschedule, `task` null). Returns whether an IPI is sent.
   */
  wakeOn(sender: Vcpu, target: Vcpu, task: (() => void) | null, sent: () => void = noop, vector: number = VECTORS.callFunctionSingle): boolean {
    if (target === sender) {
      if (task !== null) sender.pushWork(0, task);
      sent();
      return false;
    }
    const hv = this.hv;
    const w: Wakeup = { wakeups: this, vector, sender, target, task: task ?? noop, sent, id: -1, sentAt: -1 };
    if (this.idle.polling(target)) {
      // No IPI: need_resched in the target's thread flags, one cache line over; its idle loop
      // sees it, leaves, and runs the wake list.
      this.queues[target.index]!.push(w);
      sender.pushWork(hv.costs.guestSendOverhead, noopStage);
      hv.sim.schedule(hv.fabric.cacheLine(sender.pcpu, target.pcpu), this.pollWakeCb, target);
      sent();
      return false;
    }
    sender.pushWork(hv.costs.guestSendOverhead + hv.fabric.cacheLine(sender.pcpu, target.pcpu), wakeStage, w);
    return true;
  }

  /** @internal The wake-up's send path has run: queue the task and send the IPI. */
  sendWakeup(w: Wakeup): void {
    const hv = this.hv;
    w.id = hv.newIpiId();
    w.sentAt = hv.sim.now;
    this.queues[w.target.index]!.push(w);
    if (hv.sink.wants['ipi-sent']) hv.sink.emit({ type: 'ipi-sent', t: w.sentAt, id: w.id, from: w.sender.ref, targets: [w.target.index], kind: 'unicast', vector: w.vector });
    this.vm.backend.send({ sender: w.sender, targets: [w.target], vector: w.vector, kind: 'unicast', id: w.id }, w.sent);
  }

  /**
   * The polling target noticed need_resched: its idle loop ends and runs what was queued. If it
   * had meanwhile left polling and halted, the flag found it not polling: the waker's IPI goes
   * after all (set_nr_if_polling fails), modelled as the interrupt reaching it now.
   */
  private pollWake(v: Vcpu): void {
    if (this.queues[v.index]!.length === 0) return;
    if (v.state === 'halted' && !this.idle.polling(v)) {
      this.hv.deliver(null, v, VECTORS.callFunctionSingle, this.hv.newIpiId());
      return;
    }
    this.idle.pollWake(v);
  }

  /** Wake-ups queued on `v` (its idle loop runs them when it leaves polling). */
  pending(v: Vcpu): number {
    return this.queues[v.index]!.length;
  }

  /**
   * Reschedule handler, at entry: takes the wake-ups queued on `v` and leaves the handler's
   * empty `spare` list in their place (the lists swap, so nothing is copied). Returns those taken.
   */
  take(v: Vcpu, spare: Wakeup[]): Wakeup[] {
    const q = this.queues[v.index]!;
    this.queues[v.index] = spare;
    return q;
  }

  /** Reschedule handler, done (it began at `start`): reports each wake-up's IPI handled. */
  handled(v: Vcpu, woken: readonly Wakeup[], start: number): void {
    const hv = this.hv;
    const now = hv.sim.now;
    if (hv.sink.wants['ipi-handled']) for (const w of woken) if (w.id >= 0) hv.sink.emit({ type: 'ipi-handled', t: now, id: w.id, to: v.ref, latency: now - w.sentAt, sendToHandler: start - w.sentAt });
  }

  /**
   * Reschedule handler, ended: queues the woken tasks on `v` and empties `woken`. The caller
   * does this before the EOI: an interrupt taken at the EOI must run on top of the woken work
   * (before it), as one taken after iret would, not underneath it.
   */
  runWoken(v: Vcpu, woken: Wakeup[]): void {
    for (let i = 0; i < woken.length; i++) v.pushWork(0, woken[i]!.task);
    woken.length = 0;
  }
}
