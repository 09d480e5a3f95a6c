import { Observable, type OperatorFunction } from '../rx';
import type { ModelEvent } from '@ipilab/events';

/** One window of one VM, shaped for plotting (one row per VM per window). */
export interface SeriesRow {
  readonly vm: number;
  /** Window start, ns; the window is [windowStart, windowStart + windowNs). */
  readonly windowStart: number;
  ipisSent: number;
  ipisHandled: number;
  exits: number;
  exitNs: number;
  shootdowns: number;
  shootdownNs: number;
  serviceQueuedNs: number;
}

function vmOf(e: ModelEvent): number | undefined {
  switch (e.type) {
    case 'ipi-sent':
      return e.from.vm;
    case 'ipi-handled':
      return e.to.vm;
    case 'vm-exit':
    case 'service-queued':
    case 'shootdown-end':
      return e.vcpu.vm;
    default:
      return undefined;
  }
}

/**
 * Counts and durations per VM per window of `windowNs` simulated ns (tumbling windows by event
 * time, not wall time). A window's rows are emitted when the first event of a later window
 * arrives, or at completion; windows with no event for a VM produce no row for it.
 */
export function windowedSeries(windowNs: number): OperatorFunction<ModelEvent, SeriesRow> {
  if (!(Number.isSafeInteger(windowNs) && windowNs > 0)) throw new RangeError(`windowNs: expected a positive integer number of ns, got ${windowNs}`);
  return (source) =>
    new Observable<SeriesRow>((sub) => {
      let current = -1;
      let rows = new Map<number, SeriesRow>();
      const flush = (): void => {
        for (const r of [...rows.values()].sort((a, b) => a.vm - b.vm)) sub.next(r);
        rows = new Map();
      };
      return source.subscribe({
        next: (e) => {
          const w = Math.floor(e.t / windowNs);
          if (w !== current) {
            flush();
            current = w;
          }
          const vm = vmOf(e);
          if (vm === undefined) return;
          let r = rows.get(vm);
          if (r === undefined) {
            r = { vm, windowStart: w * windowNs, ipisSent: 0, ipisHandled: 0, exits: 0, exitNs: 0, shootdowns: 0, shootdownNs: 0, serviceQueuedNs: 0 };
            rows.set(vm, r);
          }
          switch (e.type) {
            case 'ipi-sent':
              r.ipisSent++;
              break;
            case 'ipi-handled':
              r.ipisHandled++;
              break;
            case 'vm-exit':
              r.exits++;
              r.exitNs += e.cost;
              break;
            case 'service-queued':
              r.serviceQueuedNs += e.waited;
              break;
            case 'shootdown-end':
              r.shootdowns++;
              r.shootdownNs += e.duration;
              break;
            default:
          }
        },
        error: (err) => sub.error(err),
        complete: () => {
          flush();
          sub.complete();
        },
      });
    });
}
