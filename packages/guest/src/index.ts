/**
 * The guest OS: cross-calls (smp_call_function), and workloads such as the IPI microbenchmark.
 *
 * @packageDocumentation
 * @module @ipilab/guest
 */
export { GuestKernel } from './guest-kernel';
export {
  IpiBench,
  IPI_BENCH_MODES,
  checkIpiBenchParams,
  type IpiBenchMode,
  type IpiBenchParams,
  type IpiBenchResult,
  type IpiBenchModeResult,
  type LatencySummary,
} from './workloads/ipi-bench';
export { guestModule } from './guest-module';
export { type CallWork } from './cross-calls';
export { GuestIdle, GUEST_IDLE_MODES, GUEST_HALT_POLL, type GuestIdleMode } from './idle';
export { AddressSpace, PAGES_PER_HUGE, type Translation } from './mm/address-space';
export { Tlb, type TlbEntry } from './mm/tlb';
export { MemoryManager, InjectedFaultError, type LazyFreeStats, LRU_BATCH, LAZY_TLB_MODES, type LazyTlbMode, type Coordination, type MemoryManagerOptions, type GuestFaults, type StaleUse, type StaleEntry, type MmLockReport } from './mm/memory-manager';
export { UnfencedPteWrites, type UnfencedChange } from './mm/unfenced-pte-writes';
export {
  SynchronousShootdown,
  BroadcastInvalidation,
  BatchedShootdown,
  ShootdownStrategyRegistry,
  ShootdownStrategyContribution,
  shootdownStrategies,
  type ShootdownStrategy,
  type ShootdownRequest,
  type ShootdownContext,
  type ShootdownKind,
  type BroadcastRule,
} from './mm/shootdown-strategy';
export { RwSemaphore, RWSEM_SPIN_CHECK_NS, MAX_READERS_WAKEUP, type LockMode } from './mm/rwsem';
export { QueuedSpinLock, SPIN_THRESHOLD } from './mm/spinlock';
export { type LockStats, emptyLockStats } from './mm/lock-stats';
export { BroadcastSlots, broadcastSlots, type BroadcastStats } from './mm/broadcast-slots';
export { considerGlobalAsid, activeVcpusExceed } from './mm/global-asid';
export { Scheduler, estimatedMigrationCost, type SchedulerOptions } from './sched/scheduler';
export { GuestSchedulerRegistry, GuestSchedulerContribution, guestSchedulers, EEVDF_GUEST_POLICY, CFS_GUEST_POLICY, type GuestSchedulerPolicy } from './sched/guest-scheduler-policy';
export { GuestBalancerRegistry, GuestBalancerContribution, guestBalancers, PUSH_BALANCER, NO_BALANCER, type GuestLoadBalancer, type BalanceView, type BalanceMove, type BalancedTask } from './sched/guest-load-balancer';
export { WorkloadRegistry, WorkloadContribution, workloadKinds, type WorkloadPolicy } from './workloads/workload-policy';
export { Task, compute, block, sleep, op, switchMm, type TaskBody, type TaskCommand, type TaskState } from './sched/task';
export {
  type Workload,
  type WorkloadContext,
  type WorkloadFigures,
  type WorkloadMemory,
  type WorkloadScheduler,
  type WorkloadKernel,
  type WorkloadTimers,
  type WorkloadParts,
  createWorkloadContext,
  switchTo,
  cpuNs,
} from './workloads/workload';
export { EbizzyWorkload } from './workloads/ebizzy';
export { HackbenchWorkload } from './workloads/hackbench';
export { ForkCowWorkload } from './workloads/fork-cow';
export { HugeSplitWorkload } from './workloads/huge-split';
export { IrqPipelineWorkload } from './workloads/irq-pipeline';
export { ComputeVictimWorkload } from './workloads/compute-victim';
export { WillItScaleWorkload, WILL_IT_SCALE_TESTS, type WillItScaleTest } from './workloads/will-it-scale';
export { WORKLOADS, WORKLOAD_PARAMS, MAX_IPI_BENCH_ITERATIONS, createWorkload, type WorkloadFactory } from './workloads/registry';
export { MAX_PARAMETER, MAX_TASKS, type ParamsSchema } from './workloads/workload-params';
