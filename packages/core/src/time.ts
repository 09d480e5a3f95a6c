import { InvalidParameterError } from './errors';

/**
 * Simulated time is an integer count of nanoseconds held in a JS number, exact up to
 * 2^53 - 1 ns (about 104 days of simulated time). Integers keep event order exact:
 * two costs that add up to the same instant compare equal, which floating seconds do not.
 */
export type Nanoseconds = number;

/** One nanosecond: the model's unit of time. */
export const NANOSECOND: Nanoseconds = 1;
/** One microsecond, in ns. */
export const MICROSECOND: Nanoseconds = 1_000;
/** One millisecond, in ns. */
export const MILLISECOND: Nanoseconds = 1_000_000;
/** One second, in ns. */
export const SECOND: Nanoseconds = 1_000_000_000;

/** The largest representable simulated time. */
export const MAX_TIME: Nanoseconds = Number.MAX_SAFE_INTEGER;

function toNs(field: string, value: number, scale: number): Nanoseconds {
  if (!Number.isFinite(value)) {
    throw new InvalidParameterError(field, value, 'a finite number');
  }
  const t = Math.round(value * scale);
  if (!Number.isSafeInteger(t)) {
    throw new InvalidParameterError(field, value, `a value below ${MAX_TIME / scale}`);
  }
  return t;
}

/** Whole nanoseconds from a (possibly fractional) nanosecond figure, rounded to nearest. */
export function ns(value: number): Nanoseconds {
  return toNs('ns', value, 1);
}

/** Microseconds to integer nanoseconds, rounded to nearest. */
export function us(value: number): Nanoseconds {
  return toNs('us', value, MICROSECOND);
}

/** Milliseconds to integer nanoseconds, rounded to nearest. */
export function ms(value: number): Nanoseconds {
  return toNs('ms', value, MILLISECOND);
}

/** Seconds to integer nanoseconds, rounded to nearest. */
export function seconds(value: number): Nanoseconds {
  return toNs('seconds', value, SECOND);
}

/** A time in ns as (fractional) microseconds, for output. */
export function toMicroseconds(t: Nanoseconds): number {
  return t / MICROSECOND;
}

/** A time in ns as (fractional) milliseconds, for output. */
export function toMilliseconds(t: Nanoseconds): number {
  return t / MILLISECOND;
}

/** A time in ns as (fractional) seconds, for output. */
export function toSeconds(t: Nanoseconds): number {
  return t / SECOND;
}

function checkGhz(ghz: number): void {
  if (!(Number.isFinite(ghz) && ghz > 0)) {
    throw new InvalidParameterError('ghz', ghz, 'a positive, finite clock rate in GHz');
  }
}

/**
 * Cycles at a clock rate to integer nanoseconds, rounded to nearest. Published per-operation
 * costs are mostly in cycles (kvm-unit-tests, LKML patch notes); the model runs in ns.
 */
export function cyclesToNs(cycles: number, ghz: number): Nanoseconds {
  checkGhz(ghz);
  if (!(Number.isFinite(cycles) && cycles >= 0)) {
    throw new InvalidParameterError('cycles', cycles, 'a non-negative, finite cycle count');
  }
  return Math.round(cycles / ghz);
}

/** Nanoseconds to (fractional) cycles at a clock rate. */
export function nsToCycles(t: Nanoseconds, ghz: number): number {
  checkGhz(ghz);
  return t * ghz;
}

/** A human-readable rendering that keeps three significant decimals in the best unit. */
export function formatTime(t: Nanoseconds): string {
  const a = Math.abs(t);
  if (a >= SECOND) return `${(t / SECOND).toFixed(3)} s`;
  if (a >= MILLISECOND) return `${(t / MILLISECOND).toFixed(3)} ms`;
  if (a >= MICROSECOND) return `${(t / MICROSECOND).toFixed(3)} us`;
  return `${t} ns`;
}
