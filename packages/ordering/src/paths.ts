import type { Expr, LitmusTest, LocExpr, RmwStmt, Stmt, Thread } from './ast';
import { ipiLine, type PathEvent, type RtValue, type ThreadPath } from './events';

/**
 * A thread's paths: each way its code can run given the values its reads return. herd7 does
 * the same for C litmus tests: a read may return any value some write could store (the
 * "value domain"), and the candidate executions later keep only reads-from that agree.
 * Dependencies are tracked as in herd7's C front end: a register carries the reads its value
 * came from (addr and data), and a branch on such a register puts those reads in `ctrl` of
 * every event of its then- and else-clauses.
 */

/** A limit on what a test may make the checker do; reported to the user, not an internal error. */
export class LitmusLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LitmusLimitError';
  }
}

/** A runtime fault of the test itself (pointer arithmetic, dereferencing an integer): the user's to fix. */
export class LitmusRuntimeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LitmusRuntimeError';
  }
}

interface Tagged {
  readonly v: RtValue;
  readonly deps: readonly number[];
}

type Frame =
  | { readonly stmts: readonly Stmt[]; readonly i: number; readonly handler: boolean }
  | { readonly endHandler: true; readonly ctrl: readonly number[] }
  | { readonly endIf: true; readonly ctrl: readonly number[] };
type Cont = { readonly frame: Frame; readonly next: Cont } | null;

interface State {
  readonly regs: Map<string, Tagged>;
  readonly tlb: Map<string, Tagged>;
  ctrl: readonly number[];
  readonly events: PathEvent[];
  handlerRuns: number;
  inHandler: boolean;
  readonly sends: Map<number, number>;
}

function cloneState(s: State): State {
  return { regs: new Map(s.regs), tlb: new Map(s.tlb), ctrl: s.ctrl, events: s.events.slice(), handlerRuns: s.handlerRuns, inHandler: s.inHandler, sends: new Map(s.sends) };
}

function mergeDeps(a: readonly number[], b: readonly number[]): readonly number[] {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const out = new Set([...a, ...b]);
  return [...out].sort((x, y) => x - y);
}

function truthy(v: RtValue): boolean {
  return typeof v === 'number' ? v !== 0 : true;
}

function arith(op: string, a: RtValue, b: RtValue): RtValue {
  if (op === '==') return a === b ? 1 : 0;
  if (op === '!=') return a !== b ? 1 : 0;
  if (op === '&&') return truthy(a) && truthy(b) ? 1 : 0;
  if (op === '||') return truthy(a) || truthy(b) ? 1 : 0;
  if (typeof a !== 'number' || typeof b !== 'number') throw new LitmusRuntimeError(`pointer arithmetic (\`${op}\` on an address) is not modelled`);
  switch (op) {
    case '+':
      return (a + b) | 0;
    case '-':
      return (a - b) | 0;
    case '*':
      return Math.imul(a, b);
    case '&':
      return a & b;
    case '|':
      return a | b;
    case '^':
      return a ^ b;
    case '<':
      return a < b ? 1 : 0;
    case '>':
      return a > b ? 1 : 0;
    case '<=':
      return a <= b ? 1 : 0;
    case '>=':
      return a >= b ? 1 : 0;
    default:
      throw new LitmusRuntimeError(`unknown operator ${op}`);
  }
}

function evaluate(e: Expr, regs: Map<string, Tagged>): Tagged {
  switch (e.kind) {
    case 'const':
      return { v: e.value, deps: [] };
    case 'addr':
      return { v: `&${e.loc}`, deps: [] };
    case 'reg':
      return regs.get(e.name) ?? { v: 0, deps: [] };
    case 'not': {
      const o = evaluate(e.operand, regs);
      return { v: truthy(o.v) ? 0 : 1, deps: o.deps };
    }
    case 'neg': {
      const o = evaluate(e.operand, regs);
      if (typeof o.v !== 'number') throw new LitmusRuntimeError('pointer arithmetic (negating an address) is not modelled');
      return { v: -o.v | 0, deps: o.deps };
    }
    case 'binary': {
      const l = evaluate(e.left, regs);
      const r = evaluate(e.right, regs);
      return { v: arith(e.op, l.v, r.v), deps: mergeDeps(l.deps, r.deps) };
    }
  }
}

function show(e: Expr): string {
  switch (e.kind) {
    case 'const':
      return String(e.value);
    case 'addr':
      return `&${e.loc}`;
    case 'reg':
      return e.name;
    case 'not':
      return `!${show(e.operand)}`;
    case 'neg':
      return `-${show(e.operand)}`;
    case 'binary':
      return `${show(e.left)} ${e.op} ${show(e.right)}`;
  }
}

function showLoc(l: LocExpr): string {
  return l.kind === 'shared' ? l.name : l.reg;
}

/** Resolve the location an access touches, with the reads its address depends on. */
function resolve(l: LocExpr, regs: Map<string, Tagged>): { loc: string; addr: readonly number[] } {
  if (l.kind === 'shared') return { loc: l.name, addr: [] };
  const t = regs.get(l.reg) ?? { v: 0, deps: [] };
  if (typeof t.v === 'number') throw new LitmusRuntimeError(`*${l.reg} dereferences ${t.v}, not an address`);
  return { loc: t.v.slice(1), addr: t.deps };
}

/** How far path enumeration may go before the test is called too large. */
export interface PathLimits {
  /** Most paths one thread may have. */
  readonly maxPaths: number;
}

/** The default path limit: 200,000 paths per thread. */
export const DEFAULT_PATH_LIMITS: PathLimits = { maxPaths: 200_000 };

/**
 * Every path of `thread` with 0..`maxHandlerRuns` runs of its IPI handler, each run inserted
 * between any two of its statements (or after the last), reads returning each value of
 * `domain` for their location.
 */
export function threadPaths(thread: Thread, domain: ReadonlyMap<string, readonly RtValue[]>, maxHandlerRuns: number, limits: PathLimits = DEFAULT_PATH_LIMITS): ThreadPath[] {
  const out: ThreadPath[] = [];
  const seen = new Set<string>();
  const handler = thread.ipiHandler;
  const allRegs = [...thread.registers, ...(handler?.registers ?? [])];

  const emit = (st: State, ev: Omit<PathEvent, 'ctrl' | 'inHandler'>): number => {
    st.events.push({ ...ev, ctrl: st.ctrl, inHandler: st.inHandler });
    return st.events.length - 1;
  };

  const valuesOf = (loc: string): readonly RtValue[] => {
    const d = domain.get(loc);
    if (d === undefined || d.length === 0) return [0];
    return d;
  };

  const finish = (st: State): void => {
    const regs = new Map<string, RtValue>();
    for (const r of allRegs) regs.set(r, st.regs.get(r)?.v ?? 0);
    const key = JSON.stringify([
      st.events.map((e) => [e.kind, e.loc, e.value, e.mode, e.fence, e.rmw, e.noreturn, e.addr, e.data, e.ctrl, e.ipi, e.walk, e.inHandler]),
      [...regs],
      st.handlerRuns,
      [...st.sends],
    ]);
    if (seen.has(key)) return;
    seen.add(key);
    if (out.length >= limits.maxPaths) throw new LitmusLimitError(`P${thread.index} has more than ${limits.maxPaths} paths (reads x values x handler placements); the test is too large to enumerate: use --sample`);
    out.push({ thread: thread.index, events: st.events, registers: regs, handlerRuns: st.handlerRuns, sends: st.sends });
  };

  const startHandler = (st: State, k: Cont): void => {
    if (handler === undefined) return;
    st.handlerRuns++;
    const saved = st.ctrl;
    st.ctrl = [];
    st.inHandler = true;
    emit(st, { kind: 'R', loc: ipiLine(thread.index), value: 1, mode: 'acquire', fence: undefined, rmw: undefined, noreturn: false, addr: [], data: [], ipi: 'entry', walk: false, text: `IPI_P${thread.index} entry`, pos: handler.pos });
    run(st, { frame: { stmts: handler.body, i: 0, handler: true }, next: { frame: { endHandler: true, ctrl: saved }, next: k } });
  };

  const run = (st: State, k: Cont): void => {
    // An IPI may arrive before any statement of the body or after its last (never inside a
    // handler). Points with no event between them give the same path: `finish` keeps one.
    // The path without the interrupt here comes first, so the first witness found takes its
    // interrupts as late as it can (the clearest trace).
    const other = !st.inHandler && st.handlerRuns < maxHandlerRuns ? cloneState(st) : undefined;
    proceed(st, k);
    if (other !== undefined) startHandler(other, k);
  };

  const proceed = (st: State, k: Cont): void => {
    if (k === null) {
      finish(st);
      return;
    }
    const f = k.frame;
    if ('endHandler' in f) {
      st.ctrl = f.ctrl;
      st.inHandler = false;
      run(st, k.next);
      return;
    }
    if ('endIf' in f) {
      st.ctrl = f.ctrl;
      run(st, k.next);
      return;
    }
    if (f.i >= f.stmts.length) {
      run(st, k.next);
      return;
    }
    step(st, f.stmts[f.i]!, { frame: { stmts: f.stmts, i: f.i + 1, handler: f.handler }, next: k.next });
  };

  const step = (st: State, s: Stmt, rest: Cont): void => {
    switch (s.kind) {
      case 'assign': {
        st.regs.set(s.reg, evaluate(s.value, st.regs));
        run(st, rest);
        return;
      }
      case 'write': {
        const { loc, addr } = resolve(s.loc, st.regs);
        const v = evaluate(s.value, st.regs);
        const text = s.mode === 'release' ? `smp_store_release(${showLoc(s.loc)}, ${show(s.value)})` : `WRITE_ONCE(*${showLoc(s.loc)}, ${show(s.value)})`;
        emit(st, { kind: 'W', loc, value: v.v, mode: s.mode, fence: undefined, rmw: undefined, noreturn: false, addr, data: v.deps, ipi: undefined, walk: false, text, pos: s.pos });
        run(st, rest);
        return;
      }
      case 'read': {
        const { loc, addr } = resolve(s.loc, st.regs);
        const text = s.mode === 'acquire' ? `${s.reg} = smp_load_acquire(${showLoc(s.loc)})` : `${s.reg} = READ_ONCE(*${showLoc(s.loc)})`;
        for (const value of valuesOf(loc)) {
          const b = cloneState(st);
          const idx = emit(b, { kind: 'R', loc, value, mode: s.mode, fence: undefined, rmw: undefined, noreturn: false, addr, data: [], ipi: undefined, walk: false, text, pos: s.pos });
          b.regs.set(s.reg, { v: value, deps: [idx] });
          run(b, rest);
        }
        return;
      }
      case 'fence': {
        const names: Record<string, string> = { mb: 'smp_mb()', wmb: 'smp_wmb()', rmb: 'smp_rmb()', 'before-atomic': 'smp_mb__before_atomic()', 'after-atomic': 'smp_mb__after_atomic()' };
        emit(st, { kind: 'F', loc: undefined, value: 0, mode: 'once', fence: s.fence, rmw: undefined, noreturn: false, addr: [], data: [], ipi: undefined, walk: false, text: names[s.fence] ?? s.fence, pos: s.pos });
        run(st, rest);
        return;
      }
      case 'rmw':
        stepRmw(st, s, rest);
        return;
      case 'if': {
        // A control dependency orders the then- and else-clauses only, not the code after the
        // if (tools/memory-model/Documentation/control-dependencies.txt: "Control dependencies
        // do *not* apply to code beyond the end of that if statement").
        const c = evaluate(s.cond, st.regs);
        const before = st.ctrl;
        st.ctrl = mergeDeps(st.ctrl, c.deps);
        const body = truthy(c.v) ? s.then : s.else;
        run(st, { frame: { stmts: body, i: 0, handler: st.inHandler }, next: { frame: { endIf: true, ctrl: before }, next: rest } });
        return;
      }
      case 'send_ipi': {
        st.sends.set(s.target, (st.sends.get(s.target) ?? 0) + 1);
        emit(st, { kind: 'W', loc: ipiLine(s.target), value: 1, mode: 'once', fence: undefined, rmw: undefined, noreturn: false, addr: [], data: [], ipi: 'send', walk: false, text: `send_ipi(P${s.target})`, pos: s.pos });
        run(st, rest);
        return;
      }
      case 'tlb_invalidate': {
        const { loc } = resolve(s.loc, st.regs);
        st.tlb.delete(loc);
        run(st, rest);
        return;
      }
      case 'tlb_fill':
      case 'tlb_read': {
        const { loc, addr } = resolve(s.loc, st.regs);
        const hit = s.kind === 'tlb_read' ? st.tlb.get(loc) : undefined;
        if (hit !== undefined && s.kind === 'tlb_read') {
          st.regs.set(s.reg, hit);
          run(st, rest);
          return;
        }
        const text = s.kind === 'tlb_fill' ? `tlb_fill(${showLoc(s.loc)}): walk` : `tlb_read(${showLoc(s.loc)}, ${s.reg}): miss, walk`;
        for (const value of valuesOf(loc)) {
          const b = cloneState(st);
          const idx = emit(b, { kind: 'R', loc, value, mode: 'once', fence: undefined, rmw: undefined, noreturn: false, addr, data: [], ipi: undefined, walk: true, text, pos: s.pos });
          const entry = { v: value, deps: [idx] };
          b.tlb.set(loc, entry);
          if (s.kind === 'tlb_read') b.regs.set(s.reg, entry);
          run(b, rest);
        }
        return;
      }
    }
  };

  const stepRmw = (st: State, s: RmwStmt, rest: Cont): void => {
    const { loc, addr } = resolve(s.loc, st.regs);
    const operand = evaluate(s.operand, st.regs);
    const newValue = s.newValue === undefined ? undefined : evaluate(s.newValue, st.regs);
    const name = rmwText(s);
    for (const old of valuesOf(loc)) {
      const b = cloneState(st);
      let written: Tagged | undefined;
      switch (s.op) {
        case 'xchg':
          written = operand;
          break;
        case 'cmpxchg':
          written = old === operand.v ? newValue! : undefined;
          break;
        case 'add':
          written = { v: arith('+', old, operand.v), deps: operand.deps };
          break;
        case 'sub':
          written = { v: arith('-', old, operand.v), deps: operand.deps };
          break;
      }
      const failed = written === undefined;
      // herd7's C front end: an {mb} RMW is bracketed by smp_mb (a failed cmpxchg orders nothing).
      const full = s.order === 'mb' && !failed;
      if (full) emit(b, { kind: 'F', loc: undefined, value: 0, mode: 'once', fence: 'mb', rmw: undefined, noreturn: false, addr: [], data: [], ipi: undefined, walk: false, text: `${name}: implied smp_mb()`, pos: s.pos });
      const id = b.events.length;
      const readMode = !failed && s.order === 'acquire' ? 'acquire' : 'once';
      const r = emit(b, { kind: 'R', loc, value: old, mode: readMode, fence: undefined, rmw: failed ? undefined : id, noreturn: s.reg === undefined, addr, data: [], ipi: undefined, walk: false, text: `${name}: read`, pos: s.pos });
      if (written !== undefined) {
        emit(b, { kind: 'W', loc, value: written.v, mode: s.order === 'release' ? 'release' : 'once', fence: undefined, rmw: id, noreturn: false, addr, data: written.deps, ipi: undefined, walk: false, text: `${name}: write ${typeof written.v === 'number' ? written.v : written.v.slice(1)}`, pos: s.pos });
      }
      if (full) emit(b, { kind: 'F', loc: undefined, value: 0, mode: 'once', fence: 'mb', rmw: undefined, noreturn: false, addr: [], data: [], ipi: undefined, walk: false, text: `${name}: implied smp_mb()`, pos: s.pos });
      if (s.reg !== undefined) {
        const result = s.returnsOld || written === undefined ? old : written.v;
        b.regs.set(s.reg, { v: result, deps: [r] });
      }
      run(b, rest);
    }
  };

  const init: State = { regs: new Map(), tlb: new Map(), ctrl: [], events: [], handlerRuns: 0, inHandler: false, sends: new Map() };
  run(init, { frame: { stmts: thread.body, i: 0, handler: false }, next: null });
  return out;
}

function rmwText(s: RmwStmt): string {
  const suffix = s.order === 'mb' ? '' : s.order === 'once' ? '_relaxed' : `_${s.order}`;
  if (s.op === 'xchg' || s.op === 'cmpxchg') return `${s.op}${suffix}(${showLoc(s.loc)}, ${show(s.operand)}${s.newValue ? `, ${show(s.newValue)}` : ''})`;
  const kind = s.reg === undefined ? `atomic_${s.op}` : s.returnsOld ? `atomic_fetch_${s.op}${suffix}` : `atomic_${s.op}_return${suffix}`;
  return `${kind}(${show(s.operand)}, ${showLoc(s.loc)})`;
}

/**
 * The value domain: for each location, every value some write of some path could store,
 * computed round by round (a read may return any of them; rf later keeps those that agree).
 * In an allowed execution a value comes from a well-founded chain of writes (happens-before
 * is acyclic, so nothing is out of thin air), and a chain holds each write event at most
 * once: after as many rounds as the test has write events, later rounds only add values no
 * allowed execution can read (an atomic_inc reading its own future increments), so the
 * rounds stop there.
 */
export function valueDomain(test: LitmusTest, maxHandlerRuns: ReadonlyMap<number, number>, limits: PathLimits = DEFAULT_PATH_LIMITS): Map<string, RtValue[]> {
  const domain = new Map<string, RtValue[]>();
  for (const [loc, v] of test.init) domain.set(loc, [typeof v === 'number' ? v : `&${v.loc}`]);
  let writeEvents = 0;
  for (const t of test.threads) {
    writeEvents += countWrites(t.body);
    if (t.ipiHandler) writeEvents += countWrites(t.ipiHandler.body) * (maxHandlerRuns.get(t.index) ?? 0);
  }
  for (let round = 0; round <= writeEvents; round++) {
    let grew = false;
    const next = new Map([...domain].map(([k, v]) => [k, v.slice()]));
    for (const t of test.threads) {
      for (const p of threadPaths(t, domain, maxHandlerRuns.get(t.index) ?? 0, limits)) {
        for (const e of p.events) {
          if (e.kind !== 'W' || e.loc === undefined || e.ipi !== undefined) continue;
          let d = next.get(e.loc);
          if (d === undefined) next.set(e.loc, (d = [0]));
          if (!d.includes(e.value)) {
            d.push(e.value);
            grew = true;
            if (d.length > 64) throw new LitmusLimitError(`location ${e.loc} may hold more than 64 values: the test is outside what the checker enumerates`);
          }
        }
      }
    }
    domain.clear();
    for (const [k, v] of next) domain.set(k, v);
    if (!grew) break;
  }
  return domain;
}

/** The write statements of a block, both arms of every if counted (an upper bound). */
function countWrites(stmts: readonly Stmt[]): number {
  let n = 0;
  for (const s of stmts) {
    if (s.kind === 'write' || s.kind === 'rmw') n++;
    else if (s.kind === 'if') n += countWrites(s.then) + countWrites(s.else);
  }
  return n;
}

/** How many IPIs each thread can receive: the send_ipi statements naming it, anywhere. */
export function maxHandlerRuns(test: LitmusTest): Map<number, number> {
  const out = new Map<number, number>();
  const walk = (stmts: readonly Stmt[]): void => {
    for (const s of stmts) {
      if (s.kind === 'send_ipi') out.set(s.target, (out.get(s.target) ?? 0) + 1);
      else if (s.kind === 'if') {
        walk(s.then);
        walk(s.else);
      }
    }
  };
  for (const t of test.threads) {
    walk(t.body);
    if (t.ipiHandler) walk(t.ipiHandler.body);
  }
  return out;
}
