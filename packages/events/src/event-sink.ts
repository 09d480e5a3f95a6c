import type { ModelEvent, ModelEventListener } from './model-events';

/**
 * Where the model publishes its events. Publishers test `active` before building an event
 * object, so with nobody listening a publication costs one field read and no allocation:
 *
 *   if (sink.active) sink.emit({ type: 'vm-exit', t: sim.now, ... });
 *
 * Accounting turns this into RxJS streams; the hot loop itself never touches RxJS.
 */
export class EventSink {
  private listeners: ModelEventListener[] = [];
  /** True while at least one listener is subscribed. */
  active = false;

  emit(e: ModelEvent): void {
    const ls = this.listeners;
    for (let i = 0; i < ls.length; i++) ls[i]!(e);
  }

  /** Adds a listener; returns a function that removes it. */
  subscribe(listener: ModelEventListener): () => void {
    this.listeners = [...this.listeners, listener];
    this.active = true;
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
      this.active = this.listeners.length > 0;
    };
  }
}
