import fc from 'fast-check';
import type { LitmusTest, StateLoc } from './ast';
import { allThreadPaths, combinationEvents, evalProp, observedLocations, toRt, type Execution } from './check';
import type { RtValue } from './events';
import { coRelation, rfRelation, Skeleton, violatedAxiom, type Axiom } from './model';
import type { PathLimits } from './paths';

/**
 * A random explorer for tests too large to enumerate: fast-check draws candidate executions
 * (a path per thread, a write for each read, a coherence order per location) and checks each
 * against the model; the property "no allowed execution satisfies the condition" fails on a
 * witness, which fast-check then shrinks towards the simplest choices. When it holds for every
 * sample, the answer is "no witness in N samples" — evidence, not the proof enumeration gives.
 */
export interface SampleResult {
  readonly test: LitmusTest;
  /** Samples drawn: all of them when no witness was found, else up to and including the first witness. */
  readonly samples: number;
  /** Samples asked for. */
  readonly asked: number;
  readonly seed: number;
  /** Samples the model allowed, and those each axiom rejected (or that were not well formed: a read with no write of its value, a handler count that does not match the sends). */
  readonly allowed: number;
  readonly rejected: Readonly<Record<Axiom | 'ill-formed', number>>;
  /** A (shrunk) allowed execution satisfying the condition's proposition, if one was found. */
  readonly witness: Execution | undefined;
  readonly observed: readonly StateLoc[];
}

/** How many candidates the explorer draws, and its seed. */
export interface SampleOptions {
  readonly samples?: number;
  readonly seed?: number;
  readonly paths?: PathLimits;
}

/** The explorer's default number of samples (`--sample` without a count). */
export const DEFAULT_SAMPLES = 10_000;
/** The explorer's default seed (`--seed`). */
export const DEFAULT_SAMPLE_SEED = 42;

/** Explore a test at random (see the module comment above): a shrunk witness, or none in the samples drawn. */
export function sampleLitmus(test: LitmusTest, options: SampleOptions = {}): SampleResult {
  const samples = options.samples ?? DEFAULT_SAMPLES;
  const seed = options.seed ?? DEFAULT_SAMPLE_SEED;
  const paths = allThreadPaths(test, options.paths);
  const observed = observedLocations(test);
  const rejected: Record<Axiom | 'ill-formed', number> = { coherence: 0, atomic: 0, 'happens-before': 0, propagation: 0, 'ill-formed': 0 };
  let allowed = 0;
  let last: Execution | undefined;

  /** Decode a choice sequence into a candidate; undefined when it is not well formed. */
  const decode = (choices: readonly number[]): { sk: Skeleton; rfOf: Int32Array; co: Map<string, number[]>; combo: (typeof paths)[number] } | undefined => {
    let k = 0;
    const next = (n: number): number => (n <= 1 ? 0 : (choices[k++ % choices.length] ?? 0) % n);
    const combo = paths.map((ps) => ps[next(ps.length)]!);
    for (const p of combo) {
      let sent = 0;
      for (const q of combo) sent += q.sends.get(p.thread) ?? 0;
      if (sent !== p.handlerRuns) return undefined;
    }
    const sk = new Skeleton(combinationEvents(test, combo));
    const rfOf = new Int32Array(sk.n).fill(-1);
    const taken = new Set<number>();
    for (const r of sk.reads) {
      const e = sk.events[r]!;
      const ws = (sk.writesOf.get(e.loc!) ?? []).filter((w) => {
        const we = sk.events[w]!;
        return e.ipi === 'entry' ? we.ipi === 'send' && !taken.has(w) : we.value === e.value && !sk.poLoc.has(r, w);
      });
      if (ws.length === 0) return undefined;
      const w = ws[next(ws.length)]!;
      if (e.ipi === 'entry') taken.add(w);
      rfOf[r] = w;
    }
    const co = new Map<string, number[]>();
    for (const [loc, ws] of sk.writesOf) {
      const rest = ws.filter((w) => !sk.isInit[w]);
      const order = ws.filter((w) => sk.isInit[w]);
      while (rest.length > 0) order.push(rest.splice(next(rest.length), 1)[0]!);
      co.set(loc, order);
    }
    return { sk, rfOf, co, combo };
  };

  // Counted until the first witness: fast-check's shrinking runs the property again, and those
  // runs are not samples.
  let counting = true;
  const witnessOf = (choices: readonly number[]): Execution | undefined => {
    const c = decode(choices);
    if (c === undefined) {
      if (counting) rejected['ill-formed']++;
      return undefined;
    }
    const axiom = violatedAxiom(c.sk, rfRelation(c.sk, c.rfOf), coRelation(c.sk, c.co));
    if (axiom !== undefined) {
      if (counting) rejected[axiom]++;
      return undefined;
    }
    if (counting) allowed++;
    const finalValue = (l: StateLoc): RtValue => {
      if (l.kind === 'reg') return c.combo[l.thread]!.registers.get(l.name) ?? 0;
      const order = c.co.get(l.name);
      if (order === undefined) {
        const v = test.init.get(l.name);
        return v === undefined ? 0 : toRt(v);
      }
      return c.sk.events[order[order.length - 1]!]!.value;
    };
    if (!evalProp(test.condition.prop, finalValue)) return undefined;
    return { events: c.sk.events, rf: c.rfOf, co: c.co, state: observed.map(finalValue), satisfies: true };
  };

  const out = fc.check(
    fc.property(fc.array(fc.nat({ max: 1 << 16 }), { minLength: 1, maxLength: 64 }), (choices) => {
      const w = witnessOf(choices);
      if (w !== undefined) {
        last = w;
        counting = false;
      }
      return w === undefined;
    }),
    { numRuns: samples, seed, endOnFailure: false },
  );
  const witness = out.failed && out.counterexample !== null ? witnessOf(out.counterexample[0]) ?? last : undefined;
  return { test, samples: out.numRuns, asked: samples, seed, allowed, rejected, witness, observed };
}
