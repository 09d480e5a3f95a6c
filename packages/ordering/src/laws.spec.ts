import fc from 'fast-check';
import type { LitmusTest, Prop, Stmt } from './ast';
import { checkLitmus } from './check';
import { sampleLitmus } from './explore';
import { formatValue, type RtValue } from './events';

// Laws of the model over random small programs (2-3 threads, marked accesses and fences on
// two locations). Seeds: the project's (jest-setup); a failure prints its seed and path.
const P = { line: 1, col: 1 };
type Op = { k: 'W'; loc: 'x' | 'y'; v: number; mode: 'once' | 'release' } | { k: 'R'; loc: 'x' | 'y'; mode: 'once' | 'acquire' } | { k: 'F'; fence: 'mb' | 'wmb' | 'rmb' };
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('W' as const), loc: fc.constantFrom('x' as const, 'y' as const), v: fc.integer({ min: 1, max: 2 }), mode: fc.constantFrom('once' as const, 'release' as const) }),
  fc.record({ k: fc.constant('R' as const), loc: fc.constantFrom('x' as const, 'y' as const), mode: fc.constantFrom('once' as const, 'acquire' as const) }),
  fc.record({ k: fc.constant('F' as const), fence: fc.constantFrom('mb' as const, 'wmb' as const, 'rmb' as const) }),
);
const program = fc.array(fc.array(op, { minLength: 1, maxLength: 3 }), { minLength: 2, maxLength: 3 });

function toTest(threads: Op[][], fenceEverywhere = false): LitmusTest {
  return {
    name: 'random',
    init: new Map([['x', 0], ['y', 0]]),
    threads: threads.map((ops, index) => {
      const body: Stmt[] = [];
      const registers: string[] = [];
      ops.forEach((o, i) => {
        if (fenceEverywhere && i > 0) body.push({ kind: 'fence', fence: 'mb', pos: P });
        if (o.k === 'W') body.push({ kind: 'write', mode: o.mode, loc: { kind: 'shared', name: o.loc }, value: { kind: 'const', value: o.v }, pos: P });
        else if (o.k === 'R') {
          registers.push(`r${i}`);
          body.push({ kind: 'read', mode: o.mode, reg: `r${i}`, loc: { kind: 'shared', name: o.loc }, pos: P });
        } else if (!fenceEverywhere) body.push({ kind: 'fence', fence: o.fence, pos: P });
      });
      return { index, params: ['x', 'y'], registers, body, pos: P };
    }),
    locations: [
      ...threads.flatMap((ops, t) => ops.flatMap((o, i) => (o.k === 'R' ? [{ kind: 'reg' as const, thread: t, name: `r${i}` }] : []))),
      { kind: 'shared', name: 'x' },
      { kind: 'shared', name: 'y' },
    ],
    condition: { quantifier: 'exists', prop: { kind: 'true' } as Prop, pos: P },
    file: 'random.litmus',
  };
}

/** Final states under sequential consistency: every interleaving, run on one memory. */
function scStates(t: LitmusTest): Set<string> {
  const out = new Set<string>();
  const threads = t.threads.map((th) => th.body.filter((s) => s.kind !== 'fence'));
  const walk = (pcs: number[], mem: Map<string, RtValue>, regs: Map<string, RtValue>): void => {
    let moved = false;
    threads.forEach((body, i) => {
      const s = body[pcs[i]!];
      if (s === undefined) return;
      moved = true;
      const m = new Map(mem);
      const r = new Map(regs);
      if (s.kind === 'write' && s.loc.kind === 'shared' && s.value.kind === 'const') m.set(s.loc.name, s.value.value);
      if (s.kind === 'read' && s.loc.kind === 'shared') r.set(`${i}:${s.reg}`, m.get(s.loc.name)!);
      walk(pcs.map((p, j) => (j === i ? p + 1 : p)), m, r);
    });
    if (!moved) out.add(t.locations.map((l) => formatValue(l.kind === 'reg' ? regs.get(`${l.thread}:${l.name}`) ?? 0 : mem.get(l.name)!)).join(' '));
  };
  walk(threads.map(() => 0), new Map([['x', 0], ['y', 0]]), new Map());
  return out;
}

const lkmmStates = (t: LitmusTest): Set<string> => new Set(checkLitmus(t).states.map((s) => s.values.map(formatValue).join(' ')));

describe('laws of the LKMM checker', () => {
  it('the LKMM is weaker than SC: every sequentially consistent outcome is allowed', () => {
    fc.assert(
      fc.property(program, (threads) => {
        const t = toTest(threads);
        const lkmm = lkmmStates(t);
        for (const s of scStates(t)) expect(lkmm).toContain(s);
      }),
    );
  });

  it('smp_mb between every two accesses restores SC: the allowed outcomes are exactly the SC ones', () => {
    fc.assert(
      fc.property(program, (threads) => {
        const t = toTest(threads, true);
        expect([...lkmmStates(t)].sort()).toEqual([...scStates(t)].sort());
      }),
    );
  });

  it('deterministic: the same test gives the same result', () => {
    fc.assert(
      fc.property(program, (threads) => {
        const a = checkLitmus(toTest(threads));
        const b = checkLitmus(toTest(threads));
        expect({ s: a.states, p: a.positive, n: a.negative, st: a.stats }).toEqual({ s: b.states, p: b.positive, n: b.negative, st: b.stats });
      }),
    );
  });

  it('the random explorer only finds what enumeration allows, and finds it when it is allowed', () => {
    fc.assert(
      fc.property(program, fc.nat(), (threads, pick) => {
        const base = toTest(threads);
        const all = checkLitmus(base);
        // Ask for one allowed final state (so a witness exists), or for a state that is not allowed.
        const target = all.states[pick % all.states.length]!;
        const prop: Prop = { kind: 'and', operands: base.locations.map((loc, i) => ({ kind: 'eq', loc, value: target.values[i] as number })) };
        const t = { ...base, condition: { ...base.condition, prop } };
        const s = sampleLitmus(t, { samples: 300, seed: 7 });
        if (s.witness !== undefined) expect(s.witness.state).toEqual(target.values);
        expect(checkLitmus(t).positive).toBeGreaterThan(0);
      }),
      { numRuns: 30 },
    );
  });
});
