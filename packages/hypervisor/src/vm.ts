import type { ApicMode } from '@ipilab/host';
import type { Vcpu } from '@ipilab/vcpu';
import type { BackendVm, GuestOs } from './contracts';
import type { IpiBackend } from './ipi-backend';
import type { PlacementPolicy } from './placement-policy';

/** A built-in placement by name, or a placement policy (placement-policy.ts). */
export type Placement = 'pinned' | 'shared' | PlacementPolicy;

/** The paravirtual features a guest uses. */
export interface PvFeatures {
  /** KVM_FEATURE_PV_SEND_IPI: multicast IPIs by hypercall. */
  readonly sendIpi: boolean;
  /** KVM_FEATURE_PV_TLB_FLUSH: skip preempted targets, flush them on entry. */
  readonly tlbFlush: boolean;
  /** KVM_FEATURE_PV_SCHED_YIELD: after an IPI, yield to a preempted target. */
  readonly schedYield: boolean;
  /**
   * KVM_FEATURE_PV_UNHALT: paravirtual qspinlocks (a spinlock waiter halts after SPIN_THRESHOLD
   * iterations; the unlocker kicks it with KVM_HC_KICK_CPU). The guest uses them only under KVM
   * and with more than one vCPU (arch/x86/kernel/kvm.c kvm_spinlock_init).
   */
  readonly spinlocks: boolean;
}

/** How a VM is made: vCPUs, placement, APIC mode, PV features, idle and tick settings. */
export interface VmSpec {
  readonly name: string;
  readonly vcpus: number;
  /** `pinned`: one dedicated pCPU per vCPU. `shared`: vCPUs time-share `pcpus` (overcommit). Or a plugin's policy. */
  readonly placement: Placement;
  /** pCPUs the VM may use; default: the next free ones (pinned) or every pCPU (shared). */
  readonly pcpus?: readonly number[];
  readonly apicMode: ApicMode;
  /** IPI backend name, resolved in the hypervisor's backend registry. */
  readonly backend: string;
  readonly pv?: Partial<PvFeatures>;
  /**
   * Load weight of each of the VM's vCPU threads in the host scheduler (1024 = nice 0; nice -5
   * is 3121, nice 5 is 335: sched_prio_to_weight). Honoured by the fair policies.
   */
  readonly weight?: number;
  /** The guest sends all-but-self broadcasts with one shorthand ICR write (Linux >= 5.6). */
  readonly shorthand?: boolean;
  /** How the guest idles: HLT (default), idle=poll, or cpuidle-haltpoll (@ipilab/guest idle.ts). */
  readonly idle?: 'halt' | 'poll' | 'haltpoll';
  /** The guest kernel's tick rate, CONFIG_HZ (@ipilab/guest timers.ts; default 250). */
  readonly hz?: number;
}

/** A virtual machine: its vCPUs, its APIC mode, its IPI backend and its guest's interrupt handler. */
export class Vm implements BackendVm {
  /** @internal Set once by `Hypervisor.addVm`. */
  backend!: IpiBackend;
  /** The guest OS the hypervisor calls (`Hypervisor.attachGuest`); until one is attached, interrupts are acknowledged and dropped. */
  guest: GuestOs;
  readonly pv: PvFeatures;

  constructor(
    readonly index: number,
    readonly spec: VmSpec,
    readonly vcpus: readonly Vcpu[],
    noGuest: GuestOs,
  ) {
    this.guest = noGuest;
    this.pv = { sendIpi: spec.pv?.sendIpi ?? true, tlbFlush: spec.pv?.tlbFlush ?? true, schedYield: spec.pv?.schedYield ?? false, spinlocks: spec.pv?.spinlocks ?? true };
  }

  get name(): string {
    return this.spec.name;
  }

  get apicMode(): ApicMode {
    return this.spec.apicMode;
  }

  /** The guest uses the all-but-self shorthand for broadcasts (`VmSpec.shorthand`). */
  get shorthand(): boolean {
    return this.spec.shorthand === true;
  }

  /** The VM's vCPU `i`. */
  vcpu(i: number): Vcpu {
    return this.vcpus[i]!;
  }
}
