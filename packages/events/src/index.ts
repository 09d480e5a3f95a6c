export { EventSink } from './event-sink';
export type { ModelEvent, ModelEventListener, ExitReason, IpiKind, VcpuRef } from './model-events';
