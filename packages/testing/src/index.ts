/**
 * Test support: the jest set-up (fixed fast-check seed), fast-check arbitraries and reusable property laws.
 *
 * @packageDocumentation
 * @module @ipilab/testing
 */
export { configureProperties, DEFAULT_PROPERTY_SEED } from './property-config';
export { expectParameterError } from './expect-parameter-error';
export { assertLaw, scaledRuns, LawFailure, type LawRunOptions } from './law-runner';
export {
  MAX_VCPUS,
  vcpuCount,
  apicModeArbitrary,
  hostArbitrary,
  hostSize,
  vmsArbitrary,
  ipiStormArbitrary,
  scenarioArbitrary,
  x2apicClusters,
  type Range,
  type HostArbitraryOptions,
  type GeneratedVm,
  type VmsArbitraryOptions,
  type StormIpi,
  type IpiStorm,
  type IpiStormOptions,
  type ScenarioArbitraryOptions,
} from './arbitraries';
export { assertTimeConserved, checkTimeConserved } from './laws/ledger-conservation-law';
export { assertDeterministic, checkDeterministic } from './laws/determinism-law';
export {
  assertDeliveredExactlyOnce,
  checkDeliveredExactlyOnce,
  runIpiScenario,
  ipiScenarioArbitrary,
  sendersOf,
  HOST_SCHEDULERS,
  type IpiScenario,
  type IpiRunOutcome,
  type IpiLawOptions,
} from './laws/ipi-delivery-law';
export {
  assertTlbCoherence,
  checkTlbCoherence,
  runTlbScenario,
  tlbScenarioArbitrary,
  BUILTIN_SHOOTDOWN_STRATEGIES,
  type StrategyUnderTest,
  type TlbLawOptions,
  type TlbScenario,
  type TlbOp,
  type TlbRunOutcome,
} from './laws/tlb-coherence-law';
export {
  assertHostSchedulerLaws,
  checkHostSchedulerInvariants,
  runHostSchedScenario,
  hostSchedScenarioArbitrary,
  hogShares,
  type HostSchedScenario,
  type HostSchedVm,
  type HostSchedOutcome,
  type HostSchedulerLawOptions,
  type VcpuBehaviour,
} from './laws/host-scheduler-law';
export {
  assertPlacementLaws,
  checkPlacement,
  placementScenarioArbitrary,
  BUILTIN_PLACEMENTS,
  type PlacementAsk,
  type PlacementScenario,
  type PlacementLawOptions,
} from './laws/placement-law';
export {
  assertBalancerLaws,
  checkBalanceMoves,
  checkBalancedRun,
  balanceViewArbitrary,
  balanceRunArbitrary,
  BUILTIN_BALANCERS,
  type ViewTask,
  type BalanceViewCase,
  type BalanceRunTask,
  type BalanceRunCase,
  type BalancerLawOptions,
} from './laws/balancer-law';
export {
  assertWorkloadLaws,
  checkWorkload,
  runWorkloadCase,
  workloadCaseArbitrary,
  type WorkloadUnderTest,
  type WorkloadCase,
  type WorkloadLawOptions,
  type WorkloadRun,
} from './laws/workload-law';
export {
  assertHostPresetLaws,
  assertCalibrationProfileLaws,
  checkHostPreset,
  checkCalibrationProfile,
  type DataPolicyUnderTest,
  type DataLawOptions,
} from './laws/data-policy-laws';
