import type { FenceKind, SourcePos } from './ast';

/**
 * A runtime value: an integer, or the address of a shared location, written `&x` here (herd7
 * prints it as `x` in states; see `formatValue`).
 */
export type RtValue = number | `&${string}`;

/** A value as herd7 prints it: an integer, or a location's name for an address. */
export function formatValue(v: RtValue): string {
  return typeof v === 'number' ? String(v) : v.slice(1);
}

/** Access modes of linux-kernel.bell (`'once`, `'acquire`, `'release`); init writes are `init`. */
export type AccessMode = 'once' | 'acquire' | 'release' | 'init';

/** One event of a thread's path, before it is placed in a candidate execution. */
export interface PathEvent {
  readonly kind: 'R' | 'W' | 'F';
  /** R/W: the location; F: undefined. */
  readonly loc: string | undefined;
  /** W: the value written; R: the value read (the path guessed it; rf must agree). */
  readonly value: RtValue;
  readonly mode: AccessMode;
  readonly fence: FenceKind | undefined;
  /** Part of a read-modify-write: its R and W carry the same id (unique within the path). */
  readonly rmw: number | undefined;
  /** The R of a non-value-returning RMW (atomic_inc ...): `Noreturn`, which smp_rmb does not order. */
  readonly noreturn: boolean;
  /** Indices (in this path) of the reads this event's address, data and control depend on. */
  readonly addr: readonly number[];
  readonly data: readonly number[];
  readonly ctrl: readonly number[];
  /** ipilab: the IPI line's send (W) or a handler's entry (R). */
  readonly ipi: 'send' | 'entry' | undefined;
  /** ipilab: the page walker's read of a PTE (tlb_fill, or tlb_read on a miss). */
  readonly walk: boolean;
  /** What the source says, for traces: `WRITE_ONCE(*x, 1)`, `IPI_P1 entry`, ... */
  readonly text: string;
  readonly pos: SourcePos | undefined;
  /** Whether it belongs to the thread's IPI handler. */
  readonly inHandler: boolean;
}

/** One way a thread can run: its events in program order and its final registers. */
export interface ThreadPath {
  readonly thread: number;
  readonly events: readonly PathEvent[];
  readonly registers: ReadonlyMap<string, RtValue>;
  /** How many handler runs it contains (one per send_ipi to this thread in the candidate). */
  readonly handlerRuns: number;
  /** How many IPIs it sends to each thread (index -> count). */
  readonly sends: ReadonlyMap<number, number>;
}

/** The pseudo-location of thread n's interrupt line (ipilab's send_ipi / IPI_Pn). */
export function ipiLine(thread: number): string {
  return `ipi:P${thread}`;
}

export function isIpiLine(loc: string): boolean {
  return loc.startsWith('ipi:');
}
