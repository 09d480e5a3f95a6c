/**
 * Test support: the jest set-up (fixed fast-check seed), fast-check arbitraries and reusable property laws.
 *
 * @packageDocumentation
 * @module @ipilab/testing
 */
export { configureProperties, DEFAULT_PROPERTY_SEED } from './property-config';
export { expectParameterError } from './expect-parameter-error';
export {
  assertDeliveredExactlyOnce,
  checkDeliveredExactlyOnce,
  runIpiScenario,
  ipiScenarioArbitrary,
  type IpiScenario,
  type IpiRunOutcome,
  type IpiLawOptions,
} from './laws/ipi-delivery-law';
export { assertTlbCoherence, checkTlbCoherence, runTlbScenario, tlbScenarioArbitrary, type TlbScenario, type TlbOp, type TlbRunOutcome } from './laws/tlb-coherence-law';
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
