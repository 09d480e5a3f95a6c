export { Vcpu, SpinTicket, type VcpuState, type WorkDone } from './vcpu';
export { VirtualApic, VECTORS } from './virtual-apic';
