import type { EventHandle } from '@ipilab/core';
import type { Vcpu } from '@ipilab/vcpu';
import type { Hypervisor } from './hypervisor';

const NO_EVENT = -1 as EventHandle;

/**
 * A guest's HLT under KVM and the wake-up that ends it (virt/kvm/kvm_main.c kvm_vcpu_halt,
 * kvm_vcpu_kick): a vCPU with nothing pending leaves guest mode halted; if nothing else is
 * runnable on its pCPU (single_task_running) it first polls for its own adaptive window, then
 * blocks and gives the pCPU up. An interrupt for it while it polls is noticed on its pCPU once
 * the write is visible there; once blocked, the host scheduler must wake its thread.
 * The window adapts per vCPU as kvm_vcpu_halt's grow_halt_poll_ns / shrink_halt_poll_ns do.
 */
export class HaltPolling {
  /** By host thread id: the event that ends the vCPU's poll window. */
  private pollEnd: EventHandle[] = [];
  private readonly onPollEnd = (v: Vcpu): void => this.endPoll(v);

  constructor(private readonly hv: Hypervisor) {}

  /** The guest executes HLT: idle, or in a PV spinlock's kvm_wait with work left on its stack (see `Hypervisor.halt`). */
  halt(v: Vcpu): void {
    const hv = this.hv;
    v.apic.syncPir();
    if (v.apic.hasPending()) {
      if (!v.apic.anyInService()) hv.takeInterrupt(v);
      return;
    }
    v.leaveGuest('halted');
    v.haltedAt = hv.sim.now;
    // HLT exits (EXIT_REASON_HLT / SVM_EXIT_HLT): counted like any exit; the time that follows is halted time.
    if (hv.sink.wants['vm-exit']) hv.sink.emit({ type: 'vm-exit', t: hv.sim.now, vcpu: v.ref, reason: 'hlt', cost: 0 });
    const runner = hv.runners[v.pcpu]!;
    if (v.haltPollNs > 0 && v.hostHaltPoll && runner.queueLength === 0) {
      v.polling = true;
      this.pollEnd[v.hostId] = hv.sim.schedule(v.haltPollNs, this.onPollEnd, v);
    } else {
      runner.release(v);
    }
  }

  /** The window ran out with nothing pending: the vCPU blocks and its pCPU goes to the next thread. */
  private endPoll(v: Vcpu): void {
    this.pollEnd[v.hostId] = NO_EVENT;
    v.polling = false;
    this.hv.runners[v.pcpu]!.release(v);
  }

  /** Ends a halted vCPU's polling without blocking it (it was woken, or its pCPU was taken). */
  stopPolling(v: Vcpu): void {
    const h = this.pollEnd[v.hostId];
    if (h !== undefined && h !== NO_EVENT) {
      this.hv.sim.tryCancel(h);
      this.pollEnd[v.hostId] = NO_EVENT;
    }
    v.polling = false;
  }

  /**
   * An interrupt was made pending for the halted `v` by a sender on `srcPcpu`; returns what the
   * wake-up costs the sender (ns). A polling vCPU notices by itself; a blocked one is woken by the
   * host scheduler (the sender pays `wakeBlockedSender`, the woken thread `hostWakeLatency`).
   */
  wake(v: Vcpu, srcPcpu: number): number {
    const hv = this.hv;
    if (v.polling) {
      this.stopPolling(v);
      // The poll loop sees the pending interrupt once the write is visible on its pCPU.
      const token = v.entryToken;
      hv.sim.schedule(hv.fabric.latency(srcPcpu, v.pcpu) + hv.costs.haltPollNotice, () => {
        if (v.entryToken === token && v.state === 'halted') hv.reenter(v);
      });
      return 0;
    }
    if (!hv.scheduling.wakeBlocked(v, hv.costs.hostWakeLatency, hv.costs.vcpuMigration)) return 0; // already being woken
    this.adapt(v);
    return hv.costs.wakeBlockedSender;
  }

  /** kvm_vcpu_halt's window update, on the wake-up that ends a block. */
  private adapt(v: Vcpu): void {
    const hp = this.hv.config.haltPoll;
    // Only while KVM may poll this vCPU (kvm_vcpu_halt's halt_poll_allowed).
    if (hp.maxNs === 0 || !v.hostHaltPoll) return;
    const blockNs = this.hv.sim.now - v.haltedAt;
    if (v.haltPollNs > 0 && blockNs > hp.maxNs) {
      v.haltPollNs = hp.shrink === 0 ? 0 : Math.floor(v.haltPollNs / hp.shrink);
    } else if (v.haltPollNs < hp.maxNs && blockNs < hp.maxNs) {
      v.haltPollNs = Math.min(hp.maxNs, v.haltPollNs === 0 ? hp.growStartNs : v.haltPollNs * hp.grow);
    }
  }
}
