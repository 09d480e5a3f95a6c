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
export { type CallWork } from './guest-kernel';
export { AddressSpace, PAGES_PER_HUGE, type Translation } from './mm/address-space';
export { Tlb, type TlbEntry } from './mm/tlb';
export { MemoryManager, type Coordination, type MemoryManagerOptions, type StaleUse } from './mm/memory-manager';
export {
  SynchronousShootdown,
  BroadcastInvalidation,
  BatchedShootdown,
  ShootdownStrategyRegistry,
  ShootdownStrategyContribution,
  shootdownStrategies,
  type ShootdownStrategy,
  type ShootdownRequest,
} from './mm/shootdown-strategy';
