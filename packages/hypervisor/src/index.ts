/**
 * VMs, vCPU placement and scheduling, VM-exit handling, the shared service, the delivery path and the IpiBackend contract.
 *
 * @packageDocumentation
 * @module @ipilab/hypervisor
 */
export { Hypervisor } from './hypervisor';
export { DEFAULT_HYPERVISOR_CONFIG, HYPERVISOR_MODES, type HypervisorConfig, type HypervisorMode, type HaltPollConfig } from './config';
export { HostScheduling } from './host-scheduling';
export { InterruptDelivery } from './delivery';
export { HaltPolling } from './halting';
export { SmtContention } from './smt';
export { BareMetal } from './bare-metal';
export { HypervisorService } from './hypervisor-service';
export { PcpuRunner, MIGRATION_COST_NS } from './pcpu-runner';
export { VcpuPlacement, PINNED_PLACEMENT, SHARED_PLACEMENT, placementPolicy } from './placement';
export { PlacementRegistry, PlacementContribution, placementPolicies, type PlacementPolicy, type PlacementRequest } from './placement-policy';
export { Balancer } from './migration';
export {
  HostThread,
  NICE_0_WEIGHT,
  HostSchedulerRegistry,
  HostSchedulerContribution,
  hostSchedulers,
  tunableScale,
  calcDeltaFair,
  untilNextTick,
  type HostRunqueue,
  type FairRunqueue,
  type SchedEntity,
  type HostSchedulerPolicy,
  type RunqueueContext,
  type HostRunqueueContext,
  type EnqueueReason,
} from './sched/host-scheduler';
export { EEVDF_POLICY, EEVDF_BASE_SLICE_NS, EevdfRunqueue } from './sched/eevdf-policy';
export { CFS_POLICY, CfsRunqueue, CFS_LATENCY_NS, CFS_MIN_GRANULARITY_NS, CFS_WAKEUP_GRANULARITY_NS } from './sched/cfs-policy';
export { FIFO_POLICY } from './sched/fifo-policy';
export { Vm, type VmSpec, type Placement, type PvFeatures } from './vm';
export { IpiBackendRegistry, IpiBackendContribution, ipiBackends, type IpiBackend, type IpiBackendFactory, type IpiRequest } from './ipi-backend';
export { hypervisorModule, HypervisorSetup } from './hypervisor-module';
export { PauseLoopExiting, PLE_DEFAULTS, growWindow, shrinkWindow, type PleConfig } from './spinning';
export type { BackendHost, BackendVm, Clock, ExitBody, GuestOs, HostFeatures } from './contracts';
