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
      // A preempted target stays where it waits: KVM's "boost" (boostIpiTargets) marks woken
      // vCPUs ready for directed yield (halting.ts -> wakeBlocked), it does not reorder run queues.
      via = target.state === 'exited' ? 'injected' : 'pending';
    }
    if (hv.sink.wants['ipi-delivered']) hv.sink.emit({ type: 'ipi-delivered', t: hv.sim.now, id: ipiId, to: target.ref, via });
    return cost;
  }

  /**
   * KVM_HC_KICK_CPU's host side (arch/x86/kvm/x86.c kvm_pv_kick_cpu_op): a delivery to the
   * target's APIC ID in mode APIC_DM_REMRD, which __apic_accept_irq turns into `pv_unhalted = 1`
   * and kvm_vcpu_kick; no vector is made pending. A halted target is woken as by an interrupt (a
   * polling one notices, a blocked one is scheduled: halting.ts) and re-enters with the guest
   * work it halted on; a target not halted (an interrupt woke it first) needs nothing more, as
   * the waiter then finds the lock handed to it before it could halt again. Returns the host
   * time it cost the sender (ns): the per-target delivery and, for a blocked target, its wake-up.
   */
  unhalt(from: Vcpu, target: Vcpu): number {
    const hv = this.hv;
    const c = hv.costs;
    let cost = c.deliverPerTarget + c.deliverTargetLines * hv.fabric.cacheLine(from.pcpu, target.pcpu);
    if (target.state === 'halted') cost += hv.halting.wake(target, from.pcpu);
    return cost;
  }

  /**
   * AMD AVIC on the send side (arch/x86/kvm/svm/avic.c): the processor delivers by itself while
   * the target's IsRunning bit is set — from avic_vcpu_load until avic_vcpu_put, which KVM calls
   * when the vCPU thread is scheduled out and, through avic_vcpu_blocking, when a halted vCPU
   * blocks; so a vCPU in guest mode or in KVM's halt polling is "running". A running target is
   * posted and notified (doorbell); a polling one notices the vector in its poll loop. Returns
   * false when IsRunning is clear (the sender must take AVIC_INCOMPLETE_IPI).
   */
  hardwarePost(from: Vcpu, target: Vcpu, vector: number, ipiId: number): boolean {
    const hv = this.hv;
    if (target.state === 'in-guest') {
      this.postAndNotify(from.pcpu, target, vector);
    } else if (target.state === 'halted' && target.polling) {
      target.apic.post(vector);
      hv.halting.wake(target, from.pcpu);
    } else {
      return false;
    }
    if (hv.sink.wants['ipi-delivered']) hv.sink.emit({ type: 'ipi-delivered', t: hv.sim.now, id: ipiId, to: target.ref, via: 'posted' });
    return true;
  }

  /**
   * Intel IPI virtualization (IPIv; arch/x86/kvm/vmx/posted_intr.c): the processor posts the
   * vector in the target's posted-interrupt descriptor, found through the PID-pointer table,
   * whatever the target is doing, and the sender never exits. What follows depends on the
   * descriptor KVM keeps for the target: a running vCPU is notified and takes it without an exit;
   * a vCPU in halt polling is notified on its pCPU and its poll loop notices; a blocked vCPU's
   * descriptor carries the wake-up vector (pi_enable_wakeup_handler), whose handler makes the
   * host wake its thread; a preempted one has notifications suppressed (SN) and merges the
   * vector at its next entry, as does one in an exit.
   */
  ipivPost(from: Vcpu, target: Vcpu, vector: number, ipiId: number): void {
    const hv = this.hv;
    let via: 'posted' | 'pending' = 'posted';
    if (target.state === 'in-guest') {
      this.postAndNotify(from.pcpu, target, vector);
    } else {
      target.apic.post(vector);
      if (target.state === 'halted') hv.halting.wake(target, from.pcpu); // the host's wake-up handler, not the sender, pays
      else via = 'pending';
    }
    if (hv.sink.wants['ipi-delivered']) hv.sink.emit({ type: 'ipi-delivered', t: hv.sim.now, id: ipiId, to: target.ref, via });
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
