import type { FenceKind } from './ast';
import type { AccessMode, PathEvent, RtValue } from './events';
import { Relation } from './relation';

/**
 * The Linux kernel memory model, for the subset ipilab supports (marked accesses, fences,
 * read-modify-writes; no locks, RCU or SRCU), written relation by relation after
 * tools/memory-model/linux-kernel.cat (Alglave, Maranget, McKenney, Parri, Stern, "Frightening
 * small children and disconcerting grown-ups: concurrency in the Linux kernel", ASPLOS 2018).
 * Every access here is marked, so the cat file's `[Marked]` filters are the identity and the
 * plain-access (data race) part does not apply.
 */

/** One event of a candidate execution. */
export interface ExecEvent extends PathEvent {
  /** Its index in the execution. */
  readonly id: number;
  /** -1 for the initial writes. */
  readonly thread: number;
  /** Position in its thread's program order. */
  readonly poIndex: number;
}

export function initEvent(id: number, loc: string, value: RtValue): ExecEvent {
  return { id, thread: -1, poIndex: -1, kind: 'W', loc, value, mode: 'init' as AccessMode, fence: undefined, rmw: undefined, noreturn: false, addr: [], data: [], ctrl: [], ipi: undefined, walk: false, text: `${loc} = ${typeof value === 'number' ? value : value.slice(1)} (initial)`, pos: undefined, inHandler: false };
}

/**
 * What of an execution does not depend on rf or co: the events, program order and the
 * relations built from it alone (dependencies, fences, release/acquire). Built once per
 * combination of thread paths and shared by all its rf/co candidates.
 */
export class Skeleton {
  readonly n: number;
  readonly isR: boolean[];
  readonly isW: boolean[];
  readonly isInit: boolean[];
  readonly po: Relation;
  readonly poLoc: Relation;
  readonly int: Relation;
  readonly ext: Relation;
  readonly rmw: Relation;
  readonly addr: Relation;
  readonly data: Relation;
  readonly ctrl: Relation;
  /** addr | data */
  readonly dep: Relation;
  readonly wmb: Relation;
  readonly rmb: Relation;
  readonly mb: Relation;
  readonly poRel: Relation;
  readonly acqPo: Relation;
  /** strong-fence = mb (gp and rcu-fence are outside the subset) */
  readonly strongFence: Relation;
  /** fence = strong-fence | po-rel | acq-po | wmb | rmb */
  readonly fence: Relation;
  /** The part of ppo that rf and co do not change: addr | (dep | ctrl);[W] | fence. */
  readonly ppoStatic: Relation;
  /** cumul-fence's part without rfe: (strong-fence | po-rel) — A-cumulativity adds rfe? before it. */
  readonly strongOrRel: Relation;
  /** Writes per location, init first. */
  readonly writesOf: Map<string, number[]>;
  readonly reads: number[];

  constructor(readonly events: readonly ExecEvent[]) {
    const n = (this.n = events.length);
    this.isR = events.map((e) => e.kind === 'R');
    this.isW = events.map((e) => e.kind === 'W');
    this.isInit = events.map((e) => e.thread < 0);
    const isM = events.map((e) => e.kind !== 'F');
    this.po = new Relation(n);
    this.int = new Relation(n);
    this.ext = new Relation(n);
    this.poLoc = new Relation(n);
    this.rmw = new Relation(n);
    this.addr = new Relation(n);
    this.data = new Relation(n);
    this.ctrl = new Relation(n);
    this.writesOf = new Map();
    this.reads = [];
    // Index of each thread's events by po position, to map path-local dependency indices.
    const byThread = new Map<number, ExecEvent[]>();
    for (const e of events) {
      if (e.thread < 0) continue;
      let list = byThread.get(e.thread);
      if (list === undefined) byThread.set(e.thread, (list = []));
      list[e.poIndex] = e;
    }
    for (const a of events) {
      if (a.kind === 'W' && a.loc !== undefined) {
        let ws = this.writesOf.get(a.loc);
        if (ws === undefined) this.writesOf.set(a.loc, (ws = []));
        ws.push(a.id);
      }
      if (a.kind === 'R') this.reads.push(a.id);
      for (const b of events) {
        if (a.id === b.id) continue;
        const same = a.thread >= 0 && a.thread === b.thread;
        if (same) this.int.add(a.id, b.id);
        else this.ext.add(a.id, b.id);
        if (same && a.poIndex < b.poIndex) {
          this.po.add(a.id, b.id);
          if (a.loc !== undefined && a.loc === b.loc) this.poLoc.add(a.id, b.id);
        }
      }
    }
    for (const [, list] of byThread) {
      for (const e of list) {
        for (const d of e.addr) this.addr.add(list[d]!.id, e.id);
        for (const d of e.data) this.data.add(list[d]!.id, e.id);
        for (const d of e.ctrl) this.ctrl.add(list[d]!.id, e.id);
        if (e.rmw !== undefined && e.kind === 'W') {
          const r = list.find((x) => x.rmw === e.rmw && x.kind === 'R');
          if (r !== undefined) this.rmw.add(r.id, e.id);
        }
      }
    }
    this.dep = this.addr.union(this.data);
    const fencerel = (k: FenceKind): Relation => this.po.seq(Relation.ofSet(events.map((e) => e.kind === 'F' && e.fence === k))).seq(this.po);
    const W = Relation.ofSet(this.isW);
    const M = Relation.ofSet(isM);
    // R4rmb = R \ Noreturn: smp_rmb does not order the read of a non-value-returning RMW.
    const R4rmb = Relation.ofSet(events.map((e) => e.kind === 'R' && !e.noreturn));
    const RMW = Relation.ofSet(events.map((e) => e.rmw !== undefined));
    this.rmb = R4rmb.seq(fencerel('rmb')).seq(R4rmb);
    this.wmb = W.seq(fencerel('wmb')).seq(W);
    const poOpt = this.po.optional();
    this.mb = M.seq(fencerel('mb'))
      .seq(M)
      .union(M.seq(fencerel('before-atomic')).seq(RMW).seq(poOpt).seq(M), M.seq(poOpt).seq(RMW).seq(fencerel('after-atomic')).seq(M));
    const acquire = Relation.ofSet(events.map((e) => e.kind === 'R' && e.mode === 'acquire'));
    const release = Relation.ofSet(events.map((e) => e.kind === 'W' && e.mode === 'release'));
    this.acqPo = acquire.seq(this.po).seq(M);
    this.poRel = M.seq(this.po).seq(release);
    this.strongFence = this.mb;
    this.fence = this.strongFence.union(this.poRel, this.acqPo, this.wmb, this.rmb);
    this.ppoStatic = this.addr.union(this.dep.union(this.ctrl).seq(W), this.fence);
    this.strongOrRel = this.strongFence.union(this.poRel);
  }
}

/** The axioms of linux-kernel.cat ipilab checks, by the names the cat file gives them. */
export type Axiom = 'coherence' | 'atomic' | 'happens-before' | 'propagation';

/** The relations of one candidate, for checks and traces. */
export interface CandidateRelations {
  readonly rf: Relation;
  readonly co: Relation;
  readonly fr: Relation;
  readonly hb: Relation;
  readonly pb: Relation;
}

/** rf as a relation from `rfOf` (for each read, its write). */
export function rfRelation(sk: Skeleton, rfOf: Int32Array): Relation {
  const rf = new Relation(sk.n);
  for (const r of sk.reads) rf.add(rfOf[r]!, r);
  return rf;
}

/** co as a relation from each location's order of writes. */
export function coRelation(sk: Skeleton, coOrder: ReadonlyMap<string, readonly number[]>): Relation {
  const co = new Relation(sk.n);
  for (const [, order] of coOrder) for (let i = 0; i < order.length; i++) for (let j = i + 1; j < order.length; j++) co.add(order[i]!, order[j]!);
  return co;
}

/**
 * Check one candidate (rf, co) against the model's axioms, in the cat file's order:
 * coherence, atomic, happens-before, propagation. Returns the first axiom it violates, or
 * undefined when the model allows it.
 */
export function violatedAxiom(sk: Skeleton, rf: Relation, co: Relation): Axiom | undefined {
  const fr = rf.inverse().seq(co);
  // acyclic po-loc | com as coherence
  if (!sk.poLoc.union(rf, co, fr).isAcyclic()) return 'coherence';
  // empty rmw & (fre ; coe) as atomic
  if (!sk.rmw.intersect(fr.intersect(sk.ext).seq(co.intersect(sk.ext))).isEmpty()) return 'atomic';
  const hb = happensBefore(sk, rf, co, fr);
  if (!hb.hb.isAcyclic()) return 'happens-before';
  if (!propagationBefore(sk, hb.prop, hb.hb).isAcyclic()) return 'propagation';
  return undefined;
}

/** hb and prop of linux-kernel.cat. */
export function happensBefore(sk: Skeleton, rf: Relation, co: Relation, fr: Relation): { hb: Relation; prop: Relation } {
  const rfe = rf.intersect(sk.ext);
  const rfi = rf.intersect(sk.int);
  const overwrite = co.union(fr);
  // to-w = rwdep | (overwrite & int); to-r = addr | (dep ; rfi); ppo = to-r | to-w | fence
  const ppo = sk.ppoStatic.union(overwrite.intersect(sk.int), sk.dep.seq(rfi));
  // cumul-fence = A-cumul(strong-fence | po-rel) | wmb, A-cumul(r) = rfe? ; r
  const cumulFence = rfe.optional().seq(sk.strongOrRel).union(sk.wmb);
  // prop = (overwrite & ext)? ; cumul-fence* ; rfe?
  const prop = overwrite.intersect(sk.ext).optional().seq(cumulFence.star()).seq(rfe.optional());
  // hb = ppo | rfe | ((prop \ id) & int)
  const hb = ppo.union(rfe, prop.minus(Relation.identity(sk.n)).intersect(sk.int));
  return { hb, prop };
}

/** pb = prop ; strong-fence ; hb* */
export function propagationBefore(sk: Skeleton, prop: Relation, hb: Relation): Relation {
  return prop.seq(sk.strongFence).seq(hb.star());
}

/** Every relation of a candidate, for a trace. */
export function candidateRelations(sk: Skeleton, rf: Relation, co: Relation): CandidateRelations {
  const fr = rf.inverse().seq(co);
  const { hb, prop } = happensBefore(sk, rf, co, fr);
  return { rf, co, fr, hb, pb: propagationBefore(sk, prop, hb) };
}
