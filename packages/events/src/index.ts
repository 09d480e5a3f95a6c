/**
 * Typed model events (IPI sent/delivered/handled, exits, hypercalls, vCPU states) and the near-free sink they go through.
 *
 * @packageDocumentation
 * @module @ipilab/events
 */
export { EventSink, MODEL_EVENT_TYPES } from './event-sink';
export type { ModelEvent, ModelEventListener, ModelEventType, ExitReason, IpiKind, VcpuRef } from './model-events';
export { EXIT_REASONS } from './model-events';
