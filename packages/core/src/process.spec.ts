import { KernelError, Signal, Simulation, allOf, anyOf, delay, spawn, timeout, InvalidTimeError } from './index';

describe('generator processes', () => {
  it('delay() advances the clock by exactly the delay', () => {
    const sim = new Simulation();
    const seen: number[] = [];
    spawn(
      sim,
      (function* () {
        seen.push(sim.now);
        yield delay(10);
        seen.push(sim.now);
        yield delay(0);
        seen.push(sim.now);
        yield delay(5);
        seen.push(sim.now);
      })(),
    );
    sim.run();
    expect(seen).toEqual([0, 10, 10, 15]);
  });

  it('allOf waits for the last signal and returns values in order; a process returns a value', () => {
    const sim = new Simulation();
    let result: unknown;
    let at = -1;
    const worker = (d: number, v: string) =>
      spawn(
        sim,
        (function* () {
          yield delay(d);
          return v;
        })(),
      );
    spawn(
      sim,
      (function* () {
        result = yield allOf([worker(30, 'slow'), worker(10, 'fast'), timeout(sim, 20, 'timer')]);
        at = sim.now;
      })(),
    );
    sim.run();
    expect(result).toEqual(['slow', 'fast', 'timer']);
    expect(at).toBe(30);
  });

  it('allOf([]) resumes at once with an empty array', () => {
    const sim = new Simulation();
    let result: unknown;
    spawn(
      sim,
      (function* () {
        yield delay(3);
        result = yield allOf([]);
      })(),
    );
    sim.run();
    expect(result).toEqual([]);
    expect(sim.now).toBe(3);
  });

  it('anyOf resumes with the first signal to fire', () => {
    const sim = new Simulation();
    let result: unknown;
    spawn(
      sim,
      (function* () {
        result = yield anyOf([timeout(sim, 50, 'late'), timeout(sim, 7, 'early')]);
      })(),
    );
    sim.run({ until: 8 });
    expect(result).toEqual({ index: 1, value: 'early' });
  });

  it('a signal fired before a process waits on it still wakes the process', () => {
    const sim = new Simulation();
    const s = new Signal<number>(sim, 'ack');
    s.succeed(42);
    let got: unknown;
    spawn(
      sim,
      (function* () {
        yield delay(5);
        got = yield s;
      })(),
    );
    sim.run();
    expect(got).toBe(42);
  });

  it('wake-ups interleave with raw callbacks in (time, seq) order', () => {
    const sim = new Simulation();
    const log: string[] = [];
    sim.schedule(10, () => log.push('raw-before'));
    spawn(
      sim,
      (function* () {
        yield delay(10);
        log.push('process');
      })(),
    );
    sim.schedule(10, () => log.push('raw-after'));
    sim.run();
    // The process's start event is scheduled before raw-after, and its delay is scheduled when it starts.
    expect(log).toEqual(['raw-before', 'raw-after', 'process']);
  });

  it("a failure is thrown into the waiting process, which may handle it", () => {
    const sim = new Simulation();
    let caught: unknown;
    const failing = spawn(
      sim,
      (function* () {
        yield delay(1);
        throw new Error('target offline');
      })(),
    );
    spawn(
      sim,
      (function* () {
        try {
          yield failing;
        } catch (e) {
          caught = e;
        }
      })(),
    );
    sim.run();
    expect((caught as Error).message).toBe('target offline');
  });

  it('a failure nobody waits for surfaces from run() instead of vanishing', () => {
    const sim = new Simulation();
    spawn(
      sim,
      (function* () {
        yield delay(1);
        throw new Error('lost ack');
      })(),
    );
    expect(() => sim.run()).toThrow('lost ack');
  });

  it('yielding something that is not awaitable is an error naming it', () => {
    const sim = new Simulation();
    spawn(
      sim,
      (function* () {
        yield 5 as never;
      })(),
      'bad-process',
    );
    expect(() => sim.run()).toThrow('bad-process: yielded 5; expected delay(), a Signal, allOf() or anyOf()');
  });

  it('bad arguments name the value', () => {
    expect(() => delay(-1)).toThrow(InvalidTimeError);
    expect(() => delay(1.5)).toThrow('delay: expected a non-negative integer number of nanoseconds, got 1.5');
    expect(() => anyOf([])).toThrow('anyOf(signals): expected at least one signal, got an empty array');
    expect(() => allOf([1 as never])).toThrow('allOf(signals)[0]: expected a Signal, got 1');
    const sim = new Simulation();
    const s = new Signal(sim, 'once');
    s.succeed(1);
    expect(() => s.succeed(2)).toThrow(new KernelError('once: fired twice (it is one-shot)'));
  });
});
