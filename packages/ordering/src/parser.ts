import {
  LitmusSyntaxError,
  type BinaryOp,
  type Condition,
  type Expr,
  type LitmusTest,
  type LocExpr,
  type Prop,
  type Quantifier,
  type SourcePos,
  type StateLoc,
  type Stmt,
  type Thread,
  type Value,
} from './ast';
import { tokenize, type Token } from './lexer';
import { lookupPrimitive, suggestPrimitive, type LocForm, type Primitive } from './primitives';

/**
 * Reads a test in the C litmus format of the kernel's tools/memory-model/litmus-tests (herd7's C
 * front end, the subset docs/ordering.md lists) plus ipilab's IPI and TLB extensions. Every
 * mistake is a LitmusSyntaxError at the offending token; nothing else is thrown for bad input.
 */
export function parseLitmus(text: string, file: string): LitmusTest {
  const { tokens, comment } = tokenize(text, file);
  return new Parser(tokens, comment, file).parseTest();
}

/** Type words accepted in parameter and register declarations (`int`, `atomic_t`, `spinlock_t`, ...). */
const TYPE_WORDS = new Set([
  'int',
  'long',
  'short',
  'char',
  'unsigned',
  'signed',
  'bool',
  'volatile',
  'const',
  'atomic_t',
  'atomic_long_t',
  'spinlock_t',
  'u8',
  'u16',
  'u32',
  'u64',
  's8',
  's16',
  's32',
  's64',
  'intptr_t',
  'uintptr_t',
]);
const LOOPS = new Set(['while', 'for', 'do', 'goto', 'switch', 'return', 'break', 'continue']);
/** Parentheses, `if`s and `~`s nest at most this deep, so a pathological file cannot exhaust the stack. */
const MAX_NESTING = 100;
const THREAD_RE = /^P(0|[1-9][0-9]{0,5})$/;
const HANDLER_RE = /^IPI_P(0|[1-9][0-9]{0,5})$/;

/** What a thread body (or an IPI handler) can name while it is being parsed. */
interface Scope {
  /** `P1` or `IPI_P1`, for messages. */
  readonly label: string;
  readonly thread: number;
  readonly params: ReadonlySet<string>;
  readonly registers: string[];
  /** The body's registers when this scope is a handler (its own must not clash with them). */
  readonly bodyRegisters: ReadonlySet<string>;
  /** Names declared somewhere in this body: a use before the declaration gets its own message. */
  readonly declaredLater: ReadonlySet<string>;
}

interface PendingSend {
  readonly from: number;
  readonly inHandler: boolean;
  readonly target: number;
  readonly tok: Token;
}

function describe(tok: Token): string {
  if (tok.kind === 'eof') return 'the end of the file';
  return `\`${tok.text.length > 40 ? `${tok.text.slice(0, 40)}...` : tok.text}\``;
}

class Parser {
  private i = 0;
  private nesting = 0;
  private readonly init = new Map<string, Value>();
  /** Where each init entry was written, for "initialised twice". */
  private readonly initDeclared = new Set<string>();
  private readonly threads: Thread[] = [];
  private readonly handlerParams: string[] = [];
  private readonly sends: PendingSend[] = [];

  constructor(
    private readonly toks: readonly Token[],
    private readonly comment: string | undefined,
    private readonly file: string,
  ) {}

  // ---- token helpers -------------------------------------------------------------------------

  private peek(k = 0): Token {
    return this.toks[Math.min(this.i + k, this.toks.length - 1)] as Token;
  }

  private next(): Token {
    const t = this.peek();
    if (this.i < this.toks.length - 1) this.i++;
    return t;
  }

  private fail(at: Token | SourcePos, message: string): never {
    throw new LitmusSyntaxError(this.file, 'kind' in at ? at.pos : at, message);
  }

  private isPunct(p: string, k = 0): boolean {
    const t = this.peek(k);
    return t.kind === 'punct' && t.text === p;
  }

  private isIdent(name?: string, k = 0): boolean {
    const t = this.peek(k);
    return t.kind === 'ident' && (name === undefined || t.text === name);
  }

  private expect(p: string, context: string): Token {
    if (!this.isPunct(p)) this.fail(this.peek(), `expected \`${p}\` ${context}, found ${describe(this.peek())}`);
    return this.next();
  }

  private expectIdent(what: string): Token {
    if (!this.isIdent()) this.fail(this.peek(), `expected ${what}, found ${describe(this.peek())}`);
    return this.next();
  }

  private enter(at: Token): void {
    if (++this.nesting > MAX_NESTING) this.fail(at, `nesting deeper than ${MAX_NESTING} levels`);
  }

  private leave(): void {
    this.nesting--;
  }

  // ---- the test ------------------------------------------------------------------------------

  parseTest(): LitmusTest {
    this.next(); // `C`, checked by the lexer
    const nameTok = this.next();
    this.parseInit();

    while (this.isIdent() && THREAD_RE.test(this.peek().text)) this.parseThread();
    if (this.threads.length === 0) {
      const t = this.peek();
      if (t.kind === 'ident' && /^P[0-9]/.test(t.text)) this.fail(t, `expected a thread \`P0(...) { ... }\`, found ${describe(t)}`);
      this.fail(t, `expected a thread \`P0(int *x, ...) { ... }\` after the initial state, found ${describe(t)}`);
    }
    const handled = new Set<number>();
    while (this.isIdent() && HANDLER_RE.test(this.peek().text)) this.parseHandler(handled);
    if (this.isIdent() && THREAD_RE.test(this.peek().text)) this.fail(this.peek(), `threads come before the IPI handlers: move ${describe(this.peek())} above the first \`IPI_P\` block`);
    this.checkSends(handled);

    const locations = this.isIdent('locations') ? this.parseLocations() : [];
    const condition = this.parseCondition();
    if (this.peek().kind !== 'eof') this.fail(this.peek(), `expected the end of the file after the condition, found ${describe(this.peek())}`);

    for (const t of this.threads) for (const p of t.params) if (!this.init.has(p)) this.init.set(p, 0);
    for (const p of this.handlerParams) if (!this.init.has(p)) this.init.set(p, 0);

    const expected = this.comment === undefined ? undefined : /Result:\s*(Never|Sometimes|Always)\b/.exec(this.comment)?.[1];
    return {
      name: nameTok.text,
      ...(this.comment === undefined ? {} : { comment: this.comment }),
      ...(expected === undefined ? {} : { expected: expected as 'Never' | 'Sometimes' | 'Always' }),
      init: this.init,
      threads: this.threads,
      locations,
      condition,
      file: this.file,
    };
  }

  // ---- initial state -------------------------------------------------------------------------

  private parseInit(): void {
    this.expect('{', 'to open the initial state (`{}` when empty)');
    while (!this.isPunct('}')) {
      const t = this.peek();
      if (t.kind === 'eof') this.fail(t, 'expected `}` to close the initial state, found the end of the file');
      if (this.isPunct(';')) {
        this.next();
        continue;
      }
      if (t.kind === 'int' && this.isPunct(':', 1)) this.fail(t, 'initial register values (`0:r1=...`) are not supported: assign the register in the thread body');
      if (t.kind === 'ident' && TYPE_WORDS.has(t.text)) {
        this.skipTypeWords();
        do {
          while (this.isPunct('*')) this.next();
          this.parseInitEntry();
        } while (this.isPunct(',') && this.next().kind === 'punct');
      } else {
        this.parseInitEntry();
      }
      if (!this.isPunct(';') && !this.isPunct('}')) this.fail(this.peek(), `expected \`;\` between initial values, found ${describe(this.peek())}`);
    }
    this.next();
  }

  private skipTypeWords(): void {
    while (this.isIdent() && TYPE_WORDS.has(this.peek().text)) this.next();
  }

  private parseInitEntry(): void {
    const nameTok = this.expectIdent('a location name in the initial state');
    this.checkLocationName(nameTok);
    if (this.initDeclared.has(nameTok.text)) this.fail(nameTok, `\`${nameTok.text}\` is initialised twice`);
    this.initDeclared.add(nameTok.text);
    let value: Value = 0;
    if (this.isPunct('=')) {
      this.next();
      value = this.parseInitValue();
    }
    this.init.set(nameTok.text, value);
  }

  private parseInitValue(): Value {
    const t = this.peek();
    if (this.isPunct('-') && this.peek(1).kind === 'int') {
      this.next();
      return -this.next().value;
    }
    if (t.kind === 'int') return this.next().value;
    if (this.isPunct('&')) this.next();
    const loc = this.expectIdent('an integer, `&x` or a location name as the initial value');
    this.checkLocationName(loc);
    if (!this.init.has(loc.text)) this.init.set(loc.text, 0);
    return { loc: loc.text };
  }

  private checkLocationName(t: Token): void {
    if (TYPE_WORDS.has(t.text) || t.text === 'exists' || t.text === 'forall') this.fail(t, `expected a location name, found ${describe(t)}`);
  }

  // ---- threads and handlers ------------------------------------------------------------------

  private parseThread(): void {
    const head = this.next();
    const index = Number(head.text.slice(1));
    if (this.threads.some((t) => t.index === index)) this.fail(head, `\`${head.text}\` is defined twice`);
    if (index !== this.threads.length) this.fail(head, `expected \`P${this.threads.length}\`: threads are numbered P0, P1, ... without gaps, found ${describe(head)}`);
    const params = this.parseParams(head.text);
    const scope: Scope = {
      label: head.text,
      thread: index,
      params: new Set(params),
      registers: [],
      bodyRegisters: new Set(),
      declaredLater: this.scanDeclarations(),
    };
    const body = this.parseBody(scope, false);
    this.threads.push({ index, params, registers: scope.registers, body, pos: head.pos });
  }

  private parseHandler(handled: Set<number>): void {
    const head = this.next();
    const index = Number(head.text.slice(5));
    const thread = this.threads[index];
    if (thread === undefined) this.fail(head, `\`${head.text}\` names no thread: this test has P0..P${this.threads.length - 1}`);
    if (handled.has(index)) this.fail(head, `\`${head.text}\` is defined twice: a thread has at most one IPI handler`);
    handled.add(index);
    const own = this.isPunct('(') ? this.parseParams(head.text) : [];
    for (const p of own) if (!this.handlerParams.includes(p)) this.handlerParams.push(p);
    const scope: Scope = {
      label: head.text,
      thread: index,
      params: new Set([...thread.params, ...own]),
      registers: [],
      bodyRegisters: new Set(thread.registers),
      declaredLater: this.scanDeclarations(),
    };
    const body = this.parseBody(scope, true);
    this.threads[index] = { ...thread, ipiHandler: { registers: scope.registers, body, pos: head.pos } };
  }

  private parseParams(owner: string): string[] {
    this.expect('(', `after \`${owner}\` to open its parameter list`);
    const params: string[] = [];
    if (this.isPunct(')')) {
      this.next();
      return params;
    }
    for (;;) {
      const typeTok = this.peek();
      if (!this.isIdent() || !TYPE_WORDS.has(typeTok.text)) this.fail(typeTok, `expected a parameter type such as \`int *x\`, found ${describe(typeTok)}`);
      this.skipTypeWords();
      if (!this.isPunct('*')) this.fail(this.peek(), `expected \`*\`: parameters are pointers to shared locations, as in \`int *x\`, found ${describe(this.peek())}`);
      while (this.isPunct('*')) this.next();
      const name = this.expectIdent('a parameter name');
      this.checkLocationName(name);
      if (params.includes(name.text)) this.fail(name, `parameter \`${name.text}\` is declared twice in \`${owner}\``);
      params.push(name.text);
      if (this.isPunct(',')) {
        this.next();
        continue;
      }
      this.expect(')', `to close \`${owner}\`'s parameter list`);
      return params;
    }
  }

  /** The names a body declares (`type *name` patterns up to its closing brace), so a use before the declaration can say so. */
  private scanDeclarations(): Set<string> {
    const names = new Set<string>();
    let depth = 0;
    for (let k = this.i; k < this.toks.length; k++) {
      const t = this.toks[k] as Token;
      if (t.kind === 'punct' && t.text === '{') depth++;
      if (t.kind === 'punct' && t.text === '}' && --depth <= 0) break;
      if (t.kind === 'ident' && TYPE_WORDS.has(t.text)) {
        let j = k + 1;
        while (j < this.toks.length && (this.toks[j] as Token).kind === 'punct' && (this.toks[j] as Token).text === '*') j++;
        const n = this.toks[j];
        if (n !== undefined && n.kind === 'ident' && !TYPE_WORDS.has(n.text)) names.add(n.text);
      }
      if (t.kind === 'eof') break;
    }
    return names;
  }

  private parseBody(scope: Scope, inHandler: boolean): Stmt[] {
    this.expect('{', `to open the body of \`${scope.label}\``);
    const out: Stmt[] = [];
    while (!this.isPunct('}')) {
      if (this.peek().kind === 'eof') this.fail(this.peek(), `expected \`}\` to close the body of \`${scope.label}\`, found the end of the file`);
      this.parseStmt(scope, out, inHandler);
    }
    this.next();
    return out;
  }

  // ---- statements ----------------------------------------------------------------------------

  private parseStmt(scope: Scope, out: Stmt[], inHandler: boolean): void {
    const t = this.peek();
    if (this.isPunct(';')) {
      this.next();
      return;
    }
    if (this.isPunct('{')) {
      this.enter(t);
      this.next();
      while (!this.isPunct('}')) {
        if (this.peek().kind === 'eof') this.fail(this.peek(), 'expected `}` to close the block, found the end of the file');
        this.parseStmt(scope, out, inHandler);
      }
      this.next();
      this.leave();
      return;
    }
    if (this.isPunct('*')) this.fail(t, 'plain C accesses are not modelled: use WRITE_ONCE/READ_ONCE');
    if (t.kind !== 'ident') this.fail(t, `expected a statement in \`${scope.label}\`, found ${describe(t)}`);
    if (TYPE_WORDS.has(t.text)) return this.parseDecl(scope, out, inHandler);
    if (t.text === 'if') return this.parseIf(scope, out, inHandler);
    if (t.text === 'else') this.fail(t, '`else` without a matching `if`');
    if (LOOPS.has(t.text)) this.fail(t, `\`${t.text}\` is not supported: litmus bodies are straight-line code with \`if\``);
    if (this.isPunct('(', 1)) {
      this.next();
      this.parseCall(t, scope, undefined, out, inHandler);
      this.expect(';', `after \`${t.text}(...)\``);
      return;
    }
    if (this.isPunct('=', 1)) {
      this.next();
      this.next();
      const reg = this.assignableRegister(t, scope);
      this.parseRhs(reg, t, scope, out, inHandler);
      this.expect(';', 'after the assignment');
      return;
    }
    this.fail(this.peek(1), `expected \`=\` or \`(\` after ${describe(t)}, found ${describe(this.peek(1))}`);
  }

  private assignableRegister(t: Token, scope: Scope): string {
    if (scope.registers.includes(t.text)) return t.text;
    if (scope.params.has(t.text)) this.fail(t, `\`${t.text}\` is a shared location, not a register: write \`WRITE_ONCE(*${t.text}, ...)\``);
    return this.unknownName(t, scope);
  }

  private unknownName(t: Token, scope: Scope): never {
    if (scope.declaredLater.has(t.text)) this.fail(t, `register \`${t.text}\` is used before its declaration in \`${scope.label}\``);
    if (scope.bodyRegisters.has(t.text)) this.fail(t, `\`${t.text}\` is a register of P${scope.thread}'s body, which \`${scope.label}\` cannot use: declare the handler's own`);
    this.fail(t, `unknown register or location \`${t.text}\` in \`${scope.label}\`: declare a register (\`int ${t.text};\`) or add \`int *${t.text}\` to the parameters`);
  }

  private parseDecl(scope: Scope, out: Stmt[], inHandler: boolean): void {
    this.skipTypeWords();
    for (;;) {
      while (this.isPunct('*')) this.next();
      const name = this.expectIdent('a register name after the type');
      if (TYPE_WORDS.has(name.text) || name.text === 'if' || LOOPS.has(name.text)) this.fail(name, `expected a register name, found ${describe(name)}`);
      if (scope.registers.includes(name.text)) this.fail(name, `register \`${name.text}\` is declared twice in \`${scope.label}\``);
      if (scope.params.has(name.text)) this.fail(name, `\`${name.text}\` is already a parameter of \`${scope.label}\``);
      if (scope.bodyRegisters.has(name.text)) this.fail(name, `register \`${name.text}\` is already declared in P${scope.thread}'s body: the handler's registers need their own names`);
      scope.registers.push(name.text);
      if (this.isPunct('=')) {
        this.next();
        this.parseRhs(name.text, name, scope, out, inHandler);
      }
      if (this.isPunct(',')) {
        this.next();
        continue;
      }
      this.expect(';', `after the declaration of \`${name.text}\``);
      return;
    }
  }

  private parseIf(scope: Scope, out: Stmt[], inHandler: boolean): void {
    const ifTok = this.next();
    this.enter(ifTok);
    this.expect('(', 'after `if`');
    const cond = this.parseExpr(scope);
    this.expect(')', 'to close the `if` condition');
    const then = this.parseBranch(scope, inHandler);
    let otherwise: Stmt[] = [];
    if (this.isIdent('else')) {
      this.next();
      otherwise = this.parseBranch(scope, inHandler);
    }
    this.leave();
    out.push({ kind: 'if', cond, then, else: otherwise, pos: ifTok.pos });
  }

  private parseBranch(scope: Scope, inHandler: boolean): Stmt[] {
    const out: Stmt[] = [];
    if (this.peek().kind === 'eof') this.fail(this.peek(), 'expected a statement after the `if` condition, found the end of the file');
    this.parseStmt(scope, out, inHandler);
    return out;
  }

  /** The right-hand side of `r = ...`: a read or value-returning RMW primitive, or an expression. */
  private parseRhs(reg: string, at: Token, scope: Scope, out: Stmt[], inHandler: boolean): void {
    if (this.isIdent() && this.isPunct('(', 1) && !this.isRegisterOrParam(this.peek().text, scope)) {
      const callee = this.next();
      this.parseCall(callee, scope, reg, out, inHandler);
      return;
    }
    out.push({ kind: 'assign', reg, value: this.parseExpr(scope), pos: at.pos });
  }

  private isRegisterOrParam(name: string, scope: Scope): boolean {
    return scope.registers.includes(name) || scope.params.has(name);
  }

  /** After the callee's name (already consumed): `(args)`, appending the statements it stands for. */
  private parseCall(callee: Token, scope: Scope, result: string | undefined, out: Stmt[], inHandler: boolean): void {
    const prim = lookupPrimitive(callee.text);
    if (prim === undefined) {
      const hint = suggestPrimitive(callee.text);
      this.fail(callee, `unknown primitive \`${callee.text}\`${hint === undefined ? '' : `: did you mean \`${hint}\`?`}`);
    }
    if (prim.kind === 'unsupported') this.fail(callee, `\`${callee.text}\` is not modelled (locks, RCU and SRCU are outside ipilab's subset; see docs/ordering.md)`);
    const pos = callee.pos;
    const returnsValue = prim.kind === 'read' || (prim.kind === 'rmw' && !prim.noReturn);
    if (returnsValue && result === undefined) this.fail(callee, `the value of \`${callee.text}\` must go to a register: \`${prim.usage}\``);
    if (!returnsValue && result !== undefined) this.fail(callee, `\`${callee.text}\` returns no value: write \`${prim.usage};\` on its own`);
    this.expect('(', `after \`${callee.text}\``);
    const close = (): void => {
      this.expect(')', `to close \`${prim.usage}\``);
    };
    const comma = (): void => {
      this.expect(',', `between the arguments of \`${prim.usage}\``);
    };
    switch (prim.kind) {
      case 'write': {
        const loc = this.parseLoc(prim.form, callee.text, scope);
        comma();
        const value = this.parseExpr(scope);
        close();
        out.push({ kind: 'write', mode: prim.mode, loc, value, pos });
        if (prim.thenMb) out.push({ kind: 'fence', fence: 'mb', pos });
        return;
      }
      case 'read': {
        const loc = this.parseLoc(prim.form, callee.text, scope);
        close();
        out.push({ kind: 'read', mode: prim.mode, reg: result as string, loc, pos });
        return;
      }
      case 'fence':
      case 'noop':
        close();
        if (prim.kind === 'fence') out.push({ kind: 'fence', fence: prim.fence, pos });
        return;
      case 'rmw': {
        let operand: Expr | undefined;
        let newValue: Expr | undefined;
        let loc: LocExpr;
        if (prim.args === 'VX') {
          operand = this.parseExpr(scope);
          comma();
          loc = this.parseLoc('ptr', callee.text, scope);
        } else {
          loc = this.parseLoc('ptr', callee.text, scope);
          if (prim.args === 'XV' || prim.args === 'XVW') {
            comma();
            operand = this.parseExpr(scope);
          }
          if (prim.args === 'XVW') {
            comma();
            newValue = this.parseExpr(scope);
          }
        }
        close();
        out.push({
          kind: 'rmw',
          op: prim.op,
          order: prim.order,
          returnsOld: prim.returnsOld,
          reg: result,
          loc,
          operand: operand ?? { kind: 'const', value: prim.constOperand ?? 1 },
          ...(newValue === undefined ? {} : { newValue }),
          pos,
        });
        if (prim.test !== undefined && result !== undefined) {
          out.push({ kind: 'assign', reg: result, value: { kind: 'binary', op: prim.test, left: { kind: 'reg', name: result }, right: { kind: 'const', value: 0 } }, pos });
        }
        return;
      }
      case 'send_ipi': {
        const target = this.peek();
        const m = target.kind === 'ident' ? THREAD_RE.exec(target.text) : null;
        if (m === null) this.fail(target, `expected a thread such as \`P1\` as the target of \`send_ipi\`, found ${describe(target)}`);
        this.next();
        close();
        const n = Number(m[1]);
        this.sends.push({ from: scope.thread, inHandler, target: n, tok: target });
        out.push({ kind: 'send_ipi', target: n, pos });
        return;
      }
      case 'tlb_fill':
      case 'tlb_invalidate': {
        const loc = this.parseLoc('tlb', callee.text, scope);
        close();
        out.push({ kind: prim.kind, loc, pos });
        return;
      }
      case 'tlb_read': {
        const loc = this.parseLoc('tlb', callee.text, scope);
        comma();
        const regTok = this.expectIdent('a register to receive the translation, as in `tlb_read(x, r0)`');
        const reg = this.assignableRegister(regTok, scope);
        close();
        out.push({ kind: 'tlb_read', loc, reg, pos });
        return;
      }
    }
  }

  /** A location argument in the shape the primitive takes (see primitives.ts' LocForm). */
  private parseLoc(form: LocForm, callee: string, scope: Scope): LocExpr {
    const t = this.peek();
    const star = this.isPunct('*');
    if (this.isPunct('&')) this.fail(t, `\`${callee}\` takes the pointer \`x\` (a parameter), not \`&x\``);
    if (form === 'deref' && !star) this.fail(t, `expected \`*x\`: \`${callee}\` takes the pointed-to location, as in \`${callee}(*x, ...)\`, found ${describe(t)}`);
    if (star) {
      if (form === 'ptr') this.fail(t, `\`${callee}\` takes the pointer \`x\`, not \`*x\`: write \`${callee}(x${callee.includes('read') || callee.includes('acquire') ? '' : ', ...'})\``);
      this.next();
    }
    const name = this.peek();
    if (!this.isIdent()) this.fail(name, `expected a location (a parameter of \`${scope.label}\`) or a pointer register, found ${describe(name)}`);
    this.next();
    if (scope.params.has(name.text)) {
      if (form === 'tlb' && star) this.fail(t, `\`${callee}\` takes the location \`${name.text}\`, not \`*${name.text}\``);
      return { kind: 'shared', name: name.text };
    }
    if (scope.registers.includes(name.text)) {
      if (form === 'tlb' && !star) this.fail(name, `write \`*${name.text}\` to translate the address register \`${name.text}\` holds`);
      return { kind: 'deref', reg: name.text };
    }
    if (scope.declaredLater.has(name.text) || scope.bodyRegisters.has(name.text)) this.unknownName(name, scope);
    this.fail(name, `unknown location \`${name.text}\` in \`${scope.label}\`: add \`int *${name.text}\` to its parameters`);
  }

  private checkSends(handled: ReadonlySet<number>): void {
    for (const s of this.sends) {
      if (s.target >= this.threads.length) this.fail(s.tok, `\`send_ipi\` target \`P${s.target}\` is not a thread of this test (it has P0..P${this.threads.length - 1})`);
      if (s.target === s.from) this.fail(s.tok, `\`P${s.from}\` cannot send an IPI to itself`);
      if (!handled.has(s.target)) this.fail(s.tok, `\`P${s.target}\` has no IPI handler: add \`IPI_P${s.target} { ... }\` after the threads`);
    }
  }

  // ---- expressions (C precedence) ------------------------------------------------------------

  private parseExpr(scope: Scope): Expr {
    return this.parseBinary(scope, 0);
  }

  private static readonly LEVELS: ReadonlyArray<readonly BinaryOp[]> = [
    ['||'],
    ['&&'],
    ['|'],
    ['^'],
    ['&'],
    ['==', '!='],
    ['<', '>', '<=', '>='],
    ['+', '-'],
    ['*'],
  ];

  private parseBinary(scope: Scope, level: number): Expr {
    const ops = Parser.LEVELS[level];
    if (ops === undefined) return this.parseUnary(scope);
    let left = this.parseBinary(scope, level + 1);
    for (;;) {
      const t = this.peek();
      const op = ops.find((o) => t.kind === 'punct' && t.text === o);
      if (op === undefined) {
        if (level === Parser.LEVELS.length - 1 && t.kind === 'punct' && (t.text === '/' || t.text === '%')) this.fail(t, `operator \`${t.text}\` is not supported (use + - * & | ^ and comparisons)`);
        return left;
      }
      this.next();
      const right = this.parseBinary(scope, level + 1);
      left = { kind: 'binary', op, left, right };
    }
  }

  private parseUnary(scope: Scope): Expr {
    const t = this.peek();
    if (this.isPunct('!') || this.isPunct('-') || this.isPunct('+')) {
      this.enter(t);
      this.next();
      if (t.text === '-' && this.peek().kind === 'int') {
        const v = this.next().value;
        this.leave();
        return { kind: 'const', value: v === 0 ? 0 : -v };
      }
      const operand = this.parseUnary(scope);
      this.leave();
      if (t.text === '+') return operand;
      return t.text === '!' ? { kind: 'not', operand } : { kind: 'neg', operand };
    }
    if (this.isPunct('*')) this.fail(t, 'plain C accesses are not modelled: use WRITE_ONCE/READ_ONCE');
    if (this.isPunct('~')) this.fail(t, 'operator `~` is not supported (use `!` or `^ -1`)');
    if (this.isPunct('&')) {
      this.next();
      const name = this.expectIdent('a location after `&`');
      if (!scope.params.has(name.text)) {
        if (scope.registers.includes(name.text)) this.fail(name, `\`&${name.text}\`: registers have no address; \`&\` takes a location parameter`);
        this.fail(name, `unknown location \`${name.text}\` in \`${scope.label}\`: add \`int *${name.text}\` to its parameters`);
      }
      return { kind: 'addr', loc: name.text };
    }
    if (this.isPunct('(')) {
      this.enter(t);
      this.next();
      const e = this.parseExpr(scope);
      this.expect(')', 'to close the parenthesis');
      this.leave();
      return e;
    }
    if (t.kind === 'int') {
      this.next();
      return { kind: 'const', value: t.value };
    }
    if (t.kind === 'ident') {
      this.next();
      if (this.isPunct('(')) {
        const prim = lookupPrimitive(t.text);
        if (prim === undefined) {
          const hint = suggestPrimitive(t.text);
          this.fail(t, `unknown primitive \`${t.text}\`${hint === undefined ? '' : `: did you mean \`${hint}\`?`}`);
        }
        if (prim.kind === 'unsupported') this.fail(t, `\`${t.text}\` is not modelled (locks, RCU and SRCU are outside ipilab's subset; see docs/ordering.md)`);
        this.fail(t, `\`${t.text}(...)\` cannot be part of an expression: assign it to a register first (\`r = ${t.text}(...);\`)`);
      }
      if (scope.registers.includes(t.text)) return { kind: 'reg', name: t.text };
      if (scope.params.has(t.text)) return { kind: 'addr', loc: t.text };
      return this.unknownName(t, scope);
    }
    this.fail(t, `expected an expression (an integer, a register, \`&x\` or a parenthesis), found ${describe(t)}`);
  }

  // ---- locations and condition ---------------------------------------------------------------

  private knownLocations(): Set<string> {
    const names = new Set(this.init.keys());
    for (const t of this.threads) {
      for (const p of t.params) names.add(p);
    }
    for (const p of this.handlerParams) names.add(p);
    return names;
  }

  private parseLocations(): StateLoc[] {
    this.next();
    this.expect('[', 'after `locations`');
    const out: StateLoc[] = [];
    while (!this.isPunct(']')) {
      if (this.isPunct(';')) {
        this.next();
        continue;
      }
      if (this.peek().kind === 'eof') this.fail(this.peek(), 'expected `]` to close `locations [...]`, found the end of the file');
      out.push(this.parseStateLoc());
      if (!this.isPunct(';') && !this.isPunct(']')) this.fail(this.peek(), `expected \`;\` or \`]\` in \`locations [...]\`, found ${describe(this.peek())}`);
    }
    this.next();
    return out;
  }

  /** `0:r1` (a register of thread 0, its body's or its handler's) or `x` (a shared location). */
  private parseStateLoc(): StateLoc {
    const t = this.peek();
    if (t.kind === 'int') {
      this.next();
      this.expect(':', `after the thread number \`${t.text}\` (as in \`${t.text}:r0\`)`);
      const reg = this.expectIdent(`a register of thread ${t.text}`);
      const thread = this.threads[t.value];
      if (thread === undefined) this.fail(t, `thread ${t.text} does not exist: this test has P0..P${this.threads.length - 1}`);
      if (!thread.registers.includes(reg.text) && !(thread.ipiHandler?.registers.includes(reg.text) ?? false)) this.fail(reg, `P${t.text} has no register \`${reg.text}\``);
      return { kind: 'reg', thread: t.value, name: reg.text };
    }
    const loc = this.expectIdent('a register `0:r0` or a location `x`');
    if (!this.knownLocations().has(loc.text)) this.fail(loc, `unknown location \`${loc.text}\`: not in the initial state nor a parameter of any thread`);
    return { kind: 'shared', name: loc.text };
  }

  private parseCondition(): Condition {
    const t = this.peek();
    let quantifier: Quantifier;
    if (this.isIdent('exists')) {
      quantifier = 'exists';
      this.next();
    } else if (this.isPunct('~') && this.isIdent('exists', 1)) {
      quantifier = 'not-exists';
      this.next();
      this.next();
    } else if (this.isIdent('forall')) {
      quantifier = 'forall';
      this.next();
    } else {
      this.fail(t, `expected the condition \`exists (...)\`, \`~exists (...)\` or \`forall (...)\`, found ${describe(t)}`);
    }
    return { quantifier, prop: this.parseOr(), pos: t.pos };
  }

  private parseOr(): Prop {
    const first = this.parseAnd();
    const operands = [first];
    while (this.isPunct('\\/')) {
      this.next();
      operands.push(this.parseAnd());
    }
    return operands.length === 1 ? first : { kind: 'or', operands };
  }

  private parseAnd(): Prop {
    const first = this.parseNot();
    const operands = [first];
    while (this.isPunct('/\\')) {
      this.next();
      operands.push(this.parseNot());
    }
    return operands.length === 1 ? first : { kind: 'and', operands };
  }

  private parseNot(): Prop {
    const t = this.peek();
    if (this.isPunct('~')) {
      this.enter(t);
      this.next();
      const operand = this.parseNot();
      this.leave();
      return { kind: 'not', operand };
    }
    if (this.isPunct('(')) {
      this.enter(t);
      this.next();
      const p = this.parseOr();
      this.expect(')', 'to close the parenthesis in the condition');
      this.leave();
      return p;
    }
    if (this.isIdent('true')) {
      this.next();
      return { kind: 'true' };
    }
    if (this.isIdent('false')) {
      this.next();
      return { kind: 'false' };
    }
    if (t.kind !== 'int' && t.kind !== 'ident') this.fail(t, `expected a condition atom such as \`0:r0=1\` or \`x=1\`, found ${describe(t)}`);
    const loc = this.parseStateLoc();
    this.expect('=', 'in the condition atom (as in `0:r0=1`)');
    return { kind: 'eq', loc, value: this.parseStateValue() };
  }

  private parseStateValue(): Value {
    const t = this.peek();
    if (this.isPunct('-') && this.peek(1).kind === 'int') {
      this.next();
      const v = this.next().value;
      return v === 0 ? 0 : -v;
    }
    if (t.kind === 'int') return this.next().value;
    if (this.isPunct('&')) this.next();
    const loc = this.expectIdent('a value: an integer or a location (`x`, `&x`)');
    if (!this.knownLocations().has(loc.text)) this.fail(loc, `unknown location \`${loc.text}\`: not in the initial state nor a parameter of any thread`);
    return { loc: loc.text };
  }
}
