export { Hypervisor, DEFAULT_HYPERVISOR_CONFIG, type HypervisorConfig, type HaltPollConfig, type ExitBody } from './hypervisor';
export { HypervisorService } from './hypervisor-service';
export { PcpuRunner } from './pcpu-runner';
export { Vm, type VmSpec, type Placement, type PvFeatures, type InterruptHandler } from './vm';
export { IpiBackendRegistry, IpiBackendContribution, ipiBackends, type IpiBackend, type IpiBackendFactory, type IpiRequest } from './ipi-backend';
export { hypervisorModule, HypervisorSetup } from './hypervisor-module';
