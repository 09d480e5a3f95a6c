import type { Hypervisor, IpiBackend, IpiRequest, Vm } from '@ipilab/hypervisor';
import { TrapAndEmulateBackend } from '@ipilab/ipi-trap';
import type { Vcpu } from '@ipilab/vcpu';

/** APIC IDs one KVM_HC_SEND_IPI call covers in a 64-bit guest: a 128-bit bitmap from a base ID. */
export const PV_IPI_WINDOW = 128;

/**
 * KVM paravirtual IPIs (arch/x86/kernel/kvm.c, arch/x86/kvm/lapic.c):
 * - send-IPI: destinations go into a 128-bit bitmap anchored at the lowest APIC ID; one
 *   KVM_HC_SEND_IPI hypercall per 128-ID window; the host walks the bitmap and delivers to each;
 * - TLB flush: for each target the guest reads the target's `preempted` flag; a preempted
 *   target gets KVM_VCPU_FLUSH_TLB set instead of an IPI and is flushed by the host on its next
 *   entry, so the sender never waits for it; the local vCPU is never treated as preempted;
 * - sched yield: after sending, yield to the first preempted target (KVM_HC_SCHED_YIELD).
 * Linux's PV apic replaces send_IPI_mask and the all/allbutself variants but not send_IPI, so a
 * single-destination send (smp_call_function_single, a reschedule IPI) still writes the ICR and
 * exits; so do self-IPIs and VMs without the send-IPI feature.
 */
export class ParavirtualBackend implements IpiBackend {
  readonly name: string = 'pv';
  private readonly emulated: TrapAndEmulateBackend;

  constructor(
    private readonly hv: Hypervisor,
    private readonly vm: Vm,
  ) {
    this.emulated = new TrapAndEmulateBackend(hv, vm);
    this.flushTlbFilter = vm.pv.tlbFlush ? (sender, targets) => this.filterPreempted(sender, targets) : undefined;
  }

  private filterPreempted(sender: Vcpu, targets: readonly Vcpu[]): readonly Vcpu[] {
    const running: Vcpu[] = [];
    for (const t of targets) {
      // The local vCPU is never treated as preempted.
      if (t !== sender && t.state === 'preempted') this.hv.requestFlushOnEntry(t);
      else running.push(t);
    }
    return running;
  }

  send(req: IpiRequest, done: () => void): void {
    if (req.kind === 'self' || req.kind === 'unicast' || !this.vm.pv.sendIpi) {
      this.emulated.send(req, done);
      return;
    }
    const windows = bitmapWindows(req.targets);
    this.hypercalls(req, windows, 0, () => this.maybeYield(req, done));
  }

  readonly flushTlbFilter: ((sender: Vcpu, targets: readonly Vcpu[]) => readonly Vcpu[]) | undefined;

  private hypercalls(req: IpiRequest, windows: readonly (readonly Vcpu[])[], i: number, done: () => void): void {
    if (i === windows.length) {
      done();
      return;
    }
    const targets = windows[i]!;
    const c = this.hv.costs;
    if (this.hv.sink.wants['hypercall']) this.hv.sink.emit({ type: 'hypercall', t: this.hv.sim.now, vcpu: req.sender.ref, name: 'KVM_HC_SEND_IPI', targets: targets.length });
    this.hv.exit(
      req.sender,
      'hypercall',
      c.exitRoundTrip + c.hypercallHandling,
      (reenter) => this.hv.deliverAll(req.sender, targets, req.vector, req.id, reenter),
      () => this.hypercalls(req, windows, i + 1, done),
    );
  }

  private maybeYield(req: IpiRequest, done: () => void): void {
    if (!this.vm.pv.schedYield) {
      done();
      return;
    }
    const preempted = req.targets.find((t) => t !== req.sender && t.state === 'preempted');
    if (preempted === undefined) {
      done();
      return;
    }
    const c = this.hv.costs;
    if (this.hv.sink.wants['hypercall']) this.hv.sink.emit({ type: 'hypercall', t: this.hv.sim.now, vcpu: req.sender.ref, name: 'KVM_HC_SCHED_YIELD', targets: 1 });
    this.hv.exit(req.sender, 'hypercall', c.exitRoundTrip + c.hypercallHandling, null, () => {
      this.hv.yieldTo(preempted);
      done();
    });
  }
}

/**
 * Splits destinations into KVM_HC_SEND_IPI calls: sorted by APIC ID, each call covers IDs in
 * [base, base + 128) where base is the lowest ID not yet covered (__send_ipi_mask).
 */
export function bitmapWindows(targets: readonly Vcpu[]): Vcpu[][] {
  const sorted = [...targets].sort((a, b) => a.apicId - b.apicId);
  const out: Vcpu[][] = [];
  let base = -Infinity;
  for (const t of sorted) {
    if (t.apicId >= base + PV_IPI_WINDOW) {
      base = t.apicId;
      out.push([]);
    }
    out[out.length - 1]!.push(t);
  }
  return out;
}
