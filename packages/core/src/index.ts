/**
 * Discrete-event kernel: integer-nanosecond time, a (time, seq) event calendar, seeded per-entity random streams, generator processes.
 *
 * @packageDocumentation
 * @module @ipilab/core
 */
export {
  KernelError,
  InvalidTimeError,
  TimeInPastError,
  SimulationStateError,
  StaleHandleError,
  InvalidParameterError,
  describe,
} from './errors';
export {
  type Nanoseconds,
  NANOSECOND,
  MICROSECOND,
  MILLISECOND,
  SECOND,
  MAX_TIME,
  ns,
  us,
  ms,
  seconds,
  toMicroseconds,
  toMilliseconds,
  toSeconds,
  cyclesToNs,
  nsToCycles,
  formatTime,
} from './time';
export {
  Simulation,
  type EventHandle,
  type EventCallback,
  type SimulationState,
  type StopReason,
  type RunOptions,
  type RunResult,
  type SimulationOptions,
} from './simulation';
export { RandomStreams, RandomStream, lognormalParams } from './random';
export {
  Signal,
  Process,
  spawn,
  timeout,
  delay,
  allOf,
  anyOf,
  type Awaitable,
  type Delay,
  type AllOf,
  type AnyOf,
  type ProcessBody,
} from './process';
export { type LatencySummary, SUMMARY_PERCENTILES, EMPTY_SUMMARY, nearestRank, summarizeValues } from './latency-summary';
