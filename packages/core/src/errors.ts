/**
 * Typed errors raised by the kernel. Every message names the offending value so a
 * mistake in a model or a scenario can be traced without a debugger.
 */
export class KernelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A time, delay or bound that is not a finite, non-negative integer number of nanoseconds. */
export class InvalidTimeError extends KernelError {
  constructor(
    readonly field: string,
    readonly value: unknown,
    expected = 'a non-negative integer number of nanoseconds',
  ) {
    super(`${field}: expected ${expected}, got ${describe(value)}`);
  }
}

/** An absolute time earlier than the simulation clock. */
export class TimeInPastError extends KernelError {
  constructor(
    readonly field: string,
    readonly value: number,
    readonly now: number,
  ) {
    super(`${field}: time ${value} ns is in the past (the clock is at ${now} ns)`);
  }
}

/** Running, stepping or scheduling on a simulation whose state forbids it. */
export class SimulationStateError extends KernelError {}

/** Cancelling an event that is not pending: already fired, already cancelled, or never issued. */
export class StaleHandleError extends KernelError {
  constructor(readonly handle: number) {
    super(`event handle ${describe(handle)} is not pending (already fired, already cancelled, or not from this simulation)`);
  }
}

/** A distribution or helper given a parameter outside its domain. */
export class InvalidParameterError extends KernelError {
  constructor(
    readonly field: string,
    readonly value: unknown,
    readonly expected: string,
  ) {
    super(`${field}: expected ${expected}, got ${describe(value)}`);
  }
}

/** Renders a user-supplied value for an error message: strings quoted, numbers as written. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === undefined || value === null || typeof value === 'boolean') return String(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  return `an object (${Object.prototype.toString.call(value).slice(8, -1)})`;
}
