import type { BackendHost, BackendVm, IpiBackend, IpiRequest } from '@ipilab/hypervisor';
import { TrapAndEmulateBackend } from '@ipilab/ipi-trap';
import type { Vcpu } from '@ipilab/vcpu';

/** APIC IDs one KVM_HC_SEND_IPI call covers in a 64-bit guest: a 128-bit bitmap from a base ID. */
export const PV_IPI_WINDOW = 128;

/**
 * KVM paravirtual send-IPI (KVM_FEATURE_PV_SEND_IPI; arch/x86/kernel/kvm.c __send_ipi_mask,
 * arch/x86/kvm/lapic.c kvm_pv_send_ipi): destinations go into a 128-bit bitmap anchored at the
 * lowest APIC ID; one KVM_HC_SEND_IPI hypercall per 128-ID window; the host walks the bitmap and
 * delivers to each. Linux's PV apic replaces send_IPI_mask and the all/allbutself variants but
 * not send_IPI, so a single-destination send (smp_call_function_single, a reschedule IPI) still
 * writes the ICR and exits; so do self-IPIs and VMs without the feature.
 * PV TLB flush and PV sched yield are separate KVM features the guest uses whatever the backend
 * (@ipilab/guest: shootdown-strategy.ts, GuestKernel).
 */
export class ParavirtualBackend implements IpiBackend {
  readonly name: string = 'pv';
  private readonly emulated: TrapAndEmulateBackend;

  constructor(
    private readonly hv: BackendHost,
    private readonly vm: BackendVm,
  ) {
    this.emulated = new TrapAndEmulateBackend(hv, vm);
  }

  /** Sends one IPI this way (see `IpiBackend.send` in @ipilab/hypervisor for the contract). */
  send(req: IpiRequest, done: () => void): void {
    if (req.kind === 'self' || req.kind === 'unicast' || !this.vm.pv.sendIpi) {
      this.emulated.send(req, done);
      return;
    }
    const windows = bitmapWindows(req.targets);
    this.hypercalls(req, windows, 0, done);
  }

  private hypercalls(req: IpiRequest, windows: readonly (readonly Vcpu[])[], i: number, done: () => void): void {
    if (i === windows.length) {
      done();
      return;
    }
    const targets = windows[i]!;
    const c = this.hv.costs;
    if (this.hv.sink.wants['hypercall']) this.hv.sink.emit({ type: 'hypercall', t: this.hv.clock.now, vcpu: req.sender.ref, name: 'KVM_HC_SEND_IPI', targets: targets.length });
    this.hv.exit(
      req.sender,
      'hypercall',
      c.exitRoundTrip + c.hypercallHandling,
      (reenter) => this.hv.deliverAll(req.sender, targets, req.vector, req.id, reenter),
      () => this.hypercalls(req, windows, i + 1, done),
    );
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
