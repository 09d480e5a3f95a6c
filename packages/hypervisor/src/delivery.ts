import type { Vcpu } from '@ipilab/vcpu';
import type { Hypervisor } from './hypervisor';

/**
 * The host's side of interrupt delivery, shared by every KVM backend (kvm_irq_delivery_to_apic
 * and __apic_accept_irq in arch/x86/kvm/lapic.c, vmx_deliver_posted_interrupt in vmx.c):
 *
 *   target in guest  -> posted (notification IPI, no exit) or kicked (IPI, external-interrupt exit)
 *   target exited    -> pended, injected on its next entry
 *   target halted    -> woken: a polling vCPU re-enters at once, a blocked one is scheduled (halting.ts)
 *   target preempted -> pended until it next runs (optionally boosted)
 *
 * Per-event work touches only fields and the calendar; the callbacks are bound once.
 */
export class InterruptDelivery {
  private readonly onNotificationCb = (v: Vcpu): void => this.onNotification(v);
  private readonly onKickCb = (v: Vcpu): void => this.onKick(v);

  constructor(private readonly hv: Hypervisor) {}

  /**
   * The host delivers `vector` to each target in turn, as kvm_irq_delivery_to_apic does, on
   * behalf of a sender in an exit (or of hardware, `from` null). Each target costs the sender
   * `deliverPerTarget` plus what notifying it takes (a notification/kick IPI, or waking a
   * blocked thread); the next target is reached only after that. `then` runs after the last.
   */
  deliverAll(from: Vcpu | null, targets: readonly Vcpu[], vector: number, ipiId: number, then: () => void): void {
    let i = 0;
    const sim = this.hv.sim;
    const step = (): void => {
      if (i === targets.length) {
        then();
        return;
      }
      const cost = this.deliver(from, targets[i++]!, vector, ipiId);
      sim.schedule(cost, step);
    };
    step();
  }

  /** Delivers to one target now; returns the host time it cost the sender (ns). */
  deliver(from: Vcpu | null, target: Vcpu, vector: number, ipiId: number): number {
    const hv = this.hv;
    const c = hv.costs;
    const srcPcpu = from === null ? target.pcpu : from.pcpu;
    // The target's descriptor, mode and wait queue are written by the target's pCPU: each touch is a miss.
    let cost = c.deliverPerTarget + c.deliverTargetLines * hv.fabric.cacheLine(srcPcpu, target.pcpu);
    let via: 'posted' | 'injected' | 'pending' = 'pending';
    if (target === from) {
      // Self-IPI: pended; the sender takes it when it re-enters.
      this.request(target, vector);
    } else if (target.state === 'in-guest') {
      if (hv.config.postedInterrupts) {
        if (this.postAndNotify(srcPcpu, target, vector)) cost += c.postNotifySend;
        via = 'posted';
      } else {
        target.apic.request(vector);
        cost += c.postNotifySend; // the kick is a physical IPI, same send cost
        hv.sim.schedule(hv.fabric.latency(srcPcpu, target.pcpu), this.onKickCb, target);
        via = 'injected';
      }
    } else {
      this.request(target, vector);
      if (target.state === 'halted') cost += hv.halting.wake(target, srcPcpu);
      else if (target.state === 'preempted' && hv.config.boostIpiTargets) hv.runners[target.pcpu]!.boost(hv.threadOf(target));
      via = target.state === 'exited' ? 'injected' : 'pending';
    }
    if (hv.sink.wants['ipi-delivered']) hv.sink.emit({ type: 'ipi-delivered', t: hv.sim.now, id: ipiId, to: target.ref, via });
    return cost;
  }

  /**
   * Hardware IPI virtualization (IPIv / AVIC) on the send side: if `target` is running, the
   * processor posts the vector and notifies it with no exit anywhere. Returns false when the
   * target is not running (the sender must then take an incomplete-IPI exit).
   */
  hardwarePost(from: Vcpu, target: Vcpu, vector: number, ipiId: number): boolean {
    if (target.state !== 'in-guest') return false;
    const hv = this.hv;
    this.postAndNotify(from.pcpu, target, vector);
    if (hv.sink.wants['ipi-delivered']) hv.sink.emit({ type: 'ipi-delivered', t: hv.sim.now, id: ipiId, to: target.ref, via: 'posted' });
    return true;
  }

  /**
   * A self-IPI. With APICv the x2APIC SELF_IPI write is virtualized: the vector is taken as
   * soon as the sender's guest code allows (no exit). Without it the write traps.
   */
  selfIpi(v: Vcpu, vector: number, ipiId: number, done: () => void): void {
    const hv = this.hv;
    if (hv.sink.wants['ipi-delivered']) hv.sink.emit({ type: 'ipi-delivered', t: hv.sim.now, id: ipiId, to: v.ref, via: hv.config.postedInterrupts ? 'posted' : 'injected' });
    if (hv.config.postedInterrupts) {
      v.apic.post(vector);
      v.apic.syncPir();
      done();
      if (v.state === 'in-guest' && !v.apic.anyInService()) hv.takeInterrupt(v);
      return;
    }
    hv.exit(
      v,
      'apic-write',
      hv.costs.exitRoundTrip + hv.costs.apicWriteEmulation,
      (reenter) => {
        v.apic.request(vector);
        reenter();
      },
      done,
    );
  }

  /** Posts `vector` in a running target's descriptor; if that needs a notification IPI, sends it. Returns whether it did. */
  private postAndNotify(srcPcpu: number, target: Vcpu, vector: number): boolean {
    if (!target.apic.post(vector)) return false;
    this.hv.sim.schedule(this.hv.fabric.latency(srcPcpu, target.pcpu), this.onNotificationCb, target);
    return true;
  }

  private request(v: Vcpu, vector: number): void {
    if (this.hv.config.postedInterrupts) v.apic.post(vector);
    else v.apic.request(vector);
  }

  /** A posted-interrupt notification reaches a target: in guest, it takes the interrupt with no exit. */
  private onNotification(v: Vcpu): void {
    if (v.state !== 'in-guest') return; // merged at its next entry
    v.apic.syncPir();
    if (!v.apic.anyInService()) this.hv.takeInterrupt(v);
  }

  /** A kick reaches a running target: it exits so the interrupt can be injected on entry. */
  private onKick(v: Vcpu): void {
    if (v.state !== 'in-guest') return;
    this.hv.exit(v, 'external-interrupt', this.hv.costs.externalInterruptExit, null, null);
  }
}
