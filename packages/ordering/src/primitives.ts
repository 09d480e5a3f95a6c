import type { FenceKind, RmwStmt } from './ast';

/**
 * The kernel primitives the parser knows, after tools/memory-model/linux-kernel.def (which maps
 * each to herd's access kind), plus ipilab's IPI and TLB extensions.
 *
 * Location arguments come in three shapes, as in linux-kernel.def: `deref` takes the pointed-to
 * location (`READ_ONCE(*x)`), `ptr` takes the pointer (`smp_load_acquire(x)`, the `atomic_*` and
 * `xchg` families), `tlb` takes a location by name or a register's target (`tlb_fill(x)`,
 * `tlb_fill(*r0)`).
 */
export type LocForm = 'deref' | 'ptr' | 'tlb';

export type Primitive =
  | { readonly kind: 'write'; readonly mode: 'once' | 'release'; readonly form: LocForm; readonly thenMb: boolean; readonly usage: string }
  | { readonly kind: 'read'; readonly mode: 'once' | 'acquire'; readonly form: LocForm; readonly usage: string }
  | { readonly kind: 'fence'; readonly fence: FenceKind; readonly usage: string }
  | {
      readonly kind: 'rmw';
      readonly op: RmwStmt['op'];
      readonly order: RmwStmt['order'];
      readonly returnsOld: boolean;
      /** atomic_add/sub/inc/dec: no value, the read is Noreturn. */
      readonly noReturn: boolean;
      /** Argument order in linux-kernel.def: X the location, V the operand, W cmpxchg's new value. */
      readonly args: 'XV' | 'VX' | 'X' | 'XVW';
      /** atomic_inc/dec: the operand is 1. */
      readonly constOperand?: number;
      /** atomic_*_and_test / atomic_add_negative: the register gets this comparison of the new value. */
      readonly test?: '==' | '<';
      readonly usage: string;
    }
  | { readonly kind: 'send_ipi'; readonly usage: string }
  | { readonly kind: 'tlb_fill' | 'tlb_invalidate'; readonly usage: string }
  | { readonly kind: 'tlb_read'; readonly usage: string }
  /** barrier(): a compiler barrier, which the LKMM uses only to bound plain accesses; ipilab has none. */
  | { readonly kind: 'noop'; readonly usage: string }
  /** Locks, RCU and SRCU primitives: recognised so the message can say they are not modelled. */
  | { readonly kind: 'unsupported' };

const table = new Map<string, Primitive>();

table.set('WRITE_ONCE', { kind: 'write', mode: 'once', form: 'deref', thenMb: false, usage: 'WRITE_ONCE(*x, v)' });
table.set('smp_store_release', { kind: 'write', mode: 'release', form: 'ptr', thenMb: false, usage: 'smp_store_release(x, v)' });
table.set('rcu_assign_pointer', { kind: 'write', mode: 'release', form: 'deref', thenMb: false, usage: 'rcu_assign_pointer(*x, v)' });
table.set('smp_store_mb', { kind: 'write', mode: 'once', form: 'deref', thenMb: true, usage: 'smp_store_mb(*x, v)' });
table.set('atomic_set', { kind: 'write', mode: 'once', form: 'ptr', thenMb: false, usage: 'atomic_set(x, v)' });
table.set('atomic_set_release', { kind: 'write', mode: 'release', form: 'ptr', thenMb: false, usage: 'atomic_set_release(x, v)' });

table.set('READ_ONCE', { kind: 'read', mode: 'once', form: 'deref', usage: 'r = READ_ONCE(*x)' });
table.set('smp_load_acquire', { kind: 'read', mode: 'acquire', form: 'ptr', usage: 'r = smp_load_acquire(x)' });
table.set('rcu_dereference', { kind: 'read', mode: 'once', form: 'deref', usage: 'r = rcu_dereference(*x)' });
table.set('atomic_read', { kind: 'read', mode: 'once', form: 'ptr', usage: 'r = atomic_read(x)' });
table.set('atomic_read_acquire', { kind: 'read', mode: 'acquire', form: 'ptr', usage: 'r = atomic_read_acquire(x)' });

table.set('smp_mb', { kind: 'fence', fence: 'mb', usage: 'smp_mb()' });
table.set('smp_wmb', { kind: 'fence', fence: 'wmb', usage: 'smp_wmb()' });
table.set('smp_rmb', { kind: 'fence', fence: 'rmb', usage: 'smp_rmb()' });
table.set('smp_mb__before_atomic', { kind: 'fence', fence: 'before-atomic', usage: 'smp_mb__before_atomic()' });
table.set('smp_mb__after_atomic', { kind: 'fence', fence: 'after-atomic', usage: 'smp_mb__after_atomic()' });
table.set('barrier', { kind: 'noop', usage: 'barrier()' });

const ORDERS: ReadonlyArray<readonly [string, RmwStmt['order']]> = [
  ['', 'mb'],
  ['_relaxed', 'once'],
  ['_acquire', 'acquire'],
  ['_release', 'release'],
];
for (const [suffix, order] of ORDERS) {
  for (const prefix of ['', 'atomic_']) {
    table.set(`${prefix}xchg${suffix}`, { kind: 'rmw', op: 'xchg', order, returnsOld: true, noReturn: false, args: 'XV', usage: `r = ${prefix}xchg${suffix}(x, v)` });
    table.set(`${prefix}cmpxchg${suffix}`, {
      kind: 'rmw',
      op: 'cmpxchg',
      order,
      returnsOld: true,
      noReturn: false,
      args: 'XVW',
      usage: `r = ${prefix}cmpxchg${suffix}(x, old, new)`,
    });
  }
  for (const [name, op, constOperand] of [
    ['add', 'add', undefined],
    ['sub', 'sub', undefined],
    ['inc', 'add', 1],
    ['dec', 'sub', 1],
  ] as const) {
    const args = constOperand === undefined ? 'VX' : 'X';
    const argText = constOperand === undefined ? 'v, x' : 'x';
    const common = { kind: 'rmw', op, order, noReturn: false, args, ...(constOperand === undefined ? {} : { constOperand }) } as const;
    table.set(`atomic_${name}_return${suffix}`, { ...common, returnsOld: false, usage: `r = atomic_${name}_return${suffix}(${argText})` });
    table.set(`atomic_fetch_${name}${suffix}`, { ...common, returnsOld: true, usage: `r = atomic_fetch_${name}${suffix}(${argText})` });
  }
}
for (const [name, op, constOperand] of [
  ['add', 'add', undefined],
  ['sub', 'sub', undefined],
  ['inc', 'add', 1],
  ['dec', 'sub', 1],
] as const) {
  table.set(`atomic_${name}`, {
    kind: 'rmw',
    op,
    order: 'once',
    returnsOld: false,
    noReturn: true,
    args: constOperand === undefined ? 'VX' : 'X',
    ...(constOperand === undefined ? {} : { constOperand }),
    usage: `atomic_${name}(${constOperand === undefined ? 'v, x' : 'x'})`,
  });
}
table.set('atomic_sub_and_test', { kind: 'rmw', op: 'sub', order: 'mb', returnsOld: false, noReturn: false, args: 'VX', test: '==', usage: 'r = atomic_sub_and_test(v, x)' });
table.set('atomic_dec_and_test', { kind: 'rmw', op: 'sub', order: 'mb', returnsOld: false, noReturn: false, args: 'X', constOperand: 1, test: '==', usage: 'r = atomic_dec_and_test(x)' });
table.set('atomic_inc_and_test', { kind: 'rmw', op: 'add', order: 'mb', returnsOld: false, noReturn: false, args: 'X', constOperand: 1, test: '==', usage: 'r = atomic_inc_and_test(x)' });
table.set('atomic_add_negative', { kind: 'rmw', op: 'add', order: 'mb', returnsOld: false, noReturn: false, args: 'VX', test: '<', usage: 'r = atomic_add_negative(v, x)' });

table.set('send_ipi', { kind: 'send_ipi', usage: 'send_ipi(P1)' });
table.set('tlb_fill', { kind: 'tlb_fill', usage: 'tlb_fill(x)' });
table.set('tlb_invalidate', { kind: 'tlb_invalidate', usage: 'tlb_invalidate(x)' });
table.set('tlb_read', { kind: 'tlb_read', usage: 'tlb_read(x, r)' });

/** In linux-kernel.def but outside ipilab's subset (see docs/ordering.md). */
const UNSUPPORTED = [
  'spin_lock',
  'spin_unlock',
  'spin_trylock',
  'spin_is_locked',
  'smp_mb__after_spinlock',
  'smp_mb__after_unlock_lock',
  'rcu_read_lock',
  'rcu_read_unlock',
  'synchronize_rcu',
  'synchronize_rcu_expedited',
  'srcu_read_lock',
  'srcu_read_unlock',
  'synchronize_srcu',
  'synchronize_srcu_expedited',
  'smp_mb__after_srcu_read_unlock',
];
const unsupported = new Map<string, Primitive>(UNSUPPORTED.map((n) => [n, { kind: 'unsupported' }]));

export function lookupPrimitive(name: string): Primitive | undefined {
  return table.get(name) ?? unsupported.get(name);
}

/** The closest supported primitive to a misspelt name, if one is close enough to be the likely intent. */
export function suggestPrimitive(name: string): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDist = Infinity;
  for (const candidate of table.keys()) {
    const d = editDistance(lower, candidate.toLowerCase());
    if (d < bestDist) {
      bestDist = d;
      best = candidate;
    }
  }
  const limit = name.length >= 6 ? 2 : 1;
  return bestDist <= limit ? best : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent transpositions. */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return Infinity;
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row: number[] = [];
    for (let j = 0; j <= b.length; j++) {
      if (i === 0 || j === 0) {
        row.push(i + j);
        continue;
      }
      const prev = rows[i - 1] as number[];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, ((rows[i - 2] as number[])[j - 2] as number) + 1);
      row.push(d);
    }
    rows.push(row);
  }
  return (rows[a.length] as number[])[b.length] as number;
}
