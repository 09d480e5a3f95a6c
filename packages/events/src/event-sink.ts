import type { ModelEvent, ModelEventListener, ModelEventType } from './model-events';

/** Every event type, in a fixed order. */
export const MODEL_EVENT_TYPES: readonly ModelEventType[] = [
  'ipi-sent',
  'ipi-delivered',
  'ipi-handled',
  'cross-call-done',
  'handler-begin',
  'handler-end',
  'shootdown-begin',
  'shootdown-end',
  'stale-tlb-use',
  'run-end',
  'vm-exit',
  'hypercall',
  'service-queued',
  'vcpu-state',
];

type ByType<T> = Record<ModelEventType, T>;

function byType<T>(f: (type: ModelEventType) => T): ByType<T> {
  const out = {} as ByType<T>;
  for (const t of MODEL_EVENT_TYPES) out[t] = f(t);
  return out;
}

/**
 * Where the model publishes its events. A listener subscribes to the types it reads (all by
 * default), and publishers test `wants[type]` before building an event object, so an event
 * nobody reads costs one field read and no allocation:
 *
 *   if (sink.wants['vm-exit']) sink.emit({ type: 'vm-exit', t: sim.now, ... });
 *
 * Accounting turns this into RxJS streams; the hot loop itself never touches RxJS.
 */
export class EventSink {
  private subscriptions: { readonly listener: ModelEventListener; readonly types: ReadonlySet<ModelEventType> | undefined }[] = [];
  /** Per type, its listeners in subscription order (rebuilt on (un)subscribe, read per event). */
  private listeners: ByType<ModelEventListener[]> = byType(() => []);
  /** Per type: true while at least one listener reads it. */
  readonly wants: ByType<boolean> = byType(() => false);
  /** True while at least one listener is subscribed, to any type. */
  active = false;

  /** Publish an event to the listeners of its type (publishers check `wants[type]` first, so an unread type is never built). */
  emit(e: ModelEvent): void {
    const ls = this.listeners[e.type];
    for (let i = 0; i < ls.length; i++) ls[i]!(e);
  }

  /** Adds a listener for `types` (every type when omitted); returns a function that removes it. */
  subscribe(listener: ModelEventListener, types?: readonly ModelEventType[]): () => void {
    if (types !== undefined) {
      for (const t of types) if (!MODEL_EVENT_TYPES.includes(t)) throw new RangeError(`EventSink.subscribe: unknown event type ${JSON.stringify(t)}; expected one of ${MODEL_EVENT_TYPES.join(', ')}`);
    }
    const entry = { listener, types: types === undefined ? undefined : new Set(types) };
    this.subscriptions = [...this.subscriptions, entry];
    this.rebuild();
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      this.subscriptions = this.subscriptions.filter((s) => s !== entry);
      this.rebuild();
    };
  }

  private rebuild(): void {
    this.listeners = byType((t) => this.subscriptions.filter((s) => s.types === undefined || s.types.has(t)).map((s) => s.listener));
    for (const t of MODEL_EVENT_TYPES) this.wants[t] = this.listeners[t].length > 0;
    this.active = this.subscriptions.length > 0;
  }
}
