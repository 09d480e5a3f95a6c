import type { LitmusTest, Prop, StateLoc, Value } from './ast';
import { formatValue, isIpiLine, type RtValue, type ThreadPath } from './events';
import { initEvent, Skeleton, violatedAxiom, coRelation, rfRelation, type Axiom, type ExecEvent } from './model';
import { DEFAULT_PATH_LIMITS, LitmusLimitError, maxHandlerRuns, threadPaths, valueDomain, type PathLimits } from './paths';
import { Relation } from './relation';

/** One allowed execution: its events, what each read read from, and each location's coherence order. */
export interface Execution {
  readonly events: readonly ExecEvent[];
  /** For each read (by event id), the id of the write it reads from; -1 for non-reads. */
  readonly rf: Int32Array;
  /** Per location, its writes in coherence order (the initial write first). */
  readonly co: ReadonlyMap<string, readonly number[]>;
  /** The final state over the observed locations, in `CheckResult.observed` order. */
  readonly state: readonly RtValue[];
  /** Whether the condition's proposition holds in it. */
  readonly satisfies: boolean;
}

/** One distinct final state of the allowed executions, with how many end in it. */
export interface FinalState {
  readonly values: readonly RtValue[];
  /** How many allowed executions end in it. */
  readonly executions: number;
  readonly satisfies: boolean;
}

/** What checking a test found: herd7's figures, the states, a witness, and the search's statistics. */
export interface CheckResult {
  readonly test: LitmusTest;
  /** The locations a state shows: the condition's and `locations`, herd7's order. */
  readonly observed: readonly StateLoc[];
  /** Distinct final states of the allowed executions, sorted. */
  readonly states: readonly FinalState[];
  /** Allowed executions in which the condition's proposition holds, and in which it does not. */
  readonly positive: number;
  readonly negative: number;
  /** herd7's validation: exists -> some positive; ~exists -> no positive; forall -> no negative. */
  readonly ok: boolean;
  readonly observation: 'Always' | 'Sometimes' | 'Never';
  /** The first allowed execution satisfying the proposition (for --trace), if any. */
  readonly witness: Execution | undefined;
  /** Candidates examined and those each axiom rejected (pruned partial candidates count once). */
  readonly stats: CheckStats;
}

/** How much the enumeration examined, and what each axiom rejected. */
export interface CheckStats {
  readonly pathCombinations: number;
  readonly candidates: number;
  readonly allowed: number;
  readonly rejected: Readonly<Record<Axiom, number>>;
}

/** Limits and what to keep when checking a test. */
export interface CheckOptions {
  readonly paths?: PathLimits;
  /** Most candidate executions to examine before giving up (a LitmusLimitError). */
  readonly maxCandidates?: number;
  /** Keep every allowed execution (tests, explorers); default false. */
  readonly keepExecutions?: boolean;
}

/** The candidate executions a check examines before it gives up (`--max-candidates`). */
export const DEFAULT_MAX_CANDIDATES = 5_000_000;

/** The locations a final state shows: the condition's, then `locations`' (herd7: registers by thread, then shared locations). */
export function observedLocations(test: LitmusTest): StateLoc[] {
  const out: StateLoc[] = [];
  const key = (l: StateLoc): string => (l.kind === 'reg' ? `${l.thread}:${l.name}` : l.name);
  const seen = new Set<string>();
  const addFrom = (p: Prop): void => {
    if (p.kind === 'eq') {
      if (!seen.has(key(p.loc))) {
        seen.add(key(p.loc));
        out.push(p.loc);
      }
    } else if (p.kind === 'not') addFrom(p.operand);
    else if (p.kind === 'and' || p.kind === 'or') p.operands.forEach(addFrom);
  };
  addFrom(test.condition.prop);
  for (const l of test.locations) {
    if (!seen.has(key(l))) {
      seen.add(key(l));
      out.push(l);
    }
  }
  return out.sort((a, b) => {
    if (a.kind !== b.kind) return a.kind === 'reg' ? -1 : 1;
    if (a.kind === 'reg' && b.kind === 'reg') return a.thread - b.thread || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  });
}

/** A condition's or initial state's value at run time. */
export function toRt(v: Value): RtValue {
  return typeof v === 'number' ? v : `&${v.loc}`;
}

/** Whether a proposition holds of a final state (`value` gives each location's). */
export function evalProp(p: Prop, value: (l: StateLoc) => RtValue): boolean {
  switch (p.kind) {
    case 'true':
      return true;
    case 'false':
      return false;
    case 'eq':
      return value(p.loc) === toRt(p.value);
    case 'not':
      return !evalProp(p.operand, value);
    case 'and':
      return p.operands.every((q) => evalProp(q, value));
    case 'or':
      return p.operands.some((q) => evalProp(q, value));
  }
}

function compareValues(a: RtValue, b: RtValue): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Every path of every thread, with the value domain computed first. */
export function allThreadPaths(test: LitmusTest, limits: PathLimits = DEFAULT_PATH_LIMITS): ThreadPath[][] {
  const runs = maxHandlerRuns(test);
  const domain = valueDomain(test, runs, limits);
  return test.threads.map((t) => threadPaths(t, domain, runs.get(t.index) ?? 0, limits));
}

/** Build the events of one combination of paths: the initial writes, then each thread's events. */
export function combinationEvents(test: LitmusTest, combo: readonly ThreadPath[]): ExecEvent[] {
  const events: ExecEvent[] = [];
  const locs = new Set<string>(test.init.keys());
  for (const p of combo) for (const e of p.events) if (e.loc !== undefined && !isIpiLine(e.loc)) locs.add(e.loc);
  for (const loc of [...locs].sort()) {
    const v = test.init.get(loc);
    events.push(initEvent(events.length, loc, v === undefined ? 0 : toRt(v)));
  }
  for (const p of combo) p.events.forEach((e, i) => events.push({ ...e, id: events.length, thread: p.thread, poIndex: i }));
  return events;
}

/**
 * Enumerate the candidate executions of `test` and keep those the LKMM allows (herd7's
 * method): for each combination of thread paths, choose what each read reads from, then a
 * coherence order per location. Both are pruned as they are built: a read never reads from a
 * write program-order after it or older than its own thread's last write there, the partial
 * happens-before (ppo and rfe so far) must stay acyclic after every choice, and each
 * location's coherence order must satisfy the coherence axiom for that location before the
 * next location is ordered. What survives is checked against every axiom (`violatedAxiom`).
 */
export function checkLitmus(test: LitmusTest, options: CheckOptions = {}): CheckResult {
  const observed = observedLocations(test);
  const paths = allThreadPaths(test, options.paths);
  const maxCandidates = options.maxCandidates ?? DEFAULT_MAX_CANDIDATES;
  const states = new Map<string, { values: RtValue[]; executions: number; satisfies: boolean }>();
  const rejected: Record<Axiom, number> = { coherence: 0, atomic: 0, 'happens-before': 0, propagation: 0 };
  let positive = 0;
  let negative = 0;
  let candidates = 0;
  let combos = 0;
  let witness: Execution | undefined;

  const combo: ThreadPath[] = [];
  const chooseThread = (t: number): void => {
    if (t < paths.length) {
      for (const p of paths[t]!) {
        combo[t] = p;
        chooseThread(t + 1);
      }
      return;
    }
    // Each send_ipi to a thread is received once: its handler runs as often as it is sent to.
    for (const p of combo) {
      let sent = 0;
      for (const q of combo) sent += q.sends.get(p.thread) ?? 0;
      if (sent !== p.handlerRuns) return;
    }
    combos++;
    checkCombination(combinationEvents(test, combo));
  };

  const checkCombination = (events: ExecEvent[]): void => {
    const sk = new Skeleton(events);
    const rfOf = new Int32Array(sk.n).fill(-1);
    const sources: number[][] = sk.reads.map((r) => readSources(sk, r));
    const taken = new Set<number>(); // IPI sends already received (each by one entry)
    // Partial happens-before as rf is chosen: ppo's static part plus the rfe and dep;rfi so far.
    const partial = sk.ppoStatic.clone();

    const chooseRf = (k: number): void => {
      if (k === sk.reads.length) {
        chooseCo();
        return;
      }
      const r = sk.reads[k]!;
      const ipi = events[r]!.ipi === 'entry';
      for (const w of sources[k]!) {
        if (ipi && taken.has(w)) continue;
        rfOf[r] = w;
        const external = events[w]!.thread !== events[r]!.thread;
        const added: [number, number][] = [];
        if (external) added.push([w, r]);
        else for (let d = 0; d < sk.n; d++) if (sk.dep.has(d, w)) added.push([d, r]);
        const fresh = added.filter(([a, b]) => !partial.has(a, b));
        for (const [a, b] of fresh) partial.add(a, b);
        if (fresh.length === 0 || partial.isAcyclic()) {
          if (ipi) taken.add(w);
          chooseRf(k + 1);
          if (ipi) taken.delete(w);
        } else {
          candidates++;
          rejected['happens-before']++;
        }
        for (const [a, b] of fresh) partial.remove(a, b);
      }
      rfOf[r] = -1;
    };

    const locs = [...sk.writesOf.keys()];
    const coOrder = new Map<string, number[]>();
    let rf: Relation;
    const chooseCo = (): void => {
      rf = rfRelation(sk, rfOf);
      orderLocation(0);
    };

    const orderLocation = (li: number): void => {
      if (li === locs.length) {
        evaluateCandidate();
        return;
      }
      const loc = locs[li]!;
      const ws = sk.writesOf.get(loc)!;
      const init = ws.filter((w) => sk.isInit[w]);
      const rest = ws.filter((w) => !sk.isInit[w]);
      const order: number[] = [...init];
      const used = new Uint8Array(rest.length);
      const place = (): void => {
        if (order.length === ws.length) {
          coOrder.set(loc, order.slice());
          if (locationCoherent(sk, rf, coOrder.get(loc)!)) orderLocation(li + 1);
          else {
            candidates++;
            rejected.coherence++;
          }
          return;
        }
        for (let i = 0; i < rest.length; i++) {
          if (used[i]) continue;
          const w = rest[i]!;
          // CoWW: a write's program-order predecessors at the location come first.
          let ready = true;
          for (let j = 0; j < rest.length; j++) if (!used[j] && j !== i && sk.poLoc.has(rest[j]!, w)) ready = false;
          if (!ready) continue;
          used[i] = 1;
          order.push(w);
          place();
          order.pop();
          used[i] = 0;
        }
      };
      place();
      coOrder.delete(loc);
    };

    const evaluateCandidate = (): void => {
      candidates++;
      if (candidates > maxCandidates) throw new LitmusLimitError(`more than ${maxCandidates} candidate executions (--max-candidates); the test is too large to enumerate: use --sample`);
      const co = coRelation(sk, coOrder);
      const axiom = violatedAxiom(sk, rf, co);
      if (axiom !== undefined) {
        rejected[axiom]++;
        return;
      }
      const finalValue = (l: StateLoc): RtValue => {
        if (l.kind === 'reg') return combo[l.thread]!.registers.get(l.name) ?? 0;
        const order = coOrder.get(l.name);
        if (order === undefined) {
          const v = test.init.get(l.name);
          return v === undefined ? 0 : toRt(v);
        }
        return events[order[order.length - 1]!]!.value;
      };
      const values = observed.map(finalValue);
      const satisfies = evalProp(test.condition.prop, finalValue);
      if (satisfies) positive++;
      else negative++;
      const key = values.map((v) => String(v)).join(';');
      const s = states.get(key);
      if (s === undefined) states.set(key, { values, executions: 1, satisfies });
      else s.executions++;
      if (satisfies && witness === undefined) witness = { events: events.slice(), rf: rfOf.slice(), co: new Map([...coOrder].map(([k, v]) => [k, v.slice()])), state: values, satisfies };
    };

    chooseRf(0);
  };

  chooseThread(0);

  const sorted = [...states.values()].sort((a, b) => {
    for (let i = 0; i < a.values.length; i++) {
      const c = compareValues(a.values[i]!, b.values[i]!);
      if (c !== 0) return c;
    }
    return 0;
  });
  const q = test.condition.quantifier;
  const ok = q === 'exists' ? positive > 0 : q === 'not-exists' ? positive === 0 : negative === 0;
  const allowed = positive + negative;
  return {
    test,
    observed,
    states: sorted,
    positive,
    negative,
    ok,
    observation: positive === 0 ? 'Never' : negative === 0 ? 'Always' : 'Sometimes',
    witness,
    stats: { pathCombinations: combos, candidates, allowed, rejected },
  };
}

/**
 * The writes read `r` may read from: same location and value; for an IPI handler's entry,
 * the sends to its thread. Pruned by coherence at once: never a write program-order after the
 * read, and when the read's own thread wrote the location before it, only that latest write or
 * another thread's write (reading anything older would contradict po-loc).
 */
function readSources(sk: Skeleton, r: number): number[] {
  const e = sk.events[r]!;
  const out: number[] = [];
  let ownLatest = -1;
  for (const w of sk.writesOf.get(e.loc!) ?? []) if (sk.poLoc.has(w, r) && (ownLatest < 0 || sk.po.has(ownLatest, w))) ownLatest = w;
  for (const w of sk.writesOf.get(e.loc!) ?? []) {
    const we = sk.events[w]!;
    if (e.ipi === 'entry') {
      if (we.ipi === 'send') out.push(w);
      continue;
    }
    if (we.value !== e.value) continue;
    if (sk.poLoc.has(r, w)) continue;
    if (we.thread === e.thread && w !== ownLatest) continue;
    if (ownLatest >= 0 && sk.isInit[w]) continue;
    out.push(w);
  }
  return out;
}

/** The coherence axiom for one location, its coherence order `order` just chosen: acyclic (po-loc | rf | co | fr). */
function locationCoherent(sk: Skeleton, rf: Relation, order: readonly number[]): boolean {
  const co = new Relation(sk.n);
  for (let i = 0; i < order.length; i++) for (let j = i + 1; j < order.length; j++) co.add(order[i]!, order[j]!);
  // Every relation here relates accesses to one location, so no cycle spans two; a cycle in
  // another location's po-loc and rf alone breaks coherence there too, and is only found sooner.
  return sk.poLoc.union(rf, co, rf.inverse().seq(co)).isAcyclic();
}

export { formatValue };
