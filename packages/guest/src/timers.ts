import type { Hypervisor, Vm } from '@ipilab/hypervisor';
import { VECTORS, type Vcpu } from '@ipilab/vcpu';

/** How the timers claim the local APIC timer's vector: `GuestKernel.onDevice`. */
export type DeviceRegistration = (vector: number, handler: (v: Vcpu) => void) => void;

/**
 * One-shot guest timers (hrtimers on the local APIC timer): each is an interrupt delivered to
 * its vCPU when due, whose handler runs the timers that are due there.
 */
export class Timers {
  /** Armed timers per vCPU, in the order they were armed. */
  private readonly armed: { at: number; fn: (on: Vcpu) => void }[][];
  /** The local-timer vector is claimed on the first timer, so a guest without one has no handler. */
  private claimed = false;

  constructor(
    private readonly hv: Hypervisor,
    vm: Vm,
    private readonly onDevice: DeviceRegistration,
  ) {
    this.armed = vm.vcpus.map(() => []);
  }

  /** See `GuestKernel.timer`. */
  timer(v: Vcpu, ns: number, fn: (on: Vcpu) => void): void {
    if (!this.claimed) {
      this.claimed = true;
      this.onDevice(VECTORS.localTimer, (on) => this.expire(on));
    }
    const at = this.hv.sim.now + ns;
    this.armed[v.index]!.push({ at, fn });
    this.hv.sim.schedule(ns, () => this.hv.deliver(null, v, VECTORS.localTimer, this.hv.newIpiId()));
  }

  /** The local-timer interrupt on `on`, after its EOI: runs the timers due there, in arming order. */
  private expire(on: Vcpu): void {
    const due = this.armed[on.index]!;
    const now = this.hv.sim.now;
    const ready = due.filter((x) => x.at <= now);
    this.armed[on.index] = due.filter((x) => x.at > now);
    for (const x of ready) x.fn(on);
  }
}
