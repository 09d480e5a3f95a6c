import fc from 'fast-check';
import {
  InvalidTimeError,
  RandomStreams,
  Simulation,
  SimulationStateError,
  StaleHandleError,
  TimeInPastError,
  type EventHandle,
} from './index';

// ---- Model-based test: the kernel against a sorted reference --------------------------------

interface Entry {
  time: number;
  seq: number;
  id: number;
}
interface Model {
  pending: Entry[];
  now: number;
  nextSeq: number;
  nextId: number;
  fired: number[];
  finished: boolean;
}
interface Real {
  sim: Simulation;
  handles: Map<number, EventHandle>;
  fired: number[];
}

/** Some events schedule a follow-up when they fire, so the test covers scheduling from callbacks. */
const followUpDelay = (id: number): number | undefined => (id % 3 === 0 ? (id % 7) * 5 : undefined);

function modelPush(m: Model, time: number): number {
  const id = m.nextId++;
  m.pending.push({ time, seq: m.nextSeq++, id });
  return id;
}

function modelPopMin(m: Model): void {
  let best = 0;
  for (let i = 1; i < m.pending.length; i++) {
    const a = m.pending[i]!;
    const b = m.pending[best]!;
    if (a.time < b.time || (a.time === b.time && a.seq < b.seq)) best = i;
  }
  const [e] = m.pending.splice(best, 1);
  m.now = e!.time;
  m.fired.push(e!.id);
  const d = followUpDelay(e!.id);
  if (d !== undefined) modelPush(m, m.now + d);
}

function modelMinTime(m: Model): number {
  return Math.min(...m.pending.map((e) => e.time));
}

function realSchedule(r: Real, id: number, fn: () => EventHandle): void {
  r.handles.set(id, fn());
}

function makeFire(r: Real): (id: number) => void {
  const fire = (id: number): void => {
    r.fired.push(id);
    const d = followUpDelay(id);
    if (d !== undefined) {
      // The reference numbers the follow-up with the next id; mirror that numbering.
      const childId = nextRealId++;
      r.handles.set(childId, r.sim.schedule(d, fire, childId));
    }
  };
  return fire;
}
let nextRealId = 0;

function checkSame(m: Model, r: Real): void {
  expect(r.fired).toEqual(m.fired);
  expect(r.sim.now).toBe(m.now);
  expect(r.sim.pending).toBe(m.pending.length);
}

type Cmd = fc.Command<Model, Real>;

class ScheduleCmd implements Cmd {
  constructor(readonly delay: number) {}
  check = (m: Readonly<Model>): boolean => !m.finished;
  run(m: Model, r: Real): void {
    const id = modelPush(m, m.now + this.delay);
    nextRealId = id + 1;
    realSchedule(r, id, () => r.sim.schedule(this.delay, makeFire(r), id));
    checkSame(m, r);
  }
  toString = (): string => `schedule(${this.delay})`;
}

class ScheduleAtCmd implements Cmd {
  constructor(readonly offset: number) {}
  check = (m: Readonly<Model>): boolean => !m.finished;
  run(m: Model, r: Real): void {
    const at = m.now + this.offset;
    const id = modelPush(m, at);
    nextRealId = id + 1;
    realSchedule(r, id, () => r.sim.scheduleAt(at, makeFire(r), id));
    checkSame(m, r);
  }
  toString = (): string => `scheduleAt(now+${this.offset})`;
}

class CancelCmd implements Cmd {
  constructor(readonly pick: number) {}
  check = (m: Readonly<Model>): boolean => !m.finished && m.pending.length > 0;
  run(m: Model, r: Real): void {
    const ids = m.pending.map((e) => e.id).sort((a, b) => a - b);
    const id = ids[this.pick % ids.length]!;
    m.pending = m.pending.filter((e) => e.id !== id);
    const h = r.handles.get(id)!;
    expect(r.sim.isPending(h)).toBe(true);
    r.sim.cancel(h);
    expect(r.sim.isPending(h)).toBe(false);
    expect(() => r.sim.cancel(h)).toThrow(StaleHandleError);
    checkSame(m, r);
  }
  toString = (): string => `cancel(#${this.pick})`;
}

class StepCmd implements Cmd {
  check = (m: Readonly<Model>): boolean => !m.finished;
  run(m: Model, r: Real): void {
    nextRealId = m.nextId;
    const had = m.pending.length > 0;
    if (had) modelPopMin(m);
    expect(r.sim.step()).toBe(had);
    checkSame(m, r);
  }
  toString = (): string => 'step()';
}

class RunUntilCmd implements Cmd {
  constructor(readonly dt: number) {}
  check = (m: Readonly<Model>): boolean => !m.finished;
  run(m: Model, r: Real): void {
    const until = m.now + this.dt;
    nextRealId = m.nextId;
    while (m.pending.length > 0 && modelMinTime(m) < until) modelPopMin(m);
    m.now = until;
    const res = r.sim.run({ until });
    expect(res.reason).toBe('until');
    checkSame(m, r);
  }
  toString = (): string => `run(until now+${this.dt})`;
}

class RunBudgetCmd implements Cmd {
  constructor(readonly n: number) {}
  check = (m: Readonly<Model>): boolean => !m.finished;
  run(m: Model, r: Real): void {
    nextRealId = m.nextId;
    let k = 0;
    while (m.pending.length > 0 && k < this.n) {
      modelPopMin(m);
      k++;
    }
    const drained = m.pending.length === 0;
    const res = r.sim.run({ maxEvents: this.n });
    expect(res.events).toBe(k);
    if (drained) {
      m.finished = true;
      expect(res.reason).toBe('empty');
      expect(r.sim.state).toBe('finished');
    } else {
      expect(res.reason).toBe('budget');
    }
    checkSame(m, r);
  }
  toString = (): string => `run(maxEvents ${this.n})`;
}

const commands = [
  fc.integer({ min: 0, max: 20 }).map((d) => new ScheduleCmd(d)),
  fc.integer({ min: 0, max: 20 }).map((d) => new ScheduleAtCmd(d)),
  fc.nat().map((p) => new CancelCmd(p)),
  fc.constant(new StepCmd()),
  fc.integer({ min: 0, max: 15 }).map((d) => new RunUntilCmd(d)),
  fc.integer({ min: 1, max: 6 }).map((n) => new RunBudgetCmd(n)),
];

describe('Simulation calendar (model-based)', () => {
  it('pops every interleaving of schedules, cancels, steps and runs in (time, seq) order like a sorted reference', () => {
    fc.assert(
      fc.property(fc.commands(commands, { size: '+1' }), fc.integer({ min: 1, max: 4 }), (cmds, cap) => {
        const model: Model = { pending: [], now: 0, nextSeq: 0, nextId: 0, fired: [], finished: false };
        const real: Real = { sim: new Simulation({ initialCapacity: cap }), handles: new Map(), fired: [] };
        nextRealId = 0;
        fc.modelRun(() => ({ model, real }), cmds);
      }),
    );
  });
});

describe('Simulation calendar (bulk)', () => {
  it('after scheduling a batch and cancelling any subset, the rest fire in sorted (time, seq) order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ time: fc.integer({ min: 0, max: 50 }), cancel: fc.boolean() }), { minLength: 1, maxLength: 300, size: 'max' }),
        (events) => {
          const sim = new Simulation({ initialCapacity: 4 });
          const out: number[] = [];
          const handles = events.map((e, i) => sim.scheduleAt(e.time, (x: number) => out.push(x), i));
          events.forEach((e, i) => {
            if (e.cancel) sim.cancel(handles[i]!);
          });
          sim.run();
          const expected = events
            .map((e, i) => ({ ...e, i }))
            .filter((e) => !e.cancel)
            .sort((a, b) => a.time - b.time || a.i - b.i)
            .map((e) => e.i);
          expect(out).toEqual(expected);
        },
      ),
    );
  });
});

// ---- Direct behaviour ------------------------------------------------------------------------

describe('Simulation', () => {
  it('runs equal-time events in the order they were scheduled', () => {
    const sim = new Simulation();
    const out: string[] = [];
    for (const name of ['a', 'b', 'c', 'd']) sim.schedule(5, (n: string) => out.push(n), name);
    sim.schedule(0, () => out.push('first'));
    sim.run();
    expect(out).toEqual(['first', 'a', 'b', 'c', 'd']);
  });

  it('cancel removes exactly the cancelled event and no other', () => {
    const sim = new Simulation();
    const out: number[] = [];
    const hs = [0, 1, 2, 3, 4].map((i) => sim.schedule(10, (x: number) => out.push(x), i));
    sim.cancel(hs[2]!);
    sim.run();
    expect(out).toEqual([0, 1, 3, 4]);
    expect(sim.eventsProcessed).toBe(4);
  });

  it('a handle goes stale once its event fires; tryCancel reports it without throwing', () => {
    const sim = new Simulation();
    const h = sim.schedule(1, () => undefined);
    sim.run({ until: 5 });
    expect(sim.isPending(h)).toBe(false);
    expect(sim.tryCancel(h)).toBe(false);
    expect(() => sim.cancel(h)).toThrow(new StaleHandleError(h));
  });

  it('a reused slot does not honour the old handle', () => {
    const sim = new Simulation({ initialCapacity: 1 });
    const old = sim.schedule(1, () => undefined);
    sim.cancel(old);
    const fresh = sim.schedule(1, () => undefined);
    expect(fresh).not.toBe(old);
    expect(() => sim.cancel(old)).toThrow(StaleHandleError);
    expect(sim.isPending(fresh)).toBe(true);
  });

  it('grows past its initial capacity and keeps order', () => {
    const sim = new Simulation({ initialCapacity: 1 });
    const out: number[] = [];
    for (let i = 0; i < 500; i++) sim.schedule((i * 7919) % 101, (x: number) => out.push(x), i);
    sim.run();
    const expected = [...Array(500).keys()].sort((a, b) => ((a * 7919) % 101) - ((b * 7919) % 101) || a - b);
    expect(out).toEqual(expected);
  });

  it('run({ until }) runs events strictly before until and leaves the clock there', () => {
    const sim = new Simulation();
    const out: number[] = [];
    for (const t of [1, 5, 10, 15]) sim.scheduleAt(t, (x: number) => out.push(x), t);
    expect(sim.run({ until: 10 })).toEqual({ reason: 'until', now: 10, events: 2 });
    expect(out).toEqual([1, 5]);
    expect(sim.state).toBe('paused');
    expect(sim.run()).toEqual({ reason: 'empty', now: 15, events: 2 });
    expect(sim.state).toBe('finished');
  });

  it('run({ maxEvents }) stops after the budget and can resume', () => {
    const sim = new Simulation();
    for (let i = 0; i < 5; i++) sim.schedule(i, () => undefined);
    expect(sim.run({ maxEvents: 3 })).toEqual({ reason: 'budget', now: 2, events: 3 });
    expect(sim.pending).toBe(2);
    expect(sim.run({ maxEvents: 10 })).toEqual({ reason: 'empty', now: 4, events: 2 });
  });

  it('stop() ends the run after the current event and finishes the simulation', () => {
    const sim = new Simulation();
    const out: number[] = [];
    sim.schedule(1, () => out.push(1));
    sim.schedule(2, () => {
      out.push(2);
      sim.stop();
    });
    sim.schedule(3, () => out.push(3));
    expect(sim.run().reason).toBe('stopped');
    expect(out).toEqual([1, 2]);
    expect(sim.state).toBe('finished');
  });

  it('gives the same trace for the same seed and a different one for another seed', () => {
    const trace = (seed: number): string[] => {
      const sim = new Simulation();
      const streams = new RandomStreams(seed);
      const log: string[] = [];
      for (const name of ['cpu0', 'cpu1', 'cpu2']) {
        const rng = streams.stream(name);
        const tick = (): void => {
          log.push(`${sim.now}:${name}`);
          if (sim.now < 100_000) sim.schedule(Math.round(rng.exponential(1_000)), tick);
        };
        sim.schedule(0, tick);
      }
      sim.run();
      return log;
    };
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 40 }), (seed) => {
        expect(trace(seed)).toEqual(trace(seed));
      }),
      { numRuns: 20 },
    );
    expect(trace(1)).not.toEqual(trace(2));
  });

  it('a callback that throws fails the simulation; the error reaches the caller', () => {
    const sim = new Simulation();
    sim.schedule(1, () => {
      throw new Error('model bug');
    });
    expect(() => sim.run()).toThrow('model bug');
    expect(sim.state).toBe('failed');
    expect(() => sim.run()).toThrow(SimulationStateError);
  });
});

describe('Simulation bad input', () => {
  const cases: [string, (s: Simulation) => unknown, new (...a: never[]) => Error, string][] = [
    ['NaN delay', (s) => s.schedule(NaN, () => undefined), InvalidTimeError, 'delay: expected a non-negative integer number of nanoseconds, got NaN'],
    ['negative delay', (s) => s.schedule(-5, () => undefined), InvalidTimeError, 'delay: expected a non-negative integer number of nanoseconds, got -5'],
    ['infinite delay', (s) => s.schedule(Infinity, () => undefined), InvalidTimeError, 'delay: expected a non-negative integer number of nanoseconds, got Infinity'],
    ['fractional delay', (s) => s.schedule(2.5, () => undefined), InvalidTimeError, 'delay: expected a non-negative integer number of nanoseconds, got 2.5'],
    ['delay past the end of time', (s) => s.schedule(Number.MAX_SAFE_INTEGER, () => undefined), InvalidTimeError, 'delay: expected a delay that keeps the clock below'],
    ['non-integer time', (s) => s.scheduleAt(100.25, () => undefined), InvalidTimeError, 'time: expected a non-negative integer number of nanoseconds, got 100.25'],
    ['time in the past', (s) => s.scheduleAt(40, () => undefined), TimeInPastError, 'time: time 40 ns is in the past (the clock is at 50 ns)'],
    ['until in the past', (s) => s.run({ until: 10 }), TimeInPastError, 'until: time 10 ns is in the past (the clock is at 50 ns)'],
    ['non-integer until', (s) => s.run({ until: 60.5 }), InvalidTimeError, 'until: expected a non-negative integer number of nanoseconds, got 60.5'],
    ['negative maxEvents', (s) => s.run({ maxEvents: -1 }), InvalidTimeError, 'maxEvents: expected a non-negative integer event count, got -1'],
  ];
  it.each(cases)('%s gives a typed error naming the value', (_name, act, type, text) => {
    const sim = new Simulation();
    sim.run({ until: 50 });
    const pendingBefore = sim.pending;
    let caught: unknown;
    try {
      act(sim);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(type);
    expect((caught as Error).message).toContain(text);
    // Nothing was silently corrupted: no event was added, the clock did not move.
    expect(sim.pending).toBe(pendingBefore);
    expect(sim.now).toBe(50);
  });

  it('cancelling twice is a StaleHandleError naming the handle', () => {
    const sim = new Simulation();
    const h = sim.schedule(1, () => undefined);
    sim.cancel(h);
    expect(() => sim.cancel(h)).toThrow(StaleHandleError);
    expect(() => sim.cancel(h)).toThrow(`event handle ${h} is not pending`);
  });

  it('a forged handle is rejected', () => {
    const sim = new Simulation();
    expect(() => sim.cancel(-3 as EventHandle)).toThrow('event handle -3 is not pending');
    expect(() => sim.cancel(12345678 as EventHandle)).toThrow(StaleHandleError);
  });

  it('running a finished simulation again is refused', () => {
    const sim = new Simulation();
    sim.schedule(1, () => undefined);
    sim.run();
    expect(() => sim.run()).toThrow(SimulationStateError);
    expect(() => sim.run()).toThrow('run(): the simulation finished at 1 ns; create a new Simulation to run again');
    expect(() => sim.step()).toThrow('step(): the simulation finished at 1 ns');
    expect(() => sim.schedule(1, () => undefined)).toThrow('schedule(): the simulation is finished at 1 ns');
  });

  it('running a running simulation (from a callback) is refused', () => {
    const sim = new Simulation();
    let inner: unknown;
    sim.schedule(3, () => {
      try {
        sim.run();
      } catch (e) {
        inner = e;
      }
    });
    sim.run();
    expect(inner).toBeInstanceOf(SimulationStateError);
    expect((inner as Error).message).toBe('run(): the simulation is already running (at 3 ns); it cannot be re-entered from a callback');
  });

  it('rejects a bad start time and capacity', () => {
    expect(() => new Simulation({ startTime: -1 })).toThrow('startTime: expected a non-negative integer number of nanoseconds, got -1');
    expect(() => new Simulation({ initialCapacity: 0 })).toThrow('initialCapacity: expected an integer in [1, 16777216], got 0');
  });

  it('stop() outside a run is refused', () => {
    expect(() => new Simulation().stop()).toThrow('stop(): the simulation is idle');
  });
});
