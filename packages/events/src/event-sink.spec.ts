import { EventSink, MODEL_EVENT_TYPES } from './index';
import type { ModelEvent } from './model-events';

const exit: ModelEvent = { type: 'vm-exit', t: 1, vcpu: { vm: 0, vcpu: 0 }, reason: 'hlt', cost: 3 };
const state: ModelEvent = { type: 'vcpu-state', t: 2, vcpu: { vm: 0, vcpu: 0 }, from: 'in-guest', to: 'halted', pcpu: 0 };

describe('EventSink', () => {
  it('wants a type only while a listener reads it, and hands each listener only its types', () => {
    const sink = new EventSink();
    expect(MODEL_EVENT_TYPES.some((t) => sink.wants[t])).toBe(false);
    const exits: ModelEvent[] = [];
    const off = sink.subscribe((e) => exits.push(e), ['vm-exit']);
    expect(MODEL_EVENT_TYPES.filter((t) => sink.wants[t])).toEqual(['vm-exit']);
    expect(sink.active).toBe(true);
    sink.emit(exit);
    sink.emit(state);
    expect(exits).toEqual([exit]);
    off();
    off(); // twice is harmless
    expect(MODEL_EVENT_TYPES.some((t) => sink.wants[t])).toBe(false);
    expect(sink.active).toBe(false);
  });

  it('gives a listener without types every event, and calls listeners in subscription order', () => {
    const sink = new EventSink();
    const calls: string[] = [];
    sink.subscribe((e) => calls.push(`all:${e.type}`));
    const offExit = sink.subscribe((e) => calls.push(`exit:${e.type}`), ['vm-exit']);
    sink.subscribe((e) => calls.push(`last:${e.type}`));
    expect(MODEL_EVENT_TYPES.every((t) => sink.wants[t])).toBe(true);
    sink.emit(exit);
    sink.emit(state);
    offExit();
    sink.emit(exit);
    expect(calls).toEqual(['all:vm-exit', 'exit:vm-exit', 'last:vm-exit', 'all:vcpu-state', 'last:vcpu-state', 'all:vm-exit', 'last:vm-exit']);
  });

  it('refuses an unknown event type, naming it and the known ones', () => {
    const sink = new EventSink();
    expect(() => sink.subscribe(() => undefined, ['vm-exit', 'ipi-lost' as 'vm-exit'])).toThrow(/unknown event type "ipi-lost"; expected one of ipi-sent, .*vcpu-state/);
    expect(sink.active).toBe(false);
  });
});
