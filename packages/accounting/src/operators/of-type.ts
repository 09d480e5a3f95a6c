import { filter, type OperatorFunction } from '../rx';
import type { ModelEvent } from '@ipilab/events';

/** Narrows a stream of model events to one type. */
export function ofType<K extends ModelEvent['type']>(type: K): OperatorFunction<ModelEvent, Extract<ModelEvent, { type: K }>> {
  return filter((e): e is Extract<ModelEvent, { type: K }> => e.type === type);
}
