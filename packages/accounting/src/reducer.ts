import { Observable, type OperatorFunction } from './rx';
import type { ModelEvent, ModelEventType } from '@ipilab/events';

/**
 * A reduction over a run's model events: `init` makes the state, `step` folds one event into it
 * in place, `result` turns it into the answer once the stream completes. `types` lists the
 * events `step` reads; it ignores any other, so a reducer can also consume an unfiltered stream.
 *
 * A reducer is one piece of logic with two ways in: `fromReducer(r)` is an RxJS operator over
 * any stream of model events (a recorded run, a marble test), and
 * `AccountingService.reduce(r)` attaches `step` to the model's event sink for just `types`, so
 * a live run pays one call per event read and nothing for the events it does not read.
 */
export interface EventReducer<S, R> {
  readonly types: readonly ModelEventType[];
  /** A fresh state for one run. */
  init(): S;
  /** Fold one event (of `types`) into the state. */
  step(state: S, e: ModelEvent): void;
  /** The figure the state stands for, when the run ends. */
  result(state: S): R;
}

/** The result type of a reducer. */
export type ResultOf<T> = T extends EventReducer<infer _S, infer R> ? R : never;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any state: each part keeps its own
type AnyReducer = EventReducer<any, unknown>;

/** The reducer as an operator: emits its result once, when the source completes. */
export function fromReducer<S, R>(r: EventReducer<S, R>): OperatorFunction<ModelEvent, R> {
  return (source) =>
    new Observable<R>((sub) => {
      const state = r.init();
      return source.subscribe({
        next: (e) => {
          try {
            r.step(state, e);
          } catch (err) {
            sub.error(err);
          }
        },
        error: (err: unknown) => sub.error(err),
        complete: () => {
          let out: R;
          try {
            out = r.result(state);
          } catch (err) {
            sub.error(err);
            return;
          }
          sub.next(out);
          sub.complete();
        },
      });
    });
}

/**
 * Several reducers run as one: one pass over the events, each event handed only to the reducers
 * that read its type; the result has one field per reducer.
 */
export function combineReducers<T extends Record<string, AnyReducer>>(parts: T): EventReducer<unknown[], { [K in keyof T]: ResultOf<T[K]> }> {
  const names = Object.keys(parts);
  const list = names.map((n) => parts[n] as unknown as EventReducer<unknown, unknown>);
  const readers = new Map<ModelEventType, number[]>();
  list.forEach((r, i) => {
    for (const t of r.types) {
      const l = readers.get(t) ?? [];
      if (!l.includes(i)) l.push(i);
      readers.set(t, l);
    }
  });
  const none: number[] = [];
  return {
    types: [...readers.keys()],
    init: () => list.map((r) => r.init()),
    step(states, e) {
      const idx = readers.get(e.type) ?? none;
      for (let k = 0; k < idx.length; k++) {
        const i = idx[k]!;
        list[i]!.step(states[i], e);
      }
    },
    result(states) {
      const out: Record<string, unknown> = {};
      names.forEach((n, i) => (out[n] = list[i]!.result(states[i])));
      return out as { [K in keyof T]: ResultOf<T[K]> };
    },
  };
}
