import type { Hypervisor, Vm } from '@ipilab/hypervisor';
import { VECTORS, type Vcpu } from '@ipilab/vcpu';

/** A try_to_wake_up in flight, then queued on its target until the reschedule handler runs it. */
export interface Wakeup {
  readonly wakeups: Wakeups;
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

/**
 * try_to_wake_up across vCPUs (kernel/sched/core.c ttwu_queue_wakelist): the woken work is
 * queued on its target and a reschedule IPI makes the target run it after its handler. The
 * reschedule handler's body is here too; `GuestKernel` dispatches the interrupt to it.
 */
export class Wakeups {
  /** Tasks woken onto each vCPU, run after its reschedule interrupt. */
  private readonly queues: Wakeup[][];

  constructor(
    private readonly hv: Hypervisor,
    private readonly vm: Vm,
  ) {
    this.queues = vm.vcpus.map(() => []);
  }

  /** See `GuestKernel.wakeOn`. */
  wakeOn(sender: Vcpu, target: Vcpu, task: () => void, sent: () => void = noop): void {
    if (target === sender) {
      sender.pushWork(0, task);
      sent();
      return;
    }
    const hv = this.hv;
    const w: Wakeup = { wakeups: this, sender, target, task, sent, id: -1, sentAt: -1 };
    sender.pushWork(hv.costs.guestSendOverhead + hv.fabric.cacheLine(sender.pcpu, target.pcpu), wakeStage, w);
  }

  /** @internal The wake-up's send path has run: queue the task and send the reschedule IPI. */
  sendWakeup(w: Wakeup): void {
    const hv = this.hv;
    w.id = hv.newIpiId();
    w.sentAt = hv.sim.now;
    this.queues[w.target.index]!.push(w);
    if (hv.sink.wants['ipi-sent']) hv.sink.emit({ type: 'ipi-sent', t: w.sentAt, id: w.id, from: w.sender.ref, targets: [w.target.index], kind: 'unicast', vector: VECTORS.reschedule });
    this.vm.backend.send({ sender: w.sender, targets: [w.target], vector: VECTORS.reschedule, kind: 'unicast', id: w.id }, w.sent);
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
    if (hv.sink.wants['ipi-handled']) for (const w of woken) hv.sink.emit({ type: 'ipi-handled', t: now, id: w.id, to: v.ref, latency: now - w.sentAt, sendToHandler: start - w.sentAt });
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
