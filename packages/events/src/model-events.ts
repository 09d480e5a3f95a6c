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
  /** Port or MMIO I/O. */
  | 'io';

export type IpiKind = 'unicast' | 'multicast' | 'broadcast' | 'self';

export interface VcpuRef {
  readonly vm: number;
  readonly vcpu: number;
}

export type ModelEvent =
  | { readonly type: 'ipi-sent'; readonly t: number; readonly id: number; readonly from: VcpuRef; readonly targets: readonly number[]; readonly kind: IpiKind; readonly vector: number }
  | { readonly type: 'ipi-delivered'; readonly t: number; readonly id: number; readonly to: VcpuRef; readonly via: 'posted' | 'injected' | 'pending' }
  | { readonly type: 'ipi-handled'; readonly t: number; readonly id: number; readonly to: VcpuRef; readonly latency: number }
  | { readonly type: 'vm-exit'; readonly t: number; readonly vcpu: VcpuRef; readonly reason: ExitReason; readonly cost: number }
  | { readonly type: 'hypercall'; readonly t: number; readonly vcpu: VcpuRef; readonly name: string; readonly targets: number }
  | { readonly type: 'service-queued'; readonly t: number; readonly vcpu: VcpuRef; readonly waited: number }
  | { readonly type: 'vcpu-state'; readonly t: number; readonly vcpu: VcpuRef; readonly from: string; readonly to: string; readonly pcpu: number };

export type ModelEventListener = (e: ModelEvent) => void;
