/**
 * Memory ordering: the Linux kernel memory model (LKMM) checked axiomatically over C litmus tests, with ipilab's IPI and TLB extensions.
 *
 * @packageDocumentation
 * @module @ipilab/ordering
 */
export * from './ast';
export { Relation } from './relation';
export { formatValue, ipiLine, type RtValue, type PathEvent, type ThreadPath } from './events';
export { LitmusLimitError, LitmusRuntimeError, threadPaths, valueDomain, maxHandlerRuns, DEFAULT_PATH_LIMITS, type PathLimits } from './paths';
export { Skeleton, violatedAxiom, candidateRelations, happensBefore, propagationBefore, rfRelation, coRelation, type Axiom, type ExecEvent, type CandidateRelations } from './model';
export { checkLitmus, observedLocations, allThreadPaths, combinationEvents, DEFAULT_MAX_CANDIDATES, type CheckResult, type CheckOptions, type CheckStats, type Execution, type FinalState } from './check';
export { herdText, traceText, conditionText, propText, stateText, kindOf } from './output';
export { sampleLitmus, DEFAULT_SAMPLES, DEFAULT_SAMPLE_SEED, type SampleResult, type SampleOptions } from './explore';
export { parseLitmus } from './parser';
