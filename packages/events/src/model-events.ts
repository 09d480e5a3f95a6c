/**
 * Typed events the model publishes: what accounting, traces and tests observe. Each is a
 * plain object; `t` is simulated ns. vCPUs are identified by VM index and vCPU index.
 */
export type ExitReason =
  /** A trapped APIC register write (ICR, ICR2, EOI) emulated by the hypervisor. */
  | 'apic-write'
  /** A hypercall (PV send-IPI, PV TLB flush, sched-yield). */
  | 'hypercall'
  /** A physical interrupt (e.g. a kick) arrived while the vCPU was in guest mode. */
  | 'external-interrupt'
  /** AVIC/IPIv could not deliver to a target that was not running. */
  | 'incomplete-ipi'
  /** HLT executed by an idle guest. */
  | 'hlt'
  /** The VMX preemption timer expired: the guest's TSC-deadline timer, emulated with it (Intel). */
  | 'preemption-timer'
  /** A trapped MSR write: the guest programming its TSC-deadline timer (MSR_IA32_TSC_DEADLINE). */
  | 'msr-write'
  /** Pause-loop exiting: the guest spun in a PAUSE loop for its window (KVM then tries a directed yield). */
  | 'pause'
  /** Port or MMIO I/O. */
  | 'io';

/** Every exit reason, in the order above (a type check keeps the list whole). */
export const EXIT_REASONS = ['apic-write', 'hypercall', 'external-interrupt', 'incomplete-ipi', 'hlt', 'preemption-timer', 'msr-write', 'pause', 'io'] as const satisfies readonly ExitReason[];
// Fails to compile when a reason is added to ExitReason and not to EXIT_REASONS.
const everyReason: Exclude<ExitReason, (typeof EXIT_REASONS)[number]> extends never ? true : never = true;
void everyReason;

/** How an IPI's destinations were given: one vCPU, a set, all but self, or self. */
export type IpiKind = 'unicast' | 'multicast' | 'broadcast' | 'self';

/** A vCPU in events: its VM's index and its own index in the VM. */
export interface VcpuRef {
  readonly vm: number;
  readonly vcpu: number;
}

/** Every event the model publishes, by `type`; `t` is the simulated time in ns. */
export type ModelEvent =
  | { readonly type: 'ipi-sent'; readonly t: number; readonly id: number; readonly from: VcpuRef; readonly targets: readonly number[]; readonly kind: IpiKind; readonly vector: number }
  | { readonly type: 'ipi-delivered'; readonly t: number; readonly id: number; readonly to: VcpuRef; readonly via: 'posted' | 'injected' | 'pending' | 'native' }
  /** The target's handler finished the call: `latency` from send to handler end, `sendToHandler` to handler start. */
  | { readonly type: 'ipi-handled'; readonly t: number; readonly id: number; readonly to: VcpuRef; readonly latency: number; readonly sendToHandler: number }
  /** A synchronous cross-call's sender stopped waiting: `duration` from the send path's start. */
  | { readonly type: 'cross-call-done'; readonly t: number; readonly id: number; readonly from: VcpuRef; readonly targets: number; readonly duration: number }
  /** A guest interrupt handler starts / ends on a vCPU (time spent handling interrupts). */
  | { readonly type: 'handler-begin'; readonly t: number; readonly vcpu: VcpuRef; readonly vector: number }
  | { readonly type: 'handler-end'; readonly t: number; readonly vcpu: VcpuRef; readonly vector: number }
  /** A TLB shootdown: the initiator from the page-table change until it may go on (global synchronisation). */
  | { readonly type: 'shootdown-begin'; readonly t: number; readonly id: number; readonly vcpu: VcpuRef; readonly pages: number; readonly strategy: string }
  | { readonly type: 'shootdown-end'; readonly t: number; readonly id: number; readonly vcpu: VcpuRef; readonly duration: number }
  /**
   * A TLB hit on a translation a completed shootdown should have removed: the entry was filled at
   * model `version`, older than the page's `committed` one (only a broken guest or an injected
   * fault such as `faults.dropIpiFence` makes one).
   */
  | { readonly type: 'stale-tlb-use'; readonly t: number; readonly vcpu: VcpuRef; readonly space: string; readonly page: number; readonly version: number; readonly committed: number }
  /** The run ended at `t`: open intervals close here. */
  | { readonly type: 'run-end'; readonly t: number }
  | { readonly type: 'vm-exit'; readonly t: number; readonly vcpu: VcpuRef; readonly reason: ExitReason; readonly cost: number }
  | { readonly type: 'hypercall'; readonly t: number; readonly vcpu: VcpuRef; readonly name: string; readonly targets: number }
  /** An exit waited `waited` ns for the shared hypervisor service; `behind` says whose exits held it meanwhile (ns per VM index, summing to `waited`). */
  | { readonly type: 'service-queued'; readonly t: number; readonly vcpu: VcpuRef; readonly waited: number; readonly behind: Readonly<Record<number, number>> }
  | { readonly type: 'vcpu-state'; readonly t: number; readonly vcpu: VcpuRef; readonly from: string; readonly to: string; readonly pcpu: number };

/** The `type` of a model event. */
export type ModelEventType = ModelEvent['type'];

/** A function that receives model events. */
export type ModelEventListener = (e: ModelEvent) => void;
