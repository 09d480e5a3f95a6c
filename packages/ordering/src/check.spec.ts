import type { Expr, LitmusTest, Prop, Stmt, Thread } from './ast';
import { checkLitmus } from './check';

// Tests built as ASTs, so the checker is tested apart from the parser.
const P = { line: 1, col: 1 };
const sh = (name: string) => ({ kind: 'shared', name }) as const;
const c = (value: number): Expr => ({ kind: 'const', value });
const reg = (name: string): Expr => ({ kind: 'reg', name });
const W = (loc: string, v: number | Expr, mode: 'once' | 'release' = 'once'): Stmt => ({ kind: 'write', mode, loc: sh(loc), value: typeof v === 'number' ? c(v) : v, pos: P });
const R = (r: string, loc: string, mode: 'once' | 'acquire' = 'once'): Stmt => ({ kind: 'read', mode, reg: r, loc: sh(loc), pos: P });
const F = (fence: 'mb' | 'wmb' | 'rmb'): Stmt => ({ kind: 'fence', fence, pos: P });
const If = (cond: Expr, then: Stmt[]): Stmt => ({ kind: 'if', cond, then, else: [], pos: P });
const eqR = (thread: number, name: string, value: number): Prop => ({ kind: 'eq', loc: { kind: 'reg', thread, name }, value });
const eqX = (name: string, value: number): Prop => ({ kind: 'eq', loc: { kind: 'shared', name }, value });
const and = (...operands: Prop[]): Prop => ({ kind: 'and', operands });

function test(name: string, threads: Stmt[][], prop: Prop, locs: string[] = ['x', 'y']): LitmusTest {
  const ts: Thread[] = threads.map((body, index) => ({ index, params: locs, registers: ['r0', 'r1', 'r2'], body, pos: P }));
  return { name, init: new Map(locs.map((l) => [l, 0])), threads: ts, locations: [], condition: { quantifier: 'exists', prop, pos: P }, file: `${name}.litmus` };
}

describe('LKMM checker on the classic shapes (verdicts: tools/memory-model/litmus-tests/README and the tests\' Result lines)', () => {
  it('SB: Sometimes without fences, Never with smp_mb on both sides', () => {
    const sb = test('SB', [[W('x', 1), R('r0', 'y')], [W('y', 1), R('r0', 'x')]], and(eqR(0, 'r0', 0), eqR(1, 'r0', 0)));
    const r = checkLitmus(sb);
    expect(r.observation).toBe('Sometimes');
    expect([r.positive, r.negative]).toEqual([1, 3]);
    const fenced = test('SB+mb', [[W('x', 1), F('mb'), R('r0', 'y')], [W('y', 1), F('mb'), R('r0', 'x')]], and(eqR(0, 'r0', 0), eqR(1, 'r0', 0)));
    const f = checkLitmus(fenced);
    expect(f.observation).toBe('Never');
    expect([f.positive, f.negative]).toEqual([0, 3]);
    expect(f.states).toHaveLength(3);
  });

  it('MP: Sometimes plain, Never with wmb+rmb and with release+acquire', () => {
    const prop = and(eqR(1, 'r0', 1), eqR(1, 'r1', 0));
    expect(checkLitmus(test('MP', [[W('x', 1), W('y', 1)], [R('r0', 'y'), R('r1', 'x')]], prop)).observation).toBe('Sometimes');
    expect(checkLitmus(test('MP+wmb+rmb', [[W('x', 1), F('wmb'), W('y', 1)], [R('r0', 'y'), F('rmb'), R('r1', 'x')]], prop)).observation).toBe('Never');
    expect(checkLitmus(test('MP+rel+acq', [[W('x', 1), W('y', 1, 'release')], [R('r0', 'y', 'acquire'), R('r1', 'x')]], prop)).observation).toBe('Never');
    expect(checkLitmus(test('MP+wmb', [[W('x', 1), F('wmb'), W('y', 1)], [R('r0', 'y'), R('r1', 'x')]], prop)).observation).toBe('Sometimes');
  });

  it('LB: Sometimes plain, Never with ctrl + mb, Never with data deps', () => {
    const prop = and(eqR(0, 'r0', 1), eqR(1, 'r0', 1));
    expect(checkLitmus(test('LB', [[R('r0', 'x'), W('y', 1)], [R('r0', 'y'), W('x', 1)]], prop)).observation).toBe('Sometimes');
    expect(checkLitmus(test('LB+ctrl+mb', [[R('r0', 'x'), If(reg('r0'), [W('y', 1)])], [R('r0', 'y'), F('mb'), W('x', 1)]], prop)).observation).toBe('Never');
    expect(checkLitmus(test('LB+datas', [[R('r0', 'x'), W('y', reg('r0'))], [R('r0', 'y'), W('x', reg('r0'))]], prop)).observation).toBe('Never');
  });

  it('IRIW: not multicopy atomic (Sometimes); smp_mb on the readers forbids it', () => {
    const prop = and(eqR(1, 'r0', 1), eqR(1, 'r1', 0), eqR(3, 'r0', 1), eqR(3, 'r1', 0));
    const plain = test('IRIW', [[W('x', 1)], [R('r0', 'x'), R('r1', 'y')], [W('y', 1)], [R('r0', 'y'), R('r1', 'x')]], prop);
    expect(checkLitmus(plain).observation).toBe('Sometimes');
    const mb = test('IRIW+mbs', [[W('x', 1)], [R('r0', 'x'), F('mb'), R('r1', 'y')], [W('y', 1)], [R('r0', 'y'), F('mb'), R('r1', 'x')]], prop);
    expect(checkLitmus(mb).observation).toBe('Never');
  });

  it('coherence: CoWW and CoRR are Never', () => {
    expect(checkLitmus(test('CoWW', [[W('x', 1), W('x', 2)]], eqX('x', 1))).observation).toBe('Never');
    expect(checkLitmus(test('CoRR', [[W('x', 1)], [R('r0', 'x'), R('r1', 'x')]], and(eqR(1, 'r0', 1), eqR(1, 'r1', 0)))).observation).toBe('Never');
  });

  it('2+2W: Sometimes plain and with smp_wmb (no strong fence: pb does not apply), Never with smp_mb on both', () => {
    const prop = and(eqX('x', 1), eqX('y', 1));
    expect(checkLitmus(test('2+2W', [[W('x', 1), W('y', 2)], [W('y', 1), W('x', 2)]], prop)).observation).toBe('Sometimes');
    expect(checkLitmus(test('2+2W+wmbs', [[W('x', 1), F('wmb'), W('y', 2)], [W('y', 1), F('wmb'), W('x', 2)]], prop)).observation).toBe('Sometimes');
    expect(checkLitmus(test('2+2W+mbs', [[W('x', 1), F('mb'), W('y', 2)], [W('y', 1), F('mb'), W('x', 2)]], prop)).observation).toBe('Never');
  });

  it('R and S', () => {
    const r = and(eqX('y', 2), eqR(1, 'r0', 0));
    expect(checkLitmus(test('R', [[W('x', 1), W('y', 1)], [W('y', 2), R('r0', 'x')]], r)).observation).toBe('Sometimes');
    expect(checkLitmus(test('R+mbs', [[W('x', 1), F('mb'), W('y', 1)], [W('y', 2), F('mb'), R('r0', 'x')]], r)).observation).toBe('Never');
    const s = and(eqX('x', 2), eqR(1, 'r0', 1));
    expect(checkLitmus(test('S', [[W('x', 2), W('y', 1)], [R('r0', 'y'), W('x', 1)]], s)).observation).toBe('Sometimes');
    expect(checkLitmus(test('S+wmb+acq', [[W('x', 2), F('wmb'), W('y', 1)], [R('r0', 'y', 'acquire'), W('x', 1)]], s)).observation).toBe('Never');
  });

  it('WRC and ISA2: release is A-cumulative', () => {
    const wrc = and(eqR(1, 'r0', 1), eqR(2, 'r0', 1), eqR(2, 'r1', 0));
    expect(checkLitmus(test('WRC', [[W('x', 1)], [R('r0', 'x'), W('y', 1)], [R('r0', 'y'), R('r1', 'x')]], wrc)).observation).toBe('Sometimes');
    expect(checkLitmus(test('WRC+rel+rmb', [[W('x', 1)], [R('r0', 'x'), W('y', 1, 'release')], [R('r0', 'y'), F('rmb'), R('r1', 'x')]], wrc)).observation).toBe('Never');
    const isa2 = and(eqR(1, 'r0', 1), eqR(2, 'r0', 1), eqR(2, 'r1', 0));
    const locs = ['x', 'y', 'z'];
    expect(checkLitmus(test('ISA2', [[W('x', 1), W('y', 1)], [R('r0', 'y'), W('z', 1)], [R('r0', 'z'), R('r1', 'x')]], isa2, locs)).observation).toBe('Sometimes');
    expect(checkLitmus(test('ISA2+rel+acqrel+acq', [[W('x', 1), W('y', 1, 'release')], [R('r0', 'y', 'acquire'), W('z', 1, 'release')], [R('r0', 'z', 'acquire'), R('r1', 'x')]], isa2, locs)).observation).toBe('Never');
  });

  it('Z6.0: a release-acquire chain does not order for an outsider (Sometimes); smp_mb everywhere does (Never)', () => {
    const locs = ['x', 'y', 'z'];
    const prop = and(eqR(1, 'r0', 1), eqX('z', 2), eqR(2, 'r0', 0));
    const chain = test('Z6.0+rel+acqrel+mb', [[W('x', 1), W('y', 1, 'release')], [R('r0', 'y', 'acquire'), W('z', 1, 'release')], [W('z', 2), F('mb'), R('r0', 'x')]], prop, locs);
    expect(checkLitmus(chain).observation).toBe('Sometimes');
    const mbs = test('Z6.0+mbs', [[W('x', 1), F('mb'), W('y', 1)], [R('r0', 'y'), F('mb'), W('z', 1)], [W('z', 2), F('mb'), R('r0', 'x')]], prop, locs);
    expect(checkLitmus(mbs).observation).toBe('Never');
  });
});

describe('ipilab extensions: the shootdown race', () => {
  const send = (target: number): Stmt => ({ kind: 'send_ipi', target, pos: P });
  const fill = (loc: string): Stmt => ({ kind: 'tlb_fill', loc: sh(loc), pos: P });
  const tread = (loc: string, r: string): Stmt => ({ kind: 'tlb_read', loc: sh(loc), reg: r, pos: P });
  const inval = (loc: string): Stmt => ({ kind: 'tlb_invalidate', loc: sh(loc), pos: P });
  function race(name: string, sender: Stmt[]): LitmusTest {
    return {
      name,
      init: new Map([['pte', 1]]),
      threads: [
        { index: 0, params: ['pte'], registers: [], body: sender, pos: P },
        { index: 1, params: ['pte'], registers: ['r0'], body: [fill('pte')], pos: P, ipiHandler: { registers: ['r1'], body: [inval('pte'), tread('pte', 'r1')], pos: P } },
      ],
      locations: [],
      condition: { quantifier: 'exists', prop: eqR(1, 'r1', 1), pos: P },
      file: `${name}.litmus`,
    };
  }

  it('without a fence between the PTE write and send_ipi the handler can refill the old PTE; smp_mb forbids it', () => {
    const loose = checkLitmus(race('shootdown', [W('pte', 2), send(1)]));
    expect(loose.observation).toBe('Sometimes');
    const fenced = checkLitmus(race('shootdown+mb', [W('pte', 2), F('mb'), send(1)]));
    expect(fenced.observation).toBe('Never');
    // The handler runs exactly once in every allowed execution: r1 is always the PTE it refilled (1 or 2), never unset.
    expect(fenced.states.map((s) => s.values[0])).toEqual([2]);
    expect(loose.states.map((s) => s.values[0])).toEqual([1, 2]);
  });

  it('smp_wmb orders the PTE write before the send (both writes): Never', () => {
    expect(checkLitmus(race('shootdown+wmb', [W('pte', 2), F('wmb'), send(1)])).observation).toBe('Never');
  });

  it('no IPI sent: the handler never runs', () => {
    const r = checkLitmus(race('no-ipi', [W('pte', 2)]));
    expect(r.states.map((s) => s.values[0])).toEqual([0]);
  });
});

describe('read-modify-writes', () => {
  const inc = (loc: string): Stmt => ({ kind: 'rmw', op: 'add', order: 'once', returnsOld: false, reg: undefined, loc: sh(loc), operand: c(1), pos: P });
  const xchg = (r: string, loc: string, v: number): Stmt => ({ kind: 'rmw', op: 'xchg', order: 'mb', returnsOld: true, reg: r, loc: sh(loc), operand: c(v), pos: P });
  it('two atomic_inc never lose an update (atomic axiom)', () => {
    const t = test('atomic-inc', [[inc('x')], [inc('x')]], eqX('x', 1));
    const r = checkLitmus(t);
    expect(r.observation).toBe('Never');
    expect(r.states.map((s) => s.values[0])).toEqual([2]);
  });
  it('xchg is fully ordered: SB with xchg on both sides is Never', () => {
    const t = test('SB+xchgs', [[xchg('r1', 'x', 1), R('r0', 'y')], [xchg('r1', 'y', 1), R('r0', 'x')]], and(eqR(0, 'r0', 0), eqR(1, 'r0', 0)));
    expect(checkLitmus(t).observation).toBe('Never');
  });
});

describe('control dependencies', () => {
  it('order the stores of the if\'s clauses, not the code after it (control-dependencies.txt)', () => {
    const prop = and(eqR(0, 'r0', 1), eqR(1, 'r0', 1));
    const inside = test('LB+ctrl-inside+mb', [[R('r0', 'x'), If(reg('r0'), [W('y', 1)])], [R('r0', 'y'), F('mb'), W('x', 1)]], prop);
    expect(checkLitmus(inside).observation).toBe('Never');
    const after = test('LB+ctrl-after+mb', [[R('r0', 'x'), If(reg('r0'), [W('z', 1)]), W('y', 1)], [R('r0', 'y'), F('mb'), W('x', 1)]], prop, ['x', 'y', 'z']);
    expect(checkLitmus(after).observation).toBe('Sometimes');
  });
});
