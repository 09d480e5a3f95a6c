import { LitmusSyntaxError, type SourcePos } from './ast';

/**
 * Tokens of the C litmus format. `name` is the test's name after `C` (it may hold `+ . -`, so it
 * is read raw, not as an identifier).
 */
export interface Token {
  readonly kind: 'ident' | 'int' | 'punct' | 'name' | 'eof';
  readonly text: string;
  readonly pos: SourcePos;
  /** For `int`: the value. */
  readonly value: number;
}

export interface Lexed {
  readonly tokens: readonly Token[];
  /** The text of the `(* ... *)` comment that directly follows the name, without its delimiters. */
  readonly comment: string | undefined;
}

const PUNCT2 = ['/\\', '\\/', '==', '!=', '<=', '>=', '&&', '||'];
const PUNCT1 = '{}()[];,:=*&|^+-<>!~/%.';

/** Quoted for a message: printable characters as themselves, others as U+XXXX. */
export function showChar(ch: string): string {
  const code = ch.codePointAt(0) ?? 0;
  return code >= 0x21 && code <= 0x7e ? `\`${ch}\`` : `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Splits a litmus file into tokens. Comments: `//` and `/* *\/` anywhere; herd's `(* *)` (which
 * nest) outside braces only, since inside a thread body `(*x)` is C.
 */
export function tokenize(text: string, file: string): Lexed {
  const tokens: Token[] = [];
  let comment: string | undefined;
  let i = 0;
  let line = 1;
  let col = 1;
  let depth = 0;
  let afterName = false;

  const here = (): SourcePos => ({ line, col });
  const fail = (pos: SourcePos, msg: string): never => {
    throw new LitmusSyntaxError(file, pos, msg);
  };
  const advance = (n: number): void => {
    for (let k = 0; k < n && i < text.length; k++) {
      if (text[i] === '\n') {
        line++;
        col = 1;
      } else {
        col++;
      }
      i++;
    }
  };
  const push = (kind: Token['kind'], tokText: string, pos: SourcePos, value = 0): void => {
    tokens.push({ kind, text: tokText, pos, value });
  };

  while (i < text.length) {
    const ch = text[i] as string;
    const nx = text[i + 1];
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\f' || ch === '\v') {
      advance(1);
      continue;
    }
    if (ch === '/' && nx === '/') {
      while (i < text.length && text[i] !== '\n') advance(1);
      continue;
    }
    if (ch === '/' && nx === '*') {
      const start = here();
      const end = text.indexOf('*/', i + 2);
      if (end < 0) fail(start, 'unterminated comment: expected `*/` to close this `/*`');
      advance(end + 2 - i);
      continue;
    }
    if (ch === '(' && nx === '*' && depth === 0) {
      const start = here();
      const bodyStart = i + 2;
      advance(2);
      let nest = 1;
      while (nest > 0) {
        if (i >= text.length) fail(start, 'unterminated comment: expected `*)` to close this `(*`');
        if (text[i] === '(' && text[i + 1] === '*') {
          nest++;
          advance(2);
        } else if (text[i] === '*' && text[i + 1] === ')') {
          nest--;
          advance(2);
        } else {
          advance(1);
        }
      }
      if (afterName && comment === undefined) comment = text.slice(bodyStart, i - 2);
      afterName = false;
      continue;
    }
    afterName = false;
    const pos = here();
    if (tokens.length === 0) {
      // The header: `C <name>`.
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i, i + 64));
      if (m === null || m[0] !== 'C') {
        const what = m === null ? showChar(ch) : `\`${m[0]}\``;
        fail(pos, `expected \`C <name>\` at the start of a C litmus test, found ${what}`);
      }
      push('ident', 'C', pos);
      advance(1);
      while (i < text.length && (text[i] === ' ' || text[i] === '\t')) advance(1);
      const namePos = here();
      let j = i;
      while (j < text.length && /[A-Za-z0-9_+.\-]/.test(text[j] as string)) j++;
      if (j === i) fail(namePos, `expected the test's name after \`C\`, found ${i < text.length ? showChar(text[i] as string) : 'the end of the file'}`);
      push('name', text.slice(i, j), namePos);
      advance(j - i);
      afterName = true;
      continue;
    }
    if (/[A-Za-z_]/.test(ch)) {
      let j = i + 1;
      while (j < text.length && /[A-Za-z0-9_]/.test(text[j] as string)) j++;
      push('ident', text.slice(i, j), pos);
      advance(j - i);
      continue;
    }
    if (/[0-9]/.test(ch)) {
      let j = i + 1;
      const hex = ch === '0' && (nx === 'x' || nx === 'X');
      if (hex) j = i + 2;
      while (j < text.length && /[A-Za-z0-9_]/.test(text[j] as string)) j++;
      const lit = text.slice(i, j);
      if (!(hex ? /^0[xX][0-9a-fA-F]+$/ : /^[0-9]+$/).test(lit)) fail(pos, `malformed number \`${lit.slice(0, 40)}\``);
      const value = Number(lit);
      if (!Number.isSafeInteger(value)) fail(pos, `integer \`${lit.slice(0, 40)}\` is out of range (at most ${Number.MAX_SAFE_INTEGER})`);
      push('int', lit, pos, value);
      advance(j - i);
      continue;
    }
    const two = text.slice(i, i + 2);
    if (PUNCT2.includes(two)) {
      push('punct', two, pos);
      advance(2);
      continue;
    }
    if (PUNCT1.includes(ch)) {
      if (ch === '{') depth++;
      if (ch === '}') depth = Math.max(0, depth - 1);
      push('punct', ch, pos);
      advance(1);
      continue;
    }
    fail(pos, `unexpected character ${showChar(String.fromCodePoint(text.codePointAt(i) ?? 0))}`);
  }
  if (tokens.length === 0) fail(here(), 'expected `C <name>` at the start of a C litmus test, found an empty file');
  push('eof', '', here());
  return { tokens, comment };
}
