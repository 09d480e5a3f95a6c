import type { Vcpu } from '@ipilab/vcpu';
import type { Hypervisor } from './hypervisor';

/** How an idle CPU waits: not idle, spinning in the cpuidle POLL state, or in C1 (MWAIT). */
const RUNNING = 0;
const POLL = 1;
const C1 = 2;

/** An arrival's event argument: the CPU's index and the vector, packed in one small integer (no object per IPI). */
const VECTOR_BITS = 256;

/**
 * The paths of a host with no hypervisor (`hypervisor.mode: bare-metal`): the VM's vCPUs are the
 * machine's CPUs, one per pCPU for the whole run. What is not here does not happen: no VM exit,
 * no injection on entry, no host scheduler (no run queue, tick or switch on any CPU), no KVM halt
 * polling, no posted-interrupt descriptor. What stays is the hardware:
 *
 *   send    the sender's ICR writes (the backend charges them as its own work)
 *   wire    each target's local APIC sets the vector in its IRR after `fabric.latency(src, dst)`
 *   running the target takes it at once if nothing is in service (interrupt entry + handler)
 *   idle    the target wakes first: at once from the POLL state, after `idleExitLatency` from C1
 *   EOI     an x2APIC EOI MSR write, which does not trap natively; its cost is in `handlerBody`
 *
 * Idle is HLT/MWAIT under the cpuidle governor, reduced to its core rule (menu.c, teo.c): the
 * CPU polls when it expects to be idle for less than C1's target residency (`idleTargetResidency`)
 * and enters C1 otherwise; it expects its last idle period (until the interrupt arrived) again.
 * A CPU that has not been idle yet expects a long idle (C1).
 */
export class BareMetal {
  /** By host thread id (one per CPU): how it idles now, whether a wake-up is under way, its last idle period. */
  private idleState = new Uint8Array(0);
  private waking = new Uint8Array(0);
  private lastIdleNs = new Float64Array(0);
  private cpus: Vcpu[] = [];
  private readonly onArrival = (packed: number): void => this.arrive(packed);
  private readonly onWake = (id: number): void => this.wake(id);

  constructor(private readonly hv: Hypervisor) {}

  /** Takes the VM's vCPUs as the machine's CPUs (called once, when the VM is added). */
  adopt(vcpus: readonly Vcpu[]): void {
    this.cpus = [...this.cpus, ...vcpus];
    const n = this.cpus.length;
    this.idleState = new Uint8Array(n);
    this.waking = new Uint8Array(n);
    this.lastIdleNs = new Float64Array(n).fill(Infinity);
  }

  /** Every CPU runs its own code from the start: no run queue, so nothing to wait for. */
  start(): void {
    for (const v of this.cpus) {
      this.hv.runners[v.pcpu]!.own(v);
      v.enterGuest(v.pcpu);
    }
  }

  /**
   * A physical IPI (or a local timer interrupt, `from` null) for `target`: its APIC sees the
   * vector after the wire latency. Hardware does the delivery, so it costs the sender nothing
   * beyond the ICR write it already paid; returns 0.
   */
  deliver(from: Vcpu | null, target: Vcpu, vector: number, ipiId: number): number {
    const hv = this.hv;
    const src = from === null ? target.pcpu : from.pcpu;
    if (hv.sink.wants['ipi-delivered']) hv.sink.emit({ type: 'ipi-delivered', t: hv.sim.now, id: ipiId, to: target.ref, via: 'native' });
    hv.sim.schedule(hv.fabric.latency(src, target.pcpu), this.onArrival, target.hostId * VECTOR_BITS + vector);
    return 0;
  }

  /** The interrupt message reaches its CPU: IRR set; taken now if it runs, after waking if it idles. */
  private arrive(packed: number): void {
    const id = Math.floor(packed / VECTOR_BITS);
    const v = this.cpus[id]!;
    v.apic.request(packed % VECTOR_BITS);
    if (v.state === 'in-guest') {
      if (!v.apic.anyInService()) this.hv.takeInterrupt(v);
      return;
    }
    if (v.state !== 'halted' || this.waking[id] === 1) return;
    this.waking[id] = 1;
    // The idle period the governor learns from ends here: the exit latency is not idleness
    // (menu.c menu_update subtracts it from the measured time).
    this.lastIdleNs[id] = this.hv.sim.now - v.haltedAt;
    // POLL notices the interrupt at once; MWAIT in C1 takes the C-state exit latency first.
    this.hv.sim.schedule(this.idleState[id] === C1 ? this.hv.costs.idleExitLatency : 0, this.onWake, id);
  }

  /** The CPU leaves idle; its idle loop returns, finds the interrupt pending and takes it (`halt`). */
  private wake(id: number): void {
    this.waking[id] = 0;
    const v = this.cpus[id]!;
    if (v.state !== 'halted') return;
    this.idleState[id] = RUNNING;
    v.enterGuest(v.pcpu);
  }

  /** The CPU has no work: it takes a pending interrupt, or idles in POLL or C1 as the governor predicts. */
  halt(v: Vcpu): void {
    if (v.apic.hasPending()) {
      if (!v.apic.anyInService()) this.hv.takeInterrupt(v);
      return;
    }
    v.leaveGuest('halted');
    v.haltedAt = this.hv.sim.now;
    this.idleState[v.hostId] = this.lastIdleNs[v.hostId]! < this.hv.costs.idleTargetResidency ? POLL : C1;
  }

  /** Native EOI: the x2APIC EOI MSR write retires in the handler (no exit); the next pending vector follows. */
  eoi(v: Vcpu): void {
    v.apic.eoi();
    if (v.apic.hasPending() && v.state === 'in-guest' && !v.apic.anyInService()) this.hv.takeInterrupt(v);
  }
}
