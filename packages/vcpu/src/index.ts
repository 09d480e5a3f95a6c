/**
 * The vCPU state machine, its guest work stack and its virtual APIC (IRR, ISR, EOI, posted-interrupt descriptor).
 *
 * @packageDocumentation
 * @module @ipilab/vcpu
 */
export { Vcpu, SpinTicket, type VcpuState, type WorkDone } from './vcpu';
export { VirtualApic, VECTORS } from './virtual-apic';
