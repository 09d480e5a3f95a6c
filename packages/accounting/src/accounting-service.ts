import { Observable, share, Subject, takeUntil } from 'rxjs';
import type { Simulation } from '@ipilab/core';
import type { EventSink, ModelEvent } from '@ipilab/events';
import { ofType } from './operators/of-type';

/**
 * The model's events as RxJS streams. The service subscribes to the model's EventSink only
 * while someone subscribes to one of its streams, so an unobserved run publishes nothing and
 * pays nothing. `finish()` publishes `run-end` at the simulation's clock and completes every
 * stream, which is when the reducing operators (ledgers, matrix, distributions) emit.
 */
export class AccountingService {
  private readonly ended = new Subject<void>();
  readonly onDidPublish: Observable<ModelEvent>;
  readonly onDidSendIpi;
  readonly onDidDeliverIpi;
  readonly onDidHandleIpi;
  readonly onDidCompleteCrossCall;
  readonly onDidExit;
  readonly onDidHypercall;
  readonly onDidBeginShootdown;
  readonly onDidEndShootdown;
  readonly onDidQueueForService;
  readonly onDidChangeVcpuState;

  constructor(
    private readonly sink: EventSink,
    private readonly sim: Simulation,
  ) {
    this.onDidPublish = new Observable<ModelEvent>((subscriber) => sink.subscribe((e) => subscriber.next(e))).pipe(takeUntil(this.ended), share());
    this.onDidSendIpi = this.onDidPublish.pipe(ofType('ipi-sent'));
    this.onDidDeliverIpi = this.onDidPublish.pipe(ofType('ipi-delivered'));
    this.onDidHandleIpi = this.onDidPublish.pipe(ofType('ipi-handled'));
    this.onDidCompleteCrossCall = this.onDidPublish.pipe(ofType('cross-call-done'));
    this.onDidExit = this.onDidPublish.pipe(ofType('vm-exit'));
    this.onDidHypercall = this.onDidPublish.pipe(ofType('hypercall'));
    this.onDidBeginShootdown = this.onDidPublish.pipe(ofType('shootdown-begin'));
    this.onDidEndShootdown = this.onDidPublish.pipe(ofType('shootdown-end'));
    this.onDidQueueForService = this.onDidPublish.pipe(ofType('service-queued'));
    this.onDidChangeVcpuState = this.onDidPublish.pipe(ofType('vcpu-state'));
  }

  /** Ends the run's streams: `run-end` at the current simulated time, then completion. */
  finish(): void {
    if (this.sink.active) this.sink.emit({ type: 'run-end', t: this.sim.now });
    this.ended.next();
    this.ended.complete();
  }
}
