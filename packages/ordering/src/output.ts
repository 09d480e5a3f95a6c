import type { Condition, LitmusTest, Prop, StateLoc, Value } from './ast';
import type { CheckResult, Execution } from './check';
import { formatValue, isIpiLine, type RtValue } from './events';
import { candidateRelations, Skeleton } from './model';
import { Relation } from './relation';

/**
 * herd7's text for a test's result, line for line (herd7's top-level printer: Test, States,
 * the states, Ok/No, Witnesses, Positive/Negative, Condition, Observation), so a diff against
 * `herd7 -conf linux-kernel.cfg` output lines up. herd7 also prints `Time` (wall clock) and
 * `Hash` lines; `Time` only comes with `time` set (its value is the caller's), and `Hash` never
 * (it is an MD5 of herd7's own normal form of the test).
 */
export function herdText(r: CheckResult, time?: number): string {
  const name = r.test.name;
  const lines: string[] = [];
  lines.push(`Test ${name} ${kindOf(r.test.condition)}`);
  lines.push(`States ${r.states.length}`);
  for (const s of r.states) lines.push(stateText(r.observed, s.values));
  lines.push(r.ok ? 'Ok' : 'No');
  lines.push('Witnesses');
  lines.push(`Positive: ${r.positive} Negative: ${r.negative}`);
  lines.push(`Condition ${conditionText(r.test.condition)}`);
  lines.push(`Observation ${name} ${r.observation} ${r.positive} ${r.negative}`);
  if (time !== undefined) lines.push(`Time ${name} ${time.toFixed(2)}`);
  return `${lines.join('\n')}\n`;
}

/** herd7's kinds: exists -> Allowed, ~exists -> Forbidden, forall -> Required. */
export function kindOf(c: Condition): 'Allowed' | 'Forbidden' | 'Required' {
  return c.quantifier === 'exists' ? 'Allowed' : c.quantifier === 'not-exists' ? 'Forbidden' : 'Required';
}

/** `0:r0` for a register; `[x]` for a shared location, as herd7 (7.5x) prints it in states and conditions. */
export function stateLocText(l: StateLoc): string {
  return l.kind === 'reg' ? `${l.thread}:${l.name}` : `[${l.name}]`;
}

/** `0:r0=0; 1:r0=1;` */
export function stateText(observed: readonly StateLoc[], values: readonly RtValue[]): string {
  return observed.map((l, i) => `${stateLocText(l)}=${formatValue(values[i]!)};`).join(' ');
}

function valueText(v: Value): string {
  return typeof v === 'number' ? String(v) : v.loc;
}

/** A proposition in herd7's syntax, parenthesised only where precedence needs it (~ over /\ over \/). */
export function propText(p: Prop, parent: 'top' | 'or' | 'and' | 'not' = 'top'): string {
  switch (p.kind) {
    case 'true':
      return 'true';
    case 'false':
      return 'false';
    case 'eq':
      return `${stateLocText(p.loc)}=${valueText(p.value)}`;
    case 'not':
      return `~${propText(p.operand, 'not')}`;
    case 'and': {
      const t = p.operands.map((q) => propText(q, 'and')).join(' /\\ ');
      return parent === 'not' ? `(${t})` : t;
    }
    case 'or': {
      const t = p.operands.map((q) => propText(q, 'or')).join(' \\/ ');
      return parent === 'and' || parent === 'not' ? `(${t})` : t;
    }
  }
}

/** A condition in herd7's syntax: `exists (...)`, `~exists (...)` or `forall (...)`. */
export function conditionText(c: Condition): string {
  const q = c.quantifier === 'exists' ? 'exists' : c.quantifier === 'not-exists' ? '~exists' : 'forall';
  return `${q} (${propText(c.prop)})`;
}

/** Event labels a, b, c, ... as herd7's graphs name them. */
function label(i: number): string {
  let s = '';
  let n = i;
  do {
    s = String.fromCharCode(97 + (n % 26)) + s;
    n = Math.floor(n / 26) - 1;
  } while (n >= 0);
  return s;
}

/**
 * One allowed execution, step by step: its events in an order happens-before allows (a
 * topological order of hb and po), each with what it read from or where its write falls in
 * the location's coherence order, and the reads that returned a value already overwritten
 * (the fr edges that make the outcome weaker than sequential consistency).
 */
export function traceText(test: LitmusTest, r: CheckResult, x: Execution = r.witness!): string {
  const sk = new Skeleton(x.events);
  const rf = new Relation(sk.n);
  for (const rd of sk.reads) rf.add(x.rf[rd]!, rd);
  const co = new Relation(sk.n);
  for (const [, order] of x.co) for (let i = 0; i < order.length; i++) for (let j = i + 1; j < order.length; j++) co.add(order[i]!, order[j]!);
  const rel = candidateRelations(sk, rf, co);
  const order = topological(rel.hb.union(sk.po), sk.n);
  const lines: string[] = [];
  lines.push(`Trace ${test.name}: an allowed execution where ${propText(test.condition.prop)} holds (${stateText(r.observed, x.state)})`);
  const where = (e: (typeof x.events)[number]): string => (e.pos === undefined ? '' : `  [${test.file}:${e.pos.line}]`);
  for (const i of order) {
    const e = x.events[i]!;
    const who = e.thread < 0 ? 'init' : e.inHandler ? `P${e.thread}/IPI` : `P${e.thread}`;
    let what: string;
    if (e.kind === 'F') what = e.text;
    else if (e.kind === 'W') {
      if (e.ipi === 'send') what = `${e.text}: raises P${e.loc!.slice(5)}'s interrupt`;
      else if (e.thread < 0) what = e.text;
      else {
        const ord = x.co.get(e.loc!) ?? [];
        const pos = ord.indexOf(i);
        what = `${e.text}  (${e.loc}=${formatValue(e.value)}, write ${pos + 1} of ${ord.length} to ${e.loc} in coherence order)`;
      }
    } else {
      const src = x.events[x.rf[i]!]!;
      if (e.ipi === 'entry') what = `${e.text}: takes the interrupt ${label(src.id)} raised (P${src.thread})`;
      else {
        const from = src.thread < 0 ? 'the initial value' : `${label(src.id)} (P${src.thread})`;
        const later = (x.co.get(e.loc!) ?? []).filter((w) => rel.fr.has(i, w) && x.events[w]!.thread !== e.thread);
        const stale = later.length > 0 ? `; already overwritten by ${later.map((w) => `${label(w)} (P${x.events[w]!.thread}, ${e.loc}=${formatValue(x.events[w]!.value)})`).join(', ')}, not yet visible here` : '';
        what = `${e.text}  reads ${e.loc}=${formatValue(e.value)} from ${from}${stale}`;
      }
    }
    lines.push(`  ${label(i)}: ${who.padEnd(7)} ${what}${where(e)}`);
  }
  const ipiSends = x.events.filter((e) => e.ipi === 'send' && e.loc !== undefined && isIpiLine(e.loc)).length;
  if (ipiSends > 0) lines.push(`  (${ipiSends} IPI(s) sent, each taken once by its target's handler)`);
  return `${lines.join('\n')}\n`;
}

/** A topological order of an acyclic relation, lowest index first among the ready events (stable). */
function topological(r: Relation, n: number): number[] {
  const indegree = new Int32Array(n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j && r.has(i, j)) indegree[j]!++;
  const done = new Uint8Array(n);
  const out: number[] = [];
  while (out.length < n) {
    let next = -1;
    for (let i = 0; i < n; i++)
      if (!done[i] && indegree[i] === 0) {
        next = i;
        break;
      }
    if (next < 0) {
      // Not acyclic (cannot happen for an allowed execution): list the rest in index order.
      for (let i = 0; i < n; i++) if (!done[i]) out.push(i);
      break;
    }
    done[next] = 1;
    out.push(next);
    for (let j = 0; j < n; j++) if (next !== j && r.has(next, j)) indegree[j]!--;
  }
  return out;
}
