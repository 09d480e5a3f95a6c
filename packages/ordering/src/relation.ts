/**
 * Binary relations over the events of one candidate execution, as bit matrices: row i holds
 * the set { j | (i, j) in r } in `words` 32-bit words. The LKMM's operators (`;`, `|`, `&`,
 * `\`, `^-1`, `*`, `+`, `?`) map onto the methods below; `acyclic` and `irreflexive` are its
 * checks. Litmus tests have a few dozen events, so a row is one or two words and every
 * operator is a handful of word operations per pair of rows.
 */
export class Relation {
  readonly words: number;
  readonly bits: Uint32Array;

  constructor(readonly n: number, bits?: Uint32Array) {
    this.words = (n + 31) >>> 5 || 1;
    this.bits = bits ?? new Uint32Array(n * this.words);
  }

  /** The empty relation over n events. */
  static empty(n: number): Relation {
    return new Relation(n);
  }

  /** The identity over n events (`id` in cat). */
  static identity(n: number): Relation {
    const r = new Relation(n);
    for (let i = 0; i < n; i++) r.add(i, i);
    return r;
  }

  /** `[S]` in cat notation: the identity restricted to the events of a set (given as a predicate array). */
  static ofSet(set: ArrayLike<boolean>): Relation {
    const r = new Relation(set.length);
    for (let i = 0; i < set.length; i++) if (set[i]) r.add(i, i);
    return r;
  }

  /** S1 * S2: every pair of an event of `from` and one of `to`. */
  static cross(from: ArrayLike<boolean>, to: ArrayLike<boolean>): Relation {
    const r = new Relation(from.length);
    for (let i = 0; i < from.length; i++) if (from[i]) for (let j = 0; j < to.length; j++) if (to[j]) r.add(i, j);
    return r;
  }

  /** Relate event i to event j. */
  add(i: number, j: number): void {
    this.bits[i * this.words + (j >>> 5)]! |= 1 << (j & 31);
  }

  /** Remove the pair (i, j). */
  remove(i: number, j: number): void {
    this.bits[i * this.words + (j >>> 5)]! &= ~(1 << (j & 31));
  }

  /** Whether event i is related to event j. */
  has(i: number, j: number): boolean {
    return (this.bits[i * this.words + (j >>> 5)]! & (1 << (j & 31))) !== 0;
  }

  /** A copy that can be changed without changing this one. */
  clone(): Relation {
    return new Relation(this.n, this.bits.slice());
  }

  /** `empty r` in cat: whether no pair is related. */
  isEmpty(): boolean {
    for (let k = 0; k < this.bits.length; k++) if (this.bits[k] !== 0) return false;
    return true;
  }

  /** r | s */
  union(...others: Relation[]): Relation {
    const out = this.clone();
    for (const s of others) for (let k = 0; k < out.bits.length; k++) out.bits[k]! |= s.bits[k]!;
    return out;
  }

  /** r & s */
  intersect(s: Relation): Relation {
    const out = this.clone();
    for (let k = 0; k < out.bits.length; k++) out.bits[k]! &= s.bits[k]!;
    return out;
  }

  /** r \ s */
  minus(s: Relation): Relation {
    const out = this.clone();
    for (let k = 0; k < out.bits.length; k++) out.bits[k]! &= ~s.bits[k]!;
    return out;
  }

  /** r ; s — the pairs (i, k) with (i, j) in r and (j, k) in s for some j. */
  seq(s: Relation): Relation {
    const n = this.n;
    const w = this.words;
    const out = new Relation(n);
    const a = this.bits;
    const b = s.bits;
    const o = out.bits;
    for (let i = 0; i < n; i++) {
      const ri = i * w;
      for (let wi = 0; wi < w; wi++) {
        let word = a[ri + wi]!;
        while (word !== 0) {
          const low = word & -word;
          const j = (wi << 5) + (31 - Math.clz32(low));
          word ^= low;
          const rj = j * w;
          for (let x = 0; x < w; x++) o[ri + x]! |= b[rj + x]!;
        }
      }
    }
    return out;
  }

  /** r^-1 */
  inverse(): Relation {
    const out = new Relation(this.n);
    for (let i = 0; i < this.n; i++) for (let j = 0; j < this.n; j++) if (this.has(i, j)) out.add(j, i);
    return out;
  }

  /** r? = r | id */
  optional(): Relation {
    const out = this.clone();
    for (let i = 0; i < this.n; i++) out.add(i, i);
    return out;
  }

  /** r+ (Warshall over bit rows). */
  plus(): Relation {
    const out = this.clone();
    const n = this.n;
    const w = this.words;
    const o = out.bits;
    for (let k = 0; k < n; k++) {
      const rk = k * w;
      const kw = k >>> 5;
      const kb = 1 << (k & 31);
      for (let i = 0; i < n; i++) {
        const ri = i * w;
        if ((o[ri + kw]! & kb) !== 0) for (let x = 0; x < w; x++) o[ri + x]! |= o[rk + x]!;
      }
    }
    return out;
  }

  /** r* = r+ | id */
  star(): Relation {
    return this.plus().optional();
  }

  /** Whether some event is related to itself. */
  isReflexive(): boolean {
    for (let i = 0; i < this.n; i++) if (this.has(i, i)) return true;
    return false;
  }

  /** acyclic r: no event reaches itself (a depth-first search, no closure built). */
  isAcyclic(): boolean {
    return this.findCycle() === undefined;
  }

  /** One cycle of r as the events on it, or undefined when r is acyclic. */
  findCycle(): number[] | undefined {
    const n = this.n;
    const state = new Uint8Array(n); // 0 new, 1 on the stack, 2 done
    const parent = new Int32Array(n).fill(-1);
    for (let root = 0; root < n; root++) {
      if (state[root] !== 0) continue;
      const stack: number[] = [root];
      const next: number[] = [0];
      state[root] = 1;
      while (stack.length > 0) {
        const i = stack[stack.length - 1]!;
        let j = next[next.length - 1]!;
        while (j < n && !this.has(i, j)) j++;
        if (j >= n) {
          state[i] = 2;
          stack.pop();
          next.pop();
          continue;
        }
        next[next.length - 1] = j + 1;
        if (state[j] === 1) {
          const cycle = [j];
          for (let k = i; k !== j; k = parent[k]!) cycle.push(k);
          return cycle.reverse();
        }
        if (state[j] === 0) {
          state[j] = 1;
          parent[j] = i;
          stack.push(j);
          next.push(0);
        }
      }
    }
    return undefined;
  }

  /** The pairs, in row order (for traces and tests). */
  pairs(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 0; i < this.n; i++) for (let j = 0; j < this.n; j++) if (this.has(i, j)) out.push([i, j]);
    return out;
  }
}
