/**
 * A litmus test as parsed from the C litmus format of the kernel's
 * `tools/memory-model/litmus-tests/` directory (see docs/ordering.md), plus ipilab's IPI and
 * TLB extensions. The parser produces it; the model (`model.ts`) enumerates its executions.
 *
 * Names: shared locations are the names the test declares (in the initial state or as
 * `Pn(int *x, ...)` parameters); registers are per-thread locals (`int r0;`).
 */

/** 1-based position in the source, for messages `file:line:col`. */
export interface SourcePos {
  readonly line: number;
  readonly col: number;
}

/** A value: an integer, or the address of a shared location (`&x`, or a pointer parameter used as a value). */
export type Value = number | { readonly loc: string };

/** The C operators an expression may use, with C's precedence. */
export type BinaryOp = '+' | '-' | '*' | '&' | '|' | '^' | '==' | '!=' | '<' | '>' | '<=' | '>=' | '&&' | '||';

/** Expressions over constants and the thread's registers (reads are statements, not expressions). */
export type Expr =
  | { readonly kind: 'const'; readonly value: number }
  /** The address of a shared location: `&x`, or `x` where `x` is a pointer parameter used as a value. */
  | { readonly kind: 'addr'; readonly loc: string }
  | { readonly kind: 'reg'; readonly name: string }
  | { readonly kind: 'binary'; readonly op: BinaryOp; readonly left: Expr; readonly right: Expr }
  | { readonly kind: 'not'; readonly operand: Expr }
  | { readonly kind: 'neg'; readonly operand: Expr };

/**
 * Which location an access touches: a shared location by name (`*x`, `x` a parameter), or the
 * location whose address a register holds (`*r0`: an address dependency on the read that set r0).
 */
export type LocExpr = { readonly kind: 'shared'; readonly name: string } | { readonly kind: 'deref'; readonly reg: string };

/** Fences, named as in linux-kernel.bell's `Barriers` (smp_mb, smp_wmb, smp_rmb, ...). */
export type FenceKind = 'mb' | 'wmb' | 'rmb' | 'before-atomic' | 'after-atomic';

/**
 * Read-modify-writes of linux-kernel.def: `xchg*`, `cmpxchg*`, `atomic_*_return*`, `atomic_fetch_*`
 * (value-returning: `reg` set) and `atomic_add/sub/inc/dec` (no return value: `reg` undefined, the
 * read is `Noreturn`). `order` is the annotation in braces in the .def file: `mb` (full ordering:
 * the model puts an smp_mb before and after, as herd7's C front end does), `once` (relaxed),
 * `acquire` or `release`.
 */
export interface RmwStmt {
  readonly kind: 'rmw';
  readonly op: 'xchg' | 'cmpxchg' | 'add' | 'sub';
  readonly order: 'mb' | 'once' | 'acquire' | 'release';
  /** true for atomic_fetch_* and xchg/cmpxchg (register gets the old value); false for *_return (gets the new value). */
  readonly returnsOld: boolean;
  readonly reg: string | undefined;
  readonly loc: LocExpr;
  /** xchg: the new value; add/sub: the operand; cmpxchg: the expected value. */
  readonly operand: Expr;
  /** cmpxchg only: the value written when the old value equals `operand`. */
  readonly newValue?: Expr;
  readonly pos: SourcePos;
}

/** One statement of a thread's or handler's body. */
export type Stmt =
  /** `WRITE_ONCE(*x, v)` (once), `smp_store_release(x, v)` (release), `atomic_set(x, v)`, `rcu_assign_pointer(*x, v)` (release). */
  | { readonly kind: 'write'; readonly mode: 'once' | 'release'; readonly loc: LocExpr; readonly value: Expr; readonly pos: SourcePos }
  /** `r0 = READ_ONCE(*x)` (once), `r0 = smp_load_acquire(x)` (acquire), `atomic_read(x)`, `rcu_dereference(*x)` (once). */
  | { readonly kind: 'read'; readonly mode: 'once' | 'acquire'; readonly reg: string; readonly loc: LocExpr; readonly pos: SourcePos }
  /** `r1 = r0 + 1;` and `int r1 = ...;` — a register assignment (no memory event). */
  | { readonly kind: 'assign'; readonly reg: string; readonly value: Expr; readonly pos: SourcePos }
  | { readonly kind: 'fence'; readonly fence: FenceKind; readonly pos: SourcePos }
  | RmwStmt
  /** `if (cond) { ... } else { ... }`: a control dependency from the reads `cond` depends on to every later event. */
  | { readonly kind: 'if'; readonly cond: Expr; readonly then: readonly Stmt[]; readonly else: readonly Stmt[]; readonly pos: SourcePos }
  /** ipilab: `send_ipi(P1)` — raise an IPI to thread 1, whose `IPI_P1 { ... }` handler then runs on it. */
  | { readonly kind: 'send_ipi'; readonly target: number; readonly pos: SourcePos }
  /** ipilab: `tlb_fill(x)` — the page walker reads x (the PTE) into this CPU's TLB entry for x. */
  | { readonly kind: 'tlb_fill'; readonly loc: LocExpr; readonly pos: SourcePos }
  /**
   * ipilab: `tlb_read(x, r0)` — a translation through this CPU's TLB: on a hit r0 gets the value
   * the entry was filled with (no memory event); on a miss (never filled, or invalidated since)
   * the page walker reads x, fills the entry, and r0 gets that value.
   */
  | { readonly kind: 'tlb_read'; readonly loc: LocExpr; readonly reg: string; readonly pos: SourcePos }
  /** ipilab: `tlb_invalidate(x)` — drop this CPU's TLB entry for x (invlpg / TLBI). */
  | { readonly kind: 'tlb_invalidate'; readonly loc: LocExpr; readonly pos: SourcePos };

/** One thread `Pn(...) { ... }` of a test, with its IPI handler if it has one. */
export interface Thread {
  /** The n of `Pn`. */
  readonly index: number;
  /** Pointer parameters (`int *x`): shared locations this thread may touch by name. */
  readonly params: readonly string[];
  /** Registers the thread declares (`int r0;`, `int *r1;`), in declaration order. */
  readonly registers: readonly string[];
  readonly body: readonly Stmt[];
  readonly pos: SourcePos;
  /**
   * ipilab: the body of `IPI_Pn { ... }` (or `IPI_Pn(int *x, ...) { ... }`), run on thread n once
   * per `send_ipi(Pn)`, between any two of its events; undefined when the test has none. Registers
   * the handler declares belong to thread n (`n:r1` in conditions) and must not clash with the body's.
   */
  readonly ipiHandler?: { readonly registers: readonly string[]; readonly body: readonly Stmt[]; readonly pos: SourcePos };
}

/** `0:r0=1` (register of thread 0) or `x=1` (final value of a shared location). */
export type StateLoc = { readonly kind: 'reg'; readonly thread: number; readonly name: string } | { readonly kind: 'shared'; readonly name: string };

/** The proposition of a condition: atoms `0:r0=1` / `x=1` under `~`, `/\\` and `\\/`. */
export type Prop =
  | { readonly kind: 'true' }
  | { readonly kind: 'false' }
  | { readonly kind: 'eq'; readonly loc: StateLoc; readonly value: Value }
  | { readonly kind: 'not'; readonly operand: Prop }
  | { readonly kind: 'and'; readonly operands: readonly Prop[] }
  | { readonly kind: 'or'; readonly operands: readonly Prop[] };

/** herd7's constraint kinds: exists -> Allowed, ~exists -> Forbidden, forall -> Required. */
export type Quantifier = 'exists' | 'not-exists' | 'forall';

/** The test's final condition: its quantifier, its proposition and where it is written. */
export interface Condition {
  readonly quantifier: Quantifier;
  readonly prop: Prop;
  readonly pos: SourcePos;
}

/** A whole parsed litmus test, as `parseLitmus` returns it and `checkLitmus` takes it. */
export interface LitmusTest {
  /** The name after `C`. */
  readonly name: string;
  /** The `(* ... *)` comment after the name, if any, without the delimiters. */
  readonly comment?: string;
  /** The `Result: Never|Sometimes|Always` line of the comment, as the kernel's tests carry it; undefined when absent. */
  readonly expected?: 'Never' | 'Sometimes' | 'Always';
  /** Initial values: every shared location named anywhere in the test, 0 unless the init block says otherwise. */
  readonly init: ReadonlyMap<string, Value>;
  /** Threads P0..Pn in index order (indices contiguous from 0). */
  readonly threads: readonly Thread[];
  /** Extra locations to print in states (`locations [x; 0:r1;]`), in order. */
  readonly locations: readonly StateLoc[];
  readonly condition: Condition;
  /** The file it was read from, for messages. */
  readonly file: string;
}

/** A user's mistake in a litmus file: `file:line:col: message`. */
export class LitmusSyntaxError extends Error {
  constructor(
    readonly file: string,
    readonly pos: SourcePos,
    readonly detail: string,
  ) {
    super(`${file}:${pos.line}:${pos.col}: ${detail}`);
    this.name = 'LitmusSyntaxError';
  }
}
