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
