import { InvalidTimeError, KernelError, describe } from './errors';
import type { Simulation } from './simulation';
import type { Nanoseconds } from './time';

/**
 * Step-by-step protocols on top of the callback kernel. A process is a generator that
 * yields what it waits for — `delay(d)`, a `Signal`, `allOf([...])`, `anyOf([...])` — and is
 * resumed by ordinary calendar events, so processes and raw callbacks interleave in one
 * (time, seq) order and the raw path pays nothing for processes existing.
 */

const DELAY = 0;
const ALL_OF = 1;
const ANY_OF = 2;

/** What `delay(ns)` yields: wait that long. */
export interface Delay {
  readonly kind: typeof DELAY;
  readonly ns: Nanoseconds;
}
/** What `allOf(...)` yields: wait until every signal has fired. */
export interface AllOf {
  readonly kind: typeof ALL_OF;
  readonly signals: readonly Signal<unknown>[];
}
/** What `anyOf(...)` yields: wait until one signal has fired. */
export interface AnyOf {
  readonly kind: typeof ANY_OF;
  readonly signals: readonly Signal<unknown>[];
}

/** What a process may yield. */
export type Awaitable = Delay | AllOf | AnyOf | Signal<unknown>;

/** A process's code: a generator that yields what it waits for and returns its value. */
export type ProcessBody<T> = Generator<Awaitable, T, unknown>;

/** Wait `d` ns (an integer >= 0). */
export function delay(d: Nanoseconds): Delay {
  if (!Number.isSafeInteger(d) || d < 0) throw new InvalidTimeError('delay', d);
  return { kind: DELAY, ns: d };
}

/** Wait until every signal has fired; resumes with their values in order. Fails on the first failure. */
export function allOf(signals: readonly Signal<unknown>[]): AllOf {
  checkSignals('allOf', signals);
  return { kind: ALL_OF, signals };
}

/** Wait until the first signal fires; resumes with `{ index, value }` of that signal. */
export function anyOf(signals: readonly Signal<unknown>[]): AnyOf {
  checkSignals('anyOf', signals);
  if (signals.length === 0) throw new KernelError('anyOf(signals): expected at least one signal, got an empty array');
  return { kind: ANY_OF, signals };
}

function checkSignals(what: string, signals: readonly Signal<unknown>[]): void {
  if (!Array.isArray(signals)) {
    throw new KernelError(`${what}(signals): expected an array of Signals, got ${describe(signals)}`);
  }
  signals.forEach((s, i) => {
    if (!(s instanceof Signal)) throw new KernelError(`${what}(signals)[${i}]: expected a Signal, got ${describe(s)}`);
  });
}

type Waiter = (signal: Signal<unknown>) => void;

const PENDING = 0;
const OK = 1;
const FAILED = 2;

/**
 * A one-shot occurrence a process can wait for. Firing it schedules its waiters at the
 * current time (never calls them re-entrantly), so wake-ups take their place in (time, seq)
 * order like every other event.
 */
export class Signal<T> {
  private outcome: typeof PENDING | typeof OK | typeof FAILED = PENDING;
  private result: unknown = undefined;
  private waiters: Waiter[] | undefined = undefined;
  /** True once a waiter has seen a failure, so the error is not reported as unhandled. */
  private handled = false;

  constructor(
    readonly sim: Simulation,
    readonly label = 'signal',
  ) {}

  get triggered(): boolean {
    return this.outcome !== PENDING;
  }

  get ok(): boolean {
    return this.outcome === OK;
  }

  /** The value it fired with; throws if it has not fired or it failed. */
  get value(): T {
    if (this.outcome === OK) return this.result as T;
    if (this.outcome === FAILED) throw this.result;
    throw new KernelError(`${this.label}: has not fired yet`);
  }

  /** Fire with a value: every waiter wakes (from the calendar) with it. */
  succeed(value: T): void {
    this.settle(OK, value);
  }

  /** Fire with an error: every waiter's process gets it thrown at its yield. */
  fail(error: unknown): void {
    this.settle(FAILED, error);
  }

  /** Calls `waiter` (from a calendar event) once this signal has fired. */
  subscribe(waiter: Waiter): void {
    if (this.outcome !== PENDING) {
      this.sim.schedule(0, notifyOne, { signal: this as Signal<unknown>, waiter });
      return;
    }
    (this.waiters ??= []).push(waiter);
  }

  private settle(outcome: typeof OK | typeof FAILED, result: unknown): void {
    if (this.outcome !== PENDING) {
      throw new KernelError(`${this.label}: fired twice (it is one-shot)`);
    }
    this.outcome = outcome;
    this.result = result;
    this.sim.schedule(0, notifyAll, this as Signal<unknown>);
  }

  /** @internal */
  deliver(): void {
    const ws = this.waiters;
    this.waiters = undefined;
    if (ws !== undefined) {
      if (this.outcome === FAILED) this.handled = true;
      for (const w of ws) w(this as Signal<unknown>);
    } else if (this.outcome === FAILED && !this.handled) {
      // Nobody waits on a failed signal: surface the error from run() instead of losing it.
      throw this.result;
    }
  }

  /** @internal */
  markHandled(): void {
    this.handled = true;
  }
}

function notifyAll(signal: Signal<unknown>): void {
  signal.deliver();
}

function notifyOne(x: { signal: Signal<unknown>; waiter: Waiter }): void {
  if (!x.signal.ok) x.signal.markHandled();
  x.waiter(x.signal);
}

/**
 * A running generator. It is itself a Signal that fires with the generator's return value
 * (or fails with what it threw), so processes can wait for each other.
 */
export class Process<T> extends Signal<T> {
  private readonly body: ProcessBody<T>;
  private readonly onWake: Waiter;

  constructor(sim: Simulation, body: ProcessBody<T>, label = 'process') {
    super(sim, label);
    this.body = body;
    this.onWake = (s) => (s.ok ? this.advance(s.value, false) : this.advance(failureOf(s), true));
    sim.schedule(0, startProcess, this as Process<unknown>);
  }

  /** @internal Resumes the generator with a value, or throws an error into it. */
  advance(input: unknown, isError: boolean): void {
    let step: IteratorResult<Awaitable, T>;
    try {
      step = isError ? this.body.throw(input) : this.body.next(input);
    } catch (e) {
      this.fail(e);
      return;
    }
    if (step.done) {
      this.succeed(step.value);
      return;
    }
    this.await(step.value);
  }

  private await(y: Awaitable): void {
    if (y instanceof Signal) {
      y.subscribe(this.onWake);
      return;
    }
    if (typeof y !== 'object' || y === null) {
      this.advance(new KernelError(`${this.label}: yielded ${describe(y)}; expected delay(), a Signal, allOf() or anyOf()`), true);
      return;
    }
    switch (y.kind) {
      case DELAY:
        this.sim.schedule(y.ns, resumeProcess, this as Process<unknown>);
        return;
      case ALL_OF:
        waitAll(this, y.signals);
        return;
      case ANY_OF:
        waitAny(this, y.signals);
        return;
      default:
        this.advance(new KernelError(`${this.label}: yielded ${describe(y)}; expected delay(), a Signal, allOf() or anyOf()`), true);
    }
  }
}

function failureOf(s: Signal<unknown>): unknown {
  try {
    return s.value;
  } catch (e) {
    return e;
  }
}

function startProcess(p: Process<unknown>): void {
  p.advance(undefined, false);
}

function resumeProcess(p: Process<unknown>): void {
  p.advance(undefined, false);
}

function waitAll(p: Process<unknown>, signals: readonly Signal<unknown>[]): void {
  let remaining = signals.length;
  let done = false;
  if (remaining === 0) {
    p.sim.schedule(0, (q: Process<unknown>) => q.advance([], false), p);
    return;
  }
  const onFire: Waiter = (s) => {
    if (done) return;
    if (!s.ok) {
      done = true;
      p.advance(failureOf(s), true);
      return;
    }
    if (--remaining === 0) {
      done = true;
      p.advance(
        signals.map((x) => x.value),
        false,
      );
    }
  };
  for (const s of signals) s.subscribe(onFire);
}

function waitAny(p: Process<unknown>, signals: readonly Signal<unknown>[]): void {
  let done = false;
  signals.forEach((s, index) => {
    s.subscribe((fired) => {
      if (done) return;
      done = true;
      if (fired.ok) p.advance({ index, value: fired.value }, false);
      else p.advance(failureOf(fired), true);
    });
  });
}

/** Starts a process at the current time (its first step runs as a calendar event). */
export function spawn<T>(sim: Simulation, body: ProcessBody<T>, label?: string): Process<T> {
  return new Process(sim, body, label);
}

/** A signal that fires with `value` after `d` ns — combine with anyOf for timeouts. */
export function timeout<T = undefined>(sim: Simulation, d: Nanoseconds, value?: T): Signal<T> {
  const s = new Signal<T>(sim, `timeout(${d})`);
  sim.schedule(d, (x: Signal<T>) => x.succeed(value as T), s);
  return s;
}
