/**
 * Binary min-heap of pending events on typed arrays, ordered by (time, seq).
 *
 * Each pending event occupies a slot (an index chosen by the owner); the heap stores the
 * key inline beside the slot so a sift touches three flat arrays and no objects, and keeps
 * `posOf[slot]` so an event can be removed by slot in O(log n) when it is cancelled.
 * seq is unique and increasing, so the order is total and equal-time events leave in the
 * order they were pushed.
 */
export class EventHeap {
  private times: Float64Array;
  private seqs: Float64Array;
  private slots: Int32Array;
  /** slot -> heap index, or -1 when the slot is not in the heap. */
  private posOf: Int32Array;
  size = 0;

  constructor(initialCapacity: number) {
    this.times = new Float64Array(initialCapacity);
    this.seqs = new Float64Array(initialCapacity);
    this.slots = new Int32Array(initialCapacity);
    this.posOf = new Int32Array(initialCapacity).fill(-1);
  }

  get capacity(): number {
    return this.times.length;
  }

  /** Grows every array; slots are dense in [0, capacity) so posOf grows alongside. */
  grow(capacity: number): void {
    const times = new Float64Array(capacity);
    times.set(this.times);
    this.times = times;
    const seqs = new Float64Array(capacity);
    seqs.set(this.seqs);
    this.seqs = seqs;
    const slots = new Int32Array(capacity);
    slots.set(this.slots);
    this.slots = slots;
    const posOf = new Int32Array(capacity).fill(-1);
    posOf.set(this.posOf);
    this.posOf = posOf;
  }

  /** Time of the earliest event; only meaningful when size > 0. */
  peekTime(): number {
    return this.times[0]!;
  }

  peekSlot(): number {
    return this.slots[0]!;
  }

  contains(slot: number): boolean {
    return this.posOf[slot]! >= 0;
  }

  push(time: number, seq: number, slot: number): void {
    const i = this.size++;
    this.siftUp(i, time, seq, slot);
  }

  /** Removes the earliest event and returns its slot; caller checks size > 0. */
  pop(): number {
    const top = this.slots[0]!;
    this.posOf[top] = -1;
    const last = --this.size;
    if (last > 0) {
      this.siftDown(0, this.times[last]!, this.seqs[last]!, this.slots[last]!);
    }
    return top;
  }

  /** Removes the event in `slot`, wherever it sits in the heap. */
  remove(slot: number): void {
    const i = this.posOf[slot]!;
    this.posOf[slot] = -1;
    const last = --this.size;
    if (i === last) return;
    const t = this.times[last]!;
    const s = this.seqs[last]!;
    const sl = this.slots[last]!;
    // The moved element may belong above or below the hole.
    const parent = (i - 1) >> 1;
    if (i > 0 && (t < this.times[parent]! || (t === this.times[parent]! && s < this.seqs[parent]!))) {
      this.siftUp(i, t, s, sl);
    } else {
      this.siftDown(i, t, s, sl);
    }
  }

  private siftUp(i: number, t: number, s: number, slot: number): void {
    const times = this.times;
    const seqs = this.seqs;
    const slots = this.slots;
    const posOf = this.posOf;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pt = times[p]!;
      if (pt < t || (pt === t && seqs[p]! < s)) break;
      times[i] = pt;
      seqs[i] = seqs[p]!;
      const ps = slots[p]!;
      slots[i] = ps;
      posOf[ps] = i;
      i = p;
    }
    times[i] = t;
    seqs[i] = s;
    slots[i] = slot;
    posOf[slot] = i;
  }

  private siftDown(i: number, t: number, s: number, slot: number): void {
    const times = this.times;
    const seqs = this.seqs;
    const slots = this.slots;
    const posOf = this.posOf;
    const n = this.size;
    const half = n >> 1;
    while (i < half) {
      let c = 2 * i + 1;
      let ct = times[c]!;
      let cs = seqs[c]!;
      const r = c + 1;
      if (r < n) {
        const rt = times[r]!;
        if (rt < ct || (rt === ct && seqs[r]! < cs)) {
          c = r;
          ct = rt;
          cs = seqs[r]!;
        }
      }
      if (t < ct || (t === ct && s < cs)) break;
      times[i] = ct;
      seqs[i] = cs;
      const cslot = slots[c]!;
      slots[i] = cslot;
      posOf[cslot] = i;
      i = c;
    }
    times[i] = t;
    seqs[i] = s;
    slots[i] = slot;
    posOf[slot] = i;
  }
}
