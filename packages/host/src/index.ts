/**
 * The physical machine: sockets, cores, SMT, NUMA distance, presets, APIC destination modes and the interrupt fabric.
 *
 * @packageDocumentation
 * @module @ipilab/host
 */
export { HostTopology, HOST_PRESETS, hostPreset, type TopologySpec, type PcpuInfo, type CpuDistance } from './topology';
export { InterruptFabric, type WireLatencies } from './interrupt-fabric';
export { type ApicMode, APIC_MODES, X2APIC_CLUSTER_SIZE, maxApicId, checkApicMode, checkApicIds, icrWrites, type IcrWrite } from './apic';
export { HostPresetRegistry, HostPresetContribution, hostPresets, type HostPreset } from './host-preset';
export { hostModule } from './host-module';
