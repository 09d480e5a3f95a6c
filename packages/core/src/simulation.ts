import { InvalidTimeError, SimulationStateError, StaleHandleError, TimeInPastError, KernelError } from './errors';
import { EventHeap } from './internal/event-heap';
import { MAX_TIME, type Nanoseconds } from './time';

/**
 * An opaque handle to a scheduled event, for `cancel`. It packs the event's slot and the
 * slot's generation into one number so issuing it allocates nothing; a handle whose event
 * fired or was cancelled no longer matches its slot's generation and is rejected.
 */
export type EventHandle = number & { readonly __eventHandle: unique symbol };

/** An event callback. `arg` lets a model reuse one function for many entities without closures. */
export type EventCallback<A> = (arg: A) => void;

/** Where a simulation is in its life: not started, running, paused between runs, finished, or failed. */
export type SimulationState = 'idle' | 'running' | 'paused' | 'finished' | 'failed';

/** Why a call to `run` returned. */
export type StopReason =
  /** The calendar ran dry with no time bound: the simulation is finished. */
  | 'empty'
  /** The next event is at or after `until`; the clock now reads `until`. */
  | 'until'
  /** `maxEvents` events ran. */
  | 'budget'
  /** A callback called `stop()`: the simulation is finished. */
  | 'stopped';

/** Bounds on one call to `run`: a time, a number of events. */
export interface RunOptions {
  /** Run events strictly before this absolute time, then set the clock to it. */
  readonly until?: Nanoseconds;
  /** Run at most this many events. */
  readonly maxEvents?: number;
}

/** What one call to `run` did: why it stopped, the clock, the events it executed. */
export interface RunResult {
  readonly reason: StopReason;
  readonly now: Nanoseconds;
  /** Events executed by this call. */
  readonly events: number;
}

/** How a simulation starts: its clock and its calendar's initial capacity. */
export interface SimulationOptions {
  /** Initial clock reading, default 0. */
  readonly startTime?: Nanoseconds;
  /** Initial calendar capacity; it grows on demand. */
  readonly initialCapacity?: number;
}

const SLOT_BITS = 24;
const SLOT_LIMIT = 2 ** SLOT_BITS;
/** Generations wrap here so a packed handle stays a safe integer (2^24 * 2^29 = 2^53). */
const GEN_LIMIT = 2 ** 29;

/**
 * The discrete-event kernel: a clock in integer nanoseconds and a calendar of callbacks
 * ordered by (time, seq), where seq is the order of scheduling. Two runs that schedule the
 * same events in the same order execute them in the same order — the basis of ipilab's
 * determinism. The kernel knows nothing of models and reads no wall clock.
 */
export class Simulation {
  private readonly heap: EventHeap;
  private fns: (EventCallback<never> | undefined)[];
  private args: unknown[];
  private gens: Float64Array;
  private freeSlots: Int32Array;
  private freeCount: number;
  private nextSeq = 0;
  private clock: Nanoseconds;
  private processed = 0;
  private status: SimulationState = 'idle';
  private stopRequested = false;

  constructor(options: SimulationOptions = {}) {
    const start = options.startTime ?? 0;
    if (!Number.isSafeInteger(start) || start < 0) {
      throw new InvalidTimeError('startTime', start);
    }
    const cap = options.initialCapacity ?? 1024;
    if (!Number.isSafeInteger(cap) || cap < 1 || cap > SLOT_LIMIT) {
      throw new InvalidTimeError('initialCapacity', cap, `an integer in [1, ${SLOT_LIMIT}]`);
    }
    this.clock = start;
    this.heap = new EventHeap(cap);
    this.fns = new Array<EventCallback<never> | undefined>(cap).fill(undefined);
    this.args = new Array<unknown>(cap).fill(undefined);
    this.gens = new Float64Array(cap);
    this.freeSlots = new Int32Array(cap);
    // Hand out low slots first so small simulations stay in the first cache lines.
    for (let i = 0; i < cap; i++) this.freeSlots[i] = cap - 1 - i;
    this.freeCount = cap;
  }

  /** The simulated clock, in nanoseconds. */
  get now(): Nanoseconds {
    return this.clock;
  }

  /** Events executed over the simulation's life. */
  get eventsProcessed(): number {
    return this.processed;
  }

  /** Events waiting in the calendar. */
  get pending(): number {
    return this.heap.size;
  }

  get state(): SimulationState {
    return this.status;
  }

  /** Time of the next pending event, or undefined when the calendar is empty. */
  peek(): Nanoseconds | undefined {
    return this.heap.size > 0 ? this.heap.peekTime() : undefined;
  }

  /** Schedules `fn(arg)` after `delay` ns (an integer >= 0); equal times run in scheduling order. */
  schedule<A>(delay: Nanoseconds, fn: EventCallback<A>, arg?: A): EventHandle {
    if (!Number.isSafeInteger(delay) || delay < 0) {
      throw new InvalidTimeError('delay', delay);
    }
    const time = this.clock + delay;
    if (time > MAX_TIME) {
      throw new InvalidTimeError('delay', delay, `a delay that keeps the clock below ${MAX_TIME} ns`);
    }
    return this.enqueue(time, fn as EventCallback<never>, arg);
  }

  /** Schedules `fn(arg)` at absolute time `time` (an integer >= now). */
  scheduleAt<A>(time: Nanoseconds, fn: EventCallback<A>, arg?: A): EventHandle {
    if (!Number.isSafeInteger(time) || time < 0) {
      throw new InvalidTimeError('time', time);
    }
    if (time < this.clock) {
      throw new TimeInPastError('time', time, this.clock);
    }
    return this.enqueue(time, fn as EventCallback<never>, arg);
  }

  /** Removes a pending event. Throws StaleHandleError if it already fired or was cancelled. */
  cancel(handle: EventHandle): void {
    if (!this.tryCancel(handle)) throw new StaleHandleError(handle);
  }

  /** Removes the event if it is still pending; returns whether it was. */
  tryCancel(handle: EventHandle): boolean {
    const slot = this.slotOf(handle);
    if (slot < 0) return false;
    this.heap.remove(slot);
    this.release(slot);
    return true;
  }

  /** Whether a scheduled event is still on the calendar (neither run nor cancelled). */
  isPending(handle: EventHandle): boolean {
    return this.slotOf(handle) >= 0;
  }

  /**
   * Asks the running simulation to stop after the current event. The simulation is then
   * finished: it cannot be run again.
   */
  stop(): void {
    if (this.status !== 'running') {
      throw new SimulationStateError(`stop(): the simulation is ${this.status}; stop() is for use inside a running simulation`);
    }
    this.stopRequested = true;
  }

  /** Executes the next event, if any; returns whether one ran. */
  step(): boolean {
    this.assertCanRun('step()');
    if (this.heap.size === 0) return false;
    this.status = 'running';
    try {
      this.fire();
    } catch (e) {
      this.status = 'failed';
      throw e;
    }
    this.status = this.stopRequested ? 'finished' : 'paused';
    return true;
  }

  /**
   * Executes events in (time, seq) order until the calendar is empty, the next event is at or
   * after `until`, `maxEvents` have run, or a callback calls `stop()`. A callback that throws
   * fails the simulation and the error propagates to the caller.
   */
  run(options: RunOptions = {}): RunResult {
    this.assertCanRun('run()');
    const until = options.until ?? Infinity;
    if (until !== Infinity && (!Number.isSafeInteger(until) || until < 0)) {
      throw new InvalidTimeError('until', until);
    }
    if (until < this.clock) {
      throw new TimeInPastError('until', until, this.clock);
    }
    const maxEvents = options.maxEvents ?? Infinity;
    if (maxEvents !== Infinity && (!Number.isSafeInteger(maxEvents) || maxEvents < 0)) {
      throw new InvalidTimeError('maxEvents', maxEvents, 'a non-negative integer event count');
    }

    this.status = 'running';
    const heap = this.heap;
    const startCount = this.processed;
    const budgetEnd = startCount + maxEvents;
    let reason: StopReason;
    try {
      for (;;) {
        if (this.stopRequested) {
          reason = 'stopped';
          break;
        }
        if (heap.size === 0) {
          reason = until === Infinity ? 'empty' : 'until';
          break;
        }
        if (this.processed >= budgetEnd) {
          reason = 'budget';
          break;
        }
        if (heap.peekTime() >= until) {
          reason = 'until';
          break;
        }
        this.fire();
      }
    } catch (e) {
      this.status = 'failed';
      throw e;
    }
    if (reason === 'until') this.clock = until;
    this.status = reason === 'empty' || reason === 'stopped' ? 'finished' : 'paused';
    return { reason, now: this.clock, events: this.processed - startCount };
  }

  /** Pops the earliest event, frees its slot (so the callback may reuse it) and runs it. */
  private fire(): void {
    const heap = this.heap;
    const time = heap.peekTime();
    const slot = heap.pop();
    const fn = this.fns[slot]!;
    const arg = this.args[slot] as never;
    this.release(slot);
    this.clock = time;
    this.processed++;
    fn(arg);
  }

  private enqueue(time: number, fn: EventCallback<never>, arg: unknown): EventHandle {
    if (this.status === 'finished' || this.status === 'failed') {
      throw new SimulationStateError(`schedule(): the simulation is ${this.status} at ${this.clock} ns; create a new Simulation`);
    }
    if (this.freeCount === 0) this.grow();
    const slot = this.freeSlots[--this.freeCount]!;
    this.fns[slot] = fn;
    this.args[slot] = arg;
    this.heap.push(time, this.nextSeq++, slot);
    return (this.gens[slot]! * SLOT_LIMIT + slot) as EventHandle;
  }

  private release(slot: number): void {
    this.fns[slot] = undefined;
    this.args[slot] = undefined;
    const g = this.gens[slot]! + 1;
    this.gens[slot] = g === GEN_LIMIT ? 0 : g;
    this.freeSlots[this.freeCount++] = slot;
  }

  /** The slot a handle names if its event is still pending, else -1. */
  private slotOf(handle: number): number {
    if (!Number.isSafeInteger(handle) || handle < 0) return -1;
    const slot = handle % SLOT_LIMIT;
    const gen = (handle - slot) / SLOT_LIMIT;
    if (slot >= this.gens.length || this.gens[slot] !== gen || !this.heap.contains(slot)) return -1;
    return slot;
  }

  private grow(): void {
    const old = this.heap.capacity;
    if (old >= SLOT_LIMIT) {
      throw new KernelError(`the calendar is full: ${SLOT_LIMIT} events pending at ${this.clock} ns`);
    }
    const cap = Math.min(old * 2, SLOT_LIMIT);
    this.heap.grow(cap);
    const gens = new Float64Array(cap);
    gens.set(this.gens);
    this.gens = gens;
    const free = new Int32Array(cap);
    free.set(this.freeSlots.subarray(0, this.freeCount));
    let n = this.freeCount;
    for (let i = cap - 1; i >= old; i--) free[n++] = i;
    this.freeSlots = free;
    this.freeCount = n;
    for (let i = old; i < cap; i++) {
      this.fns.push(undefined);
      this.args.push(undefined);
    }
  }

  private assertCanRun(what: string): void {
    switch (this.status) {
      case 'running':
        throw new SimulationStateError(`${what}: the simulation is already running (at ${this.clock} ns); it cannot be re-entered from a callback`);
      case 'finished':
        throw new SimulationStateError(`${what}: the simulation finished at ${this.clock} ns; create a new Simulation to run again`);
      case 'failed':
        throw new SimulationStateError(`${what}: the simulation failed at ${this.clock} ns (a callback threw); its state is not trustworthy`);
      default:
    }
  }
}
