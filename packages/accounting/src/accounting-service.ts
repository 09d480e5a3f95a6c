import { Observable, Subject } from './rx';
import type { Simulation } from '@ipilab/core';
import { MODEL_EVENT_TYPES, type EventSink, type ModelEvent, type ModelEventType } from '@ipilab/events';
import type { EventReducer } from './reducer';

type EventOf<K extends ModelEventType> = Extract<ModelEvent, { type: K }>;

/**
 * The model's events as RxJS streams. Each subscription attaches its own listener to the
 * model's EventSink for just the event types it reads (the sink already multicasts, so no
 * Subject sits between the model and a subscriber), and detaches when unsubscribed: an
 * unobserved run publishes nothing and pays nothing. `finish()` publishes `run-end` at the
 * simulation's clock and completes every stream, which is when reductions emit.
 */
export class AccountingService {
  private readonly ended = new Subject<void>();
  readonly onDidPublish: Observable<ModelEvent>;
  readonly onDidSendIpi: Observable<EventOf<'ipi-sent'>>;
  readonly onDidDeliverIpi: Observable<EventOf<'ipi-delivered'>>;
  readonly onDidHandleIpi: Observable<EventOf<'ipi-handled'>>;
  readonly onDidCompleteCrossCall: Observable<EventOf<'cross-call-done'>>;
  readonly onDidExit: Observable<EventOf<'vm-exit'>>;
  readonly onDidHypercall: Observable<EventOf<'hypercall'>>;
  readonly onDidBeginShootdown: Observable<EventOf<'shootdown-begin'>>;
  readonly onDidEndShootdown: Observable<EventOf<'shootdown-end'>>;
  readonly onDidQueueForService: Observable<EventOf<'service-queued'>>;
  readonly onDidChangeVcpuState: Observable<EventOf<'vcpu-state'>>;

  constructor(
    private readonly sink: EventSink,
    private readonly sim: Simulation,
  ) {
    this.onDidPublish = this.select(MODEL_EVENT_TYPES);
    this.onDidSendIpi = this.select(['ipi-sent']);
    this.onDidDeliverIpi = this.select(['ipi-delivered']);
    this.onDidHandleIpi = this.select(['ipi-handled']);
    this.onDidCompleteCrossCall = this.select(['cross-call-done']);
    this.onDidExit = this.select(['vm-exit']);
    this.onDidHypercall = this.select(['hypercall']);
    this.onDidBeginShootdown = this.select(['shootdown-begin']);
    this.onDidEndShootdown = this.select(['shootdown-end']);
    this.onDidQueueForService = this.select(['service-queued']);
    this.onDidChangeVcpuState = this.select(['vcpu-state']);
  }

  /** The events of `types`, until `finish()`. */
  select<K extends ModelEventType>(types: readonly K[]): Observable<EventOf<K>> {
    return new Observable<EventOf<K>>((sub) => {
      const off = this.sink.subscribe((e) => sub.next(e as EventOf<K>), types);
      const end = this.ended.subscribe({ complete: () => sub.complete() });
      return () => {
        off();
        end.unsubscribe();
      };
    });
  }

  /**
   * A reducer run on the live model: its `step` is called straight from the event sink for the
   * types it reads; the result is emitted at `finish()`. Same answer as
   * `onDidPublish.pipe(fromReducer(r))`, without a stream hop per event.
   */
  reduce<S, R>(r: EventReducer<S, R>): Observable<R> {
    return new Observable<R>((sub) => {
      const state = r.init();
      const off = this.sink.subscribe((e) => r.step(state, e), r.types);
      const end = this.ended.subscribe({
        complete: () => {
          off();
          sub.next(r.result(state));
          sub.complete();
        },
      });
      return () => {
        off();
        end.unsubscribe();
      };
    });
  }

  /** Ends the run's streams: `run-end` at the current simulated time, then completion. */
  finish(): void {
    if (this.sink.wants['run-end']) this.sink.emit({ type: 'run-end', t: this.sim.now });
    this.ended.next();
    this.ended.complete();
  }
}
