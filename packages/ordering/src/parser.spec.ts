import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import fc from 'fast-check';
import { LitmusSyntaxError, type LitmusTest, type Stmt } from './ast';
import { parseLitmus } from './parser';

const FILE = 't.litmus';
const CORPUS = join(__dirname, '..', '..', '..', 'examples', 'litmus');

function parse(text: string): LitmusTest {
  return parseLitmus(text, FILE);
}

/** A test around one P0 body (and optional extras), so unit tests state only what they are about. */
function p0(body: string, opts: { params?: string; cond?: string; init?: string; extra?: string } = {}): string {
  return `C T\n${opts.init ?? '{}'}\nP0(${opts.params ?? 'int *x, int *y'})\n{\n${body}\n}\n${opts.extra ?? ''}\n${opts.cond ?? 'exists (x=1)'}\n`;
}

function body(text: string): readonly Stmt[] {
  return (parse(text).threads[0] as LitmusTest['threads'][number]).body;
}

/**
 * The message a bad text gets. `@@` in the text marks the offending token: it is removed, and the
 * expected message starts with its line:col, so each case checks the position as well as the words.
 */
function expectError(marked: string, message: string): void {
  const at = marked.indexOf('@@');
  if (at < 0) throw new Error('test case has no @@ marker');
  const text = marked.slice(0, at) + marked.slice(at + 2);
  const before = text.slice(0, at).split('\n');
  const line = before.length;
  const col = (before[before.length - 1] as string).length + 1;
  let thrown: unknown;
  try {
    parse(text);
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(LitmusSyntaxError);
  expect((thrown as Error).message).toBe(`${FILE}:${line}:${col}: ${message}`);
}

function corpusFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return corpusFiles(path);
      return name.endsWith('.litmus') ? [path] : [];
    });
}

describe('the corpus in examples/litmus', () => {
  const files = corpusFiles(CORPUS);

  it('holds the classic and the IPI sets', () => {
    expect(files.filter((f) => f.includes(`${join('litmus', 'classic')}`)).length).toBeGreaterThanOrEqual(30);
    expect(files.filter((f) => f.includes(`${join('litmus', 'ipi')}`)).length).toBeGreaterThanOrEqual(8);
  });

  it.each(files.map((f) => [f.slice(CORPUS.length + 1), f]))('%s parses, named as its file, with a Result line and its source', (_rel, file) => {
    const text = readFileSync(file, 'utf8');
    const test = parseLitmus(text, file);
    expect(test.name).toBe(basename(file, '.litmus'));
    expect(test.expected).toBeDefined();
    expect(test.comment).toMatch(/verdict: /);
    expect(test.file).toBe(file);
  });
});

describe('parseLitmus: header, comment and initial state', () => {
  it('reads the name with + . - _ and digits, the comment, and its Result line', () => {
    const t = parse('C Z6.0+po-once_2\n(* a\n * Result: Never\n *)\n{}\nP0(int *x) { WRITE_ONCE(*x, 1); }\nexists (x=1)\n');
    expect(t.name).toBe('Z6.0+po-once_2');
    expect(t.comment).toBe(' a\n * Result: Never\n ');
    expect(t.expected).toBe('Never');
    expect(t.file).toBe(FILE);
  });

  it('leaves comment and expected out when there is no comment, and expected when it has no Result line', () => {
    const bare = parse(p0('WRITE_ONCE(*x, 1);'));
    expect('comment' in bare).toBe(false);
    expect('expected' in bare).toBe(false);
    const noResult = parse('C T (* just words *) {} P0(int *x) { WRITE_ONCE(*x, 1); } exists (x=1)');
    expect(noResult.comment).toBe(' just words ');
    expect('expected' in noResult).toBe(false);
  });

  it('skips // and /* */ comments anywhere, and (* *) comments (nested) outside braces', () => {
    const t = parse(
      'C T // name line\n(* Result: Sometimes *)\n/* c */ { /* in init */ x = 1; // line\n}\nP0(int *x /* p */) {\n// body\nint r0; /* b */ r0 = READ_ONCE(*x);\n}\n(* a (* nested *) one *)\nlocations [x;] (* aid *)\nexists (0:r0=1) // end\n',
    );
    expect(t.expected).toBe('Sometimes');
    expect(t.init.get('x')).toBe(1);
    expect(t.threads[0]?.registers).toEqual(['r0']);
  });

  it('takes every initial-state form, and gives 0 to every other location it names', () => {
    const t = parse(
      'C T\n{ int a; int b = 1; c=-2; int *p = &a; q=b; int d, *e = &d; atomic_t n = 3 }\nP0(int *a, int *f, int **p) { WRITE_ONCE(*f, 1); }\nexists (a=0)\n',
    );
    expect([...t.init.entries()]).toEqual([
      ['a', 0],
      ['b', 1],
      ['c', -2],
      ['p', { loc: 'a' }],
      ['q', { loc: 'b' }],
      ['d', 0],
      ['e', { loc: 'd' }],
      ['n', 3],
      ['f', 0],
    ]);
  });

  it('accepts an empty initial state and adds all parameters, of threads and handlers', () => {
    const t = parse('C T {} P0(int *x, int *y) { send_ipi(P1); } P1(int *z) { } IPI_P1(int *w) { tlb_invalidate(w); } exists (x=0)');
    expect([...t.init.keys()]).toEqual(['x', 'y', 'z', 'w']);
  });
});

describe('parseLitmus: threads and statements', () => {
  it('reads parameters of every accepted type, and registers in declaration order', () => {
    const t = parse(p0('int r0; int *r1; int r2 = 0, r3;', { params: 'int *x, atomic_t *v, spinlock_t *s, int **pp, unsigned long *u' }));
    const th = t.threads[0];
    expect(th?.index).toBe(0);
    expect(th?.params).toEqual(['x', 'v', 's', 'pp', 'u']);
    expect(th?.registers).toEqual(['r0', 'r1', 'r2', 'r3']);
    expect(th?.pos).toEqual({ line: 3, col: 1 });
    expect(th?.body).toEqual([{ kind: 'assign', reg: 'r2', value: { kind: 'const', value: 0 }, pos: { line: 5, col: 22 } }]);
    expect('ipiHandler' in (th as object)).toBe(false);
  });

  it('maps ONCE, release and acquire accesses with the argument shapes of linux-kernel.def', () => {
    const stmts = body(
      p0(
        [
          'int r0; int r1; int r2; int r3; int r4;',
          'WRITE_ONCE(*x, 1);',
          'smp_store_release(y, r0);',
          'r1 = READ_ONCE(*x);',
          'r2 = smp_load_acquire(y);',
          'atomic_set(x, 2);',
          'atomic_set_release(x, 3);',
          'r3 = atomic_read(x);',
          'r4 = atomic_read_acquire(x);',
          'rcu_assign_pointer(*y, x);',
          'r0 = rcu_dereference(*y);',
        ].join('\n'),
      ),
    ).map((s) => ({ ...s, pos: undefined }));
    const x = { kind: 'shared', name: 'x' };
    const y = { kind: 'shared', name: 'y' };
    expect(stmts).toEqual([
      { kind: 'write', mode: 'once', loc: x, value: { kind: 'const', value: 1 }, pos: undefined },
      { kind: 'write', mode: 'release', loc: y, value: { kind: 'reg', name: 'r0' }, pos: undefined },
      { kind: 'read', mode: 'once', reg: 'r1', loc: x, pos: undefined },
      { kind: 'read', mode: 'acquire', reg: 'r2', loc: y, pos: undefined },
      { kind: 'write', mode: 'once', loc: x, value: { kind: 'const', value: 2 }, pos: undefined },
      { kind: 'write', mode: 'release', loc: x, value: { kind: 'const', value: 3 }, pos: undefined },
      { kind: 'read', mode: 'once', reg: 'r3', loc: x, pos: undefined },
      { kind: 'read', mode: 'acquire', reg: 'r4', loc: x, pos: undefined },
      { kind: 'write', mode: 'release', loc: y, value: { kind: 'addr', loc: 'x' }, pos: undefined },
      { kind: 'read', mode: 'once', reg: 'r0', loc: y, pos: undefined },
    ]);
  });

  it('gives each statement the position of its primitive', () => {
    const stmts = body('C T\n{}\nP0(int *x)\n{\n\tint r0;\n\n\tr0 = READ_ONCE(*x);\n  WRITE_ONCE(*x, 2);\n}\nexists (x=1)\n');
    expect(stmts.map((s) => s.pos)).toEqual([
      { line: 7, col: 7 },
      { line: 8, col: 3 },
    ]);
  });

  it('makes smp_store_mb a once write followed by an mb fence', () => {
    const stmts = body(p0('smp_store_mb(*x, 1);'));
    expect(stmts.map((s) => s.kind === 'fence' ? `fence ${s.fence}` : `${s.kind} ${s.kind === 'write' ? s.mode : ''}`)).toEqual(['write once', 'fence mb']);
  });

  it('reads every fence, and takes barrier() as no event (it bounds only plain accesses)', () => {
    const stmts = body(p0('smp_mb(); smp_wmb(); smp_rmb(); smp_mb__before_atomic(); smp_mb__after_atomic(); barrier();'));
    expect(stmts.map((s) => (s.kind === 'fence' ? s.fence : s.kind))).toEqual(['mb', 'wmb', 'rmb', 'before-atomic', 'after-atomic']);
  });

  it('reads accesses through a pointer register as deref, with pointer values in and out', () => {
    const t = parse(p0('int *r0; int r1;\nr0 = READ_ONCE(*y);\nr1 = READ_ONCE(*r0);\nWRITE_ONCE(*r0, 5);\nr1 = smp_load_acquire(r0);\nWRITE_ONCE(*y, &x);', { params: 'int *x, int **y', cond: 'exists (0:r0=x /\\ 0:r1=0 /\\ y=&x)' }));
    const stmts = t.threads[0]?.body ?? [];
    expect(stmts[1]).toMatchObject({ kind: 'read', loc: { kind: 'deref', reg: 'r0' } });
    expect(stmts[2]).toMatchObject({ kind: 'write', loc: { kind: 'deref', reg: 'r0' } });
    expect(stmts[3]).toMatchObject({ kind: 'read', mode: 'acquire', loc: { kind: 'deref', reg: 'r0' } });
    expect(stmts[4]).toMatchObject({ kind: 'write', value: { kind: 'addr', loc: 'x' } });
    expect(t.condition.prop).toEqual({
      kind: 'and',
      operands: [
        { kind: 'eq', loc: { kind: 'reg', thread: 0, name: 'r0' }, value: { loc: 'x' } },
        { kind: 'eq', loc: { kind: 'reg', thread: 0, name: 'r1' }, value: 0 },
        { kind: 'eq', loc: { kind: 'shared', name: 'y' }, value: { loc: 'x' } },
      ],
    });
  });

  describe('read-modify-writes (linux-kernel.def operand order)', () => {
    const x = { kind: 'shared', name: 'x' };
    const one = { kind: 'const', value: 1 };
    const cases: ReadonlyArray<readonly [string, object]> = [
      ['r0 = xchg(x, 1);', { op: 'xchg', order: 'mb', returnsOld: true, reg: 'r0', loc: x, operand: one }],
      ['r0 = xchg_relaxed(x, 1);', { op: 'xchg', order: 'once', returnsOld: true }],
      ['r0 = xchg_acquire(x, 1);', { op: 'xchg', order: 'acquire' }],
      ['r0 = xchg_release(x, 1);', { op: 'xchg', order: 'release' }],
      ['r0 = atomic_xchg_relaxed(x, 1);', { op: 'xchg', order: 'once' }],
      ['r0 = cmpxchg(x, 1, 2);', { op: 'cmpxchg', order: 'mb', returnsOld: true, operand: one, newValue: { kind: 'const', value: 2 } }],
      ['r0 = cmpxchg_acquire(x, 1, 2);', { op: 'cmpxchg', order: 'acquire' }],
      ['r0 = atomic_cmpxchg_release(x, 1, 2);', { op: 'cmpxchg', order: 'release' }],
      ['atomic_add(3, x);', { op: 'add', order: 'once', reg: undefined, loc: x, operand: { kind: 'const', value: 3 } }],
      ['atomic_sub(3, x);', { op: 'sub', order: 'once', reg: undefined, operand: { kind: 'const', value: 3 } }],
      ['atomic_inc(x);', { op: 'add', order: 'once', reg: undefined, operand: one }],
      ['atomic_dec(x);', { op: 'sub', order: 'once', reg: undefined, operand: one }],
      ['r0 = atomic_add_return(3, x);', { op: 'add', order: 'mb', returnsOld: false, reg: 'r0', operand: { kind: 'const', value: 3 } }],
      ['r0 = atomic_sub_return_relaxed(3, x);', { op: 'sub', order: 'once', returnsOld: false }],
      ['r0 = atomic_inc_return_acquire(x);', { op: 'add', order: 'acquire', returnsOld: false, operand: one }],
      ['r0 = atomic_dec_return_release(x);', { op: 'sub', order: 'release', returnsOld: false, operand: one }],
      ['r0 = atomic_fetch_add(3, x);', { op: 'add', order: 'mb', returnsOld: true }],
      ['r0 = atomic_fetch_sub_acquire(3, x);', { op: 'sub', order: 'acquire', returnsOld: true }],
      ['r0 = atomic_fetch_inc_relaxed(x);', { op: 'add', order: 'once', returnsOld: true, operand: one }],
      ['r0 = atomic_fetch_dec_release(x);', { op: 'sub', order: 'release', returnsOld: true, operand: one }],
    ];
    it.each(cases)('%s', (stmt, shape) => {
      const stmts = body(p0(`int r0; ${stmt}`));
      expect(stmts).toHaveLength(1);
      expect(stmts[0]).toMatchObject({ kind: 'rmw', ...shape });
      if (!stmt.includes('cmpxchg')) expect('newValue' in (stmts[0] as object)).toBe(false);
    });

    it('turns atomic_dec_and_test into the RMW and the register compared with 0', () => {
      const stmts = body(p0('int r0; r0 = atomic_dec_and_test(x);'));
      expect(stmts[0]).toMatchObject({ kind: 'rmw', op: 'sub', order: 'mb', returnsOld: false, reg: 'r0' });
      expect(stmts[1]).toMatchObject({ kind: 'assign', reg: 'r0', value: { kind: 'binary', op: '==', left: { kind: 'reg', name: 'r0' }, right: { kind: 'const', value: 0 } } });
    });
  });

  it('reads if/else with and without braces, else-if, and nested blocks', () => {
    const stmts = body(p0('int r0;\nr0 = READ_ONCE(*x);\nif (r0 == 1) { WRITE_ONCE(*y, 1); smp_mb(); } else if (r0) WRITE_ONCE(*y, 2); else { }\nif (!r0) WRITE_ONCE(*y, 3);\n{ smp_wmb(); }'));
    expect(stmts[1]).toMatchObject({
      kind: 'if',
      cond: { kind: 'binary', op: '==' },
      then: [{ kind: 'write' }, { kind: 'fence' }],
      else: [{ kind: 'if', cond: { kind: 'reg', name: 'r0' }, then: [{ kind: 'write' }], else: [] }],
    });
    expect(stmts[2]).toMatchObject({ kind: 'if', cond: { kind: 'not' }, else: [] });
    expect(stmts[3]).toMatchObject({ kind: 'fence', fence: 'wmb' });
  });

  it('parses expressions with C precedence, negative numbers and hex', () => {
    const [s] = body(p0('int r0; int r1; r1 = r0 + 2 * -3 == 0x10 - r0 && !(r0 | 1 ^ 2 & 3) || -r0 < 4;'));
    const c = (value: number): object => ({ kind: 'const', value });
    const r0 = { kind: 'reg', name: 'r0' };
    expect(s).toEqual({
      kind: 'assign',
      reg: 'r1',
      pos: { line: 5, col: 17 },
      value: {
        kind: 'binary',
        op: '||',
        left: {
          kind: 'binary',
          op: '&&',
          left: {
            kind: 'binary',
            op: '==',
            left: { kind: 'binary', op: '+', left: r0, right: { kind: 'binary', op: '*', left: c(2), right: c(-3) } },
            right: { kind: 'binary', op: '-', left: c(16), right: r0 },
          },
          right: { kind: 'not', operand: { kind: 'binary', op: '|', left: r0, right: { kind: 'binary', op: '^', left: c(1), right: { kind: 'binary', op: '&', left: c(2), right: c(3) } } } },
        },
        right: { kind: 'binary', op: '<', left: { kind: 'neg', operand: r0 }, right: c(4) },
      },
    });
  });

  it('reads the other comparison operators, left-associative', () => {
    const [s] = body(p0('int r0; r0 = 1 != 2 >= 3 <= 4 > 5 - 6 - 7;'));
    expect(s).toMatchObject({
      value: { op: '!=', right: { op: '>', left: { op: '<=', left: { op: '>=' } }, right: { op: '-', left: { op: '-' } } } },
    });
  });
});

describe('parseLitmus: ipilab extensions', () => {
  const text = [
    'C T',
    '{ pte = 1; }',
    'P0(int *pte) { WRITE_ONCE(*pte, 2); send_ipi(P1); }',
    'P1(int *pte) { int r0; tlb_fill(pte); }',
    'IPI_P1(int *other) { int r1; int *r2; tlb_invalidate(pte); tlb_read(pte, r1); r2 = READ_ONCE(*other); tlb_fill(*r2); send_ipi(P0); }',
    'IPI_P0 { }',
    'exists (1:r1=1 /\\ 1:r0=0)',
  ].join('\n');

  it('reads send_ipi, the TLB primitives and handler blocks with their own registers', () => {
    const t = parse(text);
    expect(t.threads[0]?.body[1]).toEqual({ kind: 'send_ipi', target: 1, pos: { line: 3, col: 37 } });
    expect(t.threads[1]?.body).toEqual([{ kind: 'tlb_fill', loc: { kind: 'shared', name: 'pte' }, pos: { line: 4, col: 24 } }]);
    const h = t.threads[1]?.ipiHandler;
    expect(h?.registers).toEqual(['r1', 'r2']);
    expect(h?.pos).toEqual({ line: 5, col: 1 });
    expect(h?.body.map((s) => s.kind)).toEqual(['tlb_invalidate', 'tlb_read', 'read', 'tlb_fill', 'send_ipi']);
    expect(h?.body[1]).toMatchObject({ kind: 'tlb_read', loc: { kind: 'shared', name: 'pte' }, reg: 'r1' });
    expect(h?.body[3]).toMatchObject({ kind: 'tlb_fill', loc: { kind: 'deref', reg: 'r2' } });
    expect(t.threads[1]?.registers).toEqual(['r0']);
    expect(t.threads[0]?.ipiHandler).toEqual({ registers: [], body: [], pos: { line: 6, col: 1 } });
    expect([...t.init.entries()]).toEqual([
      ['pte', 1],
      ['other', 0],
    ]);
  });
});

describe('parseLitmus: locations and the condition', () => {
  const two = (cond: string, extra = ''): LitmusTest =>
    parse(`C T {} P0(int *x) { int r0; r0 = READ_ONCE(*x); } P1(int *x, int *y) { int r1; r1 = READ_ONCE(*y); } ${extra} ${cond}`);

  it('reads locations [...]', () => {
    expect(two('exists (x=1)', 'locations [x; 0:r0; 1:r1;]').locations).toEqual([
      { kind: 'shared', name: 'x' },
      { kind: 'reg', thread: 0, name: 'r0' },
      { kind: 'reg', thread: 1, name: 'r1' },
    ]);
    expect(two('exists (x=1)').locations).toEqual([]);
  });

  it('reads the three quantifiers with the quantifier position', () => {
    expect(two('exists (x=1)').condition).toMatchObject({ quantifier: 'exists', pos: { line: 1, col: 103 } });
    expect(two('~exists (x=1)').condition.quantifier).toBe('not-exists');
    expect(two('forall (x=1)').condition.quantifier).toBe('forall');
  });

  it('binds ~ tighter than /\\, and /\\ tighter than \\/', () => {
    const eq = (thread: number, name: string, value: number): object => ({ kind: 'eq', loc: { kind: 'reg', thread, name }, value });
    expect(two('exists (~0:r0=1 /\\ 1:r1=2 \\/ x=-1 /\\ ~(true \\/ false))').condition.prop).toEqual({
      kind: 'or',
      operands: [
        { kind: 'and', operands: [{ kind: 'not', operand: eq(0, 'r0', 1) }, eq(1, 'r1', 2)] },
        {
          kind: 'and',
          operands: [
            { kind: 'eq', loc: { kind: 'shared', name: 'x' }, value: -1 },
            { kind: 'not', operand: { kind: 'or', operands: [{ kind: 'true' }, { kind: 'false' }] } },
          ],
        },
      ],
    });
  });

  it('accepts a condition without outer parentheses', () => {
    expect(two('exists 0:r0=1').condition.prop).toEqual({ kind: 'eq', loc: { kind: 'reg', thread: 0, name: 'r0' }, value: 1 });
  });
});

describe('parseLitmus: errors name the offending token and what was expected', () => {
  const cases: ReadonlyArray<readonly [string, string, string]> = [
    ['not a C test', '@@X86 SB\n{}', 'expected `C <name>` at the start of a C litmus test, found `X86`'],
    ['empty file', '@@', 'expected `C <name>` at the start of a C litmus test, found an empty file'],
    ['no name', 'C @@{}', 'expected the test\'s name after `C`, found `{`'],
    ['unterminated (* comment', 'C T\n@@(* Result: Never\n{}', 'unterminated comment: expected `*)` to close this `(*`'],
    ['unterminated /* comment', p0('@@/* oops'), 'unterminated comment: expected `*/` to close this `/*`'],
    ['unexpected character', p0('WRITE_ONCE(*x, @@$1);'), 'unexpected character `$`'],
    ['control character', p0('WRITE_ONCE(*x, @@\u0001);'), 'unexpected character U+0001'],
    ['malformed number', p0('WRITE_ONCE(*x, @@12ab);'), 'malformed number `12ab`'],
    ['huge number', p0('WRITE_ONCE(*x, @@99999999999999999999);'), 'integer `99999999999999999999` is out of range (at most 9007199254740991)'],
    ['missing init', 'C T\n@@P0(int *x) { }', 'expected `{` to open the initial state (`{}` when empty), found `P0`'],
    ['init without separator', 'C T\n{ x = 1 @@y = 2 }', 'expected `;` between initial values, found `y`'],
    ['init twice', 'C T\n{ x = 1; @@x = 2; }', '`x` is initialised twice'],
    ['init register', 'C T\n{ @@0:r0 = 1; }', 'initial register values (`0:r1=...`) are not supported: assign the register in the thread body'],
    ['init bad value', 'C T\n{ x = @@; }', 'expected an integer, `&x` or a location name as the initial value, found `;`'],
    ['no thread', 'C T\n{}\n@@exists (x=1)', 'expected a thread `P0(int *x, ...) { ... }` after the initial state, found `exists`'],
    ['thread gap', 'C T {} P0(int *x) { } @@P2(int *x) { } exists (x=1)', 'expected `P1`: threads are numbered P0, P1, ... without gaps, found `P2`'],
    ['thread twice', 'C T {} P0(int *x) { } @@P0(int *x) { } exists (x=1)', '`P0` is defined twice'],
    ['not starting at P0', 'C T {} @@P1(int *x) { } exists (x=1)', 'expected `P0`: threads are numbered P0, P1, ... without gaps, found `P1`'],
    ['non-pointer parameter', 'C T {} P0(int @@x) { } exists (x=1)', 'expected `*`: parameters are pointers to shared locations, as in `int *x`, found `x`'],
    ['unknown type', 'C T {} P0(@@float *x) { } exists (x=1)', 'expected a parameter type such as `int *x`, found `float`'],
    ['parameter twice', 'C T {} P0(int *x, int *@@x) { } exists (x=1)', 'parameter `x` is declared twice in `P0`'],
    ['unclosed body', 'C T {} P0(int *x) { WRITE_ONCE(*x, 1);\n@@', 'expected `}` to close the body of `P0`, found the end of the file'],
    ['plain write', p0('@@*x = 1;'), 'plain C accesses are not modelled: use WRITE_ONCE/READ_ONCE'],
    ['plain read', p0('int r0; r0 = @@*x;'), 'plain C accesses are not modelled: use WRITE_ONCE/READ_ONCE'],
    ['unknown primitive with hint', p0('@@WRITE_ONC(*x, 1);'), 'unknown primitive `WRITE_ONC`: did you mean `WRITE_ONCE`?'],
    ['transposed fence', p0('@@smp_wbm();'), 'unknown primitive `smp_wbm`: did you mean `smp_wmb`?'],
    ['lower-case name', p0('int r0; r0 = @@read_once(*x);'), 'unknown primitive `read_once`: did you mean `READ_ONCE`?'],
    ['unknown primitive, no hint', p0('@@frobnicate(x);'), 'unknown primitive `frobnicate`'],
    ['spin_lock', p0('@@spin_lock(s);', { params: 'spinlock_t *s, int *x' }), '`spin_lock` is not modelled (locks, RCU and SRCU are outside ipilab\'s subset; see docs/ordering.md)'],
    ['rcu_read_lock', p0('@@rcu_read_lock();'), '`rcu_read_lock` is not modelled (locks, RCU and SRCU are outside ipilab\'s subset; see docs/ordering.md)'],
    ['synchronize_rcu', p0('@@synchronize_rcu();'), '`synchronize_rcu` is not modelled (locks, RCU and SRCU are outside ipilab\'s subset; see docs/ordering.md)'],
    ['srcu', p0('int r0; r0 = @@srcu_read_lock(x);'), '`srcu_read_lock` is not modelled (locks, RCU and SRCU are outside ipilab\'s subset; see docs/ordering.md)'],
    ['unknown register', p0('@@r9 = 1;'), 'unknown register or location `r9` in `P0`: declare a register (`int r9;`) or add `int *r9` to the parameters'],
    ['register before declaration', p0('@@r0 = READ_ONCE(*x);\nint r0;'), 'register `r0` is used before its declaration in `P0`'],
    ['register in expression before declaration', p0('int r1; r1 = @@r0 + 1; int r0;'), 'register `r0` is used before its declaration in `P0`'],
    ['register declared twice', p0('int r0; int @@r0;'), 'register `r0` is declared twice in `P0`'],
    ['register named as parameter', p0('int @@x;'), '`x` is already a parameter of `P0`'],
    ['write to undeclared location', p0('WRITE_ONCE(*@@z, 1);'), 'unknown location `z` in `P0`: add `int *z` to its parameters'],
    ['address of undeclared location', p0('WRITE_ONCE(*x, &@@z);'), 'unknown location `z` in `P0`: add `int *z` to its parameters'],
    ['assignment to a location', p0('@@x = 1;'), '`x` is a shared location, not a register: write `WRITE_ONCE(*x, ...)`'],
    ['READ_ONCE without *', p0('int r0; r0 = READ_ONCE(@@x);'), 'expected `*x`: `READ_ONCE` takes the pointed-to location, as in `READ_ONCE(*x, ...)`, found `x`'],
    ['acquire with *', p0('int r0; r0 = smp_load_acquire(@@*x);'), '`smp_load_acquire` takes the pointer `x`, not `*x`: write `smp_load_acquire(x)`'],
    ['release with &', p0('smp_store_release(@@&x, 1);'), '`smp_store_release` takes the pointer `x` (a parameter), not `&x`'],
    ['read not assigned', p0('@@READ_ONCE(*x);'), 'the value of `READ_ONCE` must go to a register: `r = READ_ONCE(*x)`'],
    ['xchg not assigned', p0('@@xchg(x, 1);'), 'the value of `xchg` must go to a register: `r = xchg(x, v)`'],
    ['write assigned', p0('int r0; r0 = @@WRITE_ONCE(*x, 1);'), '`WRITE_ONCE` returns no value: write `WRITE_ONCE(*x, v);` on its own'],
    ['atomic_inc assigned', p0('int r0; r0 = @@atomic_inc(x);'), '`atomic_inc` returns no value: write `atomic_inc(x);` on its own'],
    ['too many arguments', p0('WRITE_ONCE(*x, 1@@, 2);'), 'expected `)` to close `WRITE_ONCE(*x, v)`, found `,`'],
    ['too few arguments', p0('WRITE_ONCE(*x@@);'), 'expected `,` between the arguments of `WRITE_ONCE(*x, v)`, found `)`'],
    ['missing semicolon', p0('smp_mb()\n@@smp_wmb();'), 'expected `;` after `smp_mb(...)`, found `smp_wmb`'],
    ['read inside an expression', p0('int r0; r0 = 1 + @@READ_ONCE(*x);'), '`READ_ONCE(...)` cannot be part of an expression: assign it to a register first (`r = READ_ONCE(...);`)'],
    ['read in an if condition', p0('if (@@READ_ONCE(*x)) smp_mb();'), '`READ_ONCE(...)` cannot be part of an expression: assign it to a register first (`r = READ_ONCE(...);`)'],
    ['division', p0('int r0; r0 = 4 @@/ 2;'), 'operator `/` is not supported (use + - * & | ^ and comparisons)'],
    ['loop', p0('@@while (1) smp_mb();'), '`while` is not supported: litmus bodies are straight-line code with `if`'],
    ['dangling else', p0('@@else smp_mb();'), '`else` without a matching `if`'],
    ['statement garbage', p0('@@42;'), 'expected a statement in `P0`, found `42`'],
    ['bare name', p0('int r0; r0 @@r0;'), 'expected `=` or `(` after `r0`, found `r0`'],
    ['unclosed parenthesis', p0('int r0; r0 = (1 + 2@@;'), 'expected `)` to close the parenthesis, found `;`'],
    ['empty expression', p0('int r0; r0 = @@;'), 'expected an expression (an integer, a register, `&x` or a parenthesis), found `;`'],
    ['send_ipi to a non-thread', p0('send_ipi(@@P4);', { extra: 'P1(int *x) { } IPI_P1 { }' }), '`send_ipi` target `P4` is not a thread of this test (it has P0..P1)'],
    ['send_ipi to itself', p0('send_ipi(@@P0);', { extra: 'IPI_P0 { }' }), '`P0` cannot send an IPI to itself'],
    ['send_ipi without handler', p0('send_ipi(@@P1);', { extra: 'P1(int *x) { }' }), '`P1` has no IPI handler: add `IPI_P1 { ... }` after the threads'],
    ['send_ipi target not a thread name', p0('send_ipi(@@x);'), 'expected a thread such as `P1` as the target of `send_ipi`, found `x`'],
    ['handler for no thread', p0('', { extra: '@@IPI_P3 { }' }), '`IPI_P3` names no thread: this test has P0..P0'],
    ['handler twice', p0('', { extra: 'IPI_P0 { }\n@@IPI_P0 { }' }), '`IPI_P0` is defined twice: a thread has at most one IPI handler'],
    ['thread after handler', p0('', { extra: 'IPI_P0 { }\n@@P1(int *x) { }' }), 'threads come before the IPI handlers: move `P1` above the first `IPI_P` block'],
    ['handler register clash', p0('int r0;', { extra: 'IPI_P0 { int @@r0; }' }), 'register `r0` is already declared in P0\'s body: the handler\'s registers need their own names'],
    ['handler uses a body register', p0('int r0;', { extra: 'IPI_P0 { @@r0 = 1; }' }), '`r0` is a register of P0\'s body, which `IPI_P0` cannot use: declare the handler\'s own'],
    ['tlb on *param', p0('tlb_fill(@@*x);'), '`tlb_fill` takes the location `x`, not `*x`'],
    ['tlb on a bare register', p0('int *r0; tlb_invalidate(@@r0);'), 'write `*r0` to translate the address register `r0` holds'],
    ['tlb_read into a location', p0('tlb_read(x, @@y);'), '`y` is a shared location, not a register: write `WRITE_ONCE(*y, ...)`'],
    ['missing condition', p0('smp_mb();', { cond: '' }) + '@@', 'expected the condition `exists (...)`, `~exists (...)` or `forall (...)`, found the end of the file'],
    ['trailing garbage', p0('smp_mb();', { cond: 'exists (x=1) @@junk' }), 'expected the end of the file after the condition, found `junk`'],
    ['condition names no thread', p0('int r0;', { cond: 'exists (@@3:r0=1)' }), 'thread 3 does not exist: this test has P0..P0'],
    ['condition names no register', p0('int r0;', { cond: 'exists (0:@@r7=1)' }), 'P0 has no register `r7`'],
    ['condition names no location', p0('', { cond: 'exists (@@zz=1)' }), 'unknown location `zz`: not in the initial state nor a parameter of any thread'],
    ['condition value names no location', p0('int *r0;', { cond: 'exists (0:r0=@@zz)' }), 'unknown location `zz`: not in the initial state nor a parameter of any thread'],
    ['condition without =', p0('', { cond: 'exists (x @@1)' }), 'expected `=` in the condition atom (as in `0:r0=1`), found `1`'],
    ['condition unclosed', `${p0('', { cond: '' })}exists (x=1 @@`, 'expected `)` to close the parenthesis in the condition, found the end of the file'],
    ['condition bad atom', p0('', { cond: 'exists (@@/\\ x=1)' }), 'expected a condition atom such as `0:r0=1` or `x=1`, found `/\\`'],
    ['locations unclosed', p0('', { cond: 'locations [x @@exists (x=1)' }), 'expected `;` or `]` in `locations [...]`, found `exists`'],
    ['too deep', p0(`int r0; r0 = ${'('.repeat(100)}@@(1${')'.repeat(101)};`), 'nesting deeper than 100 levels'],
  ];

  it.each(cases)('%s', (_name, text, message) => expectError(text, message));

  it('are one line: file:line:col: message', () => {
    for (const [, text] of cases) {
      let message = '';
      try {
        parse(text.replace('@@', ''));
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(/^t\.litmus:\d+:\d+: [^\n]+$/);
    }
  });
});

describe('parseLitmus on damaged input (fuzz)', () => {
  /** A floor on the project's numRuns (FC_NUM_RUNS raises it): each case is a fraction of a millisecond. */
  const FUZZ_RUNS = 1000;
  const seeds = corpusFiles(CORPUS).map((f) => readFileSync(f, 'utf8'));
  const ALPHABET = ['(', ')', '{', '}', '*', ';', ',', '=', '~', '/', '\\', ':', '&', '-', '!', '<', 'P', '1', 'r0', 'x', '\n', ' ', '(*', '*)', '/*', '//', 'if', 'int ', 'exists', 'IPI_P1', '\u00e9', '\u0000', '7', '0:', 'P9', '*r0', 'send_ipi(P1);'];

  /**
   * Character edits; `replace`: one word or symbol of the text put in the place of another (names,
   * numbers, operators); `renumber`: a digit run (in `P1`, `r0`, `1:r0`, a value) set to `len`.
   */
  type Edit = { readonly kind: 'truncate' | 'delete' | 'insert' | 'replace' | 'renumber'; readonly at: number; readonly other: number; readonly len: number; readonly piece: string };
  const edit = fc.record({
    kind: fc.constantFrom('truncate', 'delete', 'insert', 'replace', 'renumber'),
    at: fc.nat(),
    other: fc.nat(),
    len: fc.integer({ min: 1, max: 8 }),
    piece: fc.oneof(fc.constantFrom(...ALPHABET), fc.string({ maxLength: 3 })),
  }) as fc.Arbitrary<Edit>;

  function apply(text: string, e: Edit): string {
    const at = text.length === 0 ? 0 : e.at % (text.length + 1);
    if (e.kind === 'truncate') return text.slice(0, at);
    if (e.kind === 'delete') return text.slice(0, at) + text.slice(at + e.len);
    if (e.kind === 'insert') return text.slice(0, at) + e.piece + text.slice(at);
    if (e.kind === 'renumber') {
      const numbers = [...text.matchAll(/[0-9]+/g)];
      const n = numbers[e.at % Math.max(1, numbers.length)];
      return n === undefined ? text : text.slice(0, n.index) + String(e.len) + text.slice(n.index + n[0].length);
    }
    const words = [...text.matchAll(/[A-Za-z_0-9]+|[^\sA-Za-z_0-9]+/g)];
    const target = words[e.at % Math.max(1, words.length)];
    const source = words[e.other % Math.max(1, words.length)];
    if (target === undefined || source === undefined) return text;
    return text.slice(0, target.index) + source[0] + text.slice(target.index + target[0].length);
  }

  it('only ever returns a LitmusTest or throws a one-line LitmusSyntaxError inside the text', () => {
    fc.assert(
      fc.property(fc.nat({ max: seeds.length - 1 }), fc.array(edit, { minLength: 1, maxLength: 4 }), (which, edits) => {
        const text = edits.reduce(apply, seeds[which] as string);
        try {
          const t = parseLitmus(text, FILE);
          expect(t.threads.length).toBeGreaterThan(0);
        } catch (e) {
          if (!(e instanceof LitmusSyntaxError)) throw e;
          expect(e.message).toMatch(/^t\.litmus:\d+:\d+: [^\n]+$/);
          const lines = text.split('\n');
          expect(e.pos.line).toBeGreaterThanOrEqual(1);
          expect(e.pos.line).toBeLessThanOrEqual(lines.length);
          expect(e.pos.col).toBeGreaterThanOrEqual(1);
          expect(e.pos.col).toBeLessThanOrEqual((lines[e.pos.line - 1] as string).length + 1);
        }
      }),
      { numRuns: Math.max(fc.readConfigureGlobal().numRuns ?? 100, FUZZ_RUNS) },
    );
  });
});
