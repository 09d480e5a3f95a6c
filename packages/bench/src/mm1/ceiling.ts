import { ArrivalQueue, mm1Draws, type Mm1Params, type Mm1Result } from './params';

const ARRIVAL = 0;
const DEPARTURE = 1;

/**
 * The ceiling: the same M/M/1 on the least a (time, seq) calendar can be — one typed-array
 * heap with the event kind inline and a switch instead of callbacks. No cancel, no handles,
 * no validation. @ipilab/core is measured against this.
 */
export function runMm1Ceiling(p: Mm1Params): Mm1Result {
  const d = mm1Draws(p);
  let cap = 1024;
  let times = new Float64Array(cap);
  let seqs = new Float64Array(cap);
  let kinds = new Uint8Array(cap);
  let size = 0;
  let seq = 0;

  const push = (t: number, k: number): void => {
    if (size === cap) {
      cap *= 2;
      const t2 = new Float64Array(cap);
      t2.set(times);
      times = t2;
      const s2 = new Float64Array(cap);
      s2.set(seqs);
      seqs = s2;
      const k2 = new Uint8Array(cap);
      k2.set(kinds);
      kinds = k2;
    }
    const s = seq++;
    let i = size++;
    while (i > 0) {
      const par = (i - 1) >> 1;
      const pt = times[par]!;
      if (pt < t || (pt === t && seqs[par]! < s)) break;
      times[i] = pt;
      seqs[i] = seqs[par]!;
      kinds[i] = kinds[par]!;
      i = par;
    }
    times[i] = t;
    seqs[i] = s;
    kinds[i] = k;
  };

  // Pops the top into (popTime, popKind).
  let popTime = 0;
  let popKind = 0;
  const pop = (): void => {
    popTime = times[0]!;
    popKind = kinds[0]!;
    const n = --size;
    if (n === 0) return;
    const t = times[n]!;
    const s = seqs[n]!;
    const k = kinds[n]!;
    let i = 0;
    const half = n >> 1;
    while (i < half) {
      let c = 2 * i + 1;
      let ct = times[c]!;
      let cs = seqs[c]!;
      if (c + 1 < n) {
        const rt = times[c + 1]!;
        if (rt < ct || (rt === ct && seqs[c + 1]! < cs)) {
          c++;
          ct = rt;
          cs = seqs[c]!;
        }
      }
      if (t < ct || (t === ct && s < cs)) break;
      times[i] = ct;
      seqs[i] = cs;
      kinds[i] = kinds[c]!;
      i = c;
    }
    times[i] = t;
    seqs[i] = s;
    kinds[i] = k;
  };

  const queue = new ArrivalQueue();
  let arrived = 0;
  let busy = false;
  let totalWait = 0;
  let now = 0;
  let lastDeparture = 0;
  let events = 0;

  push(0, ARRIVAL);
  while (size > 0) {
    pop();
    now = popTime;
    events++;
    if (popKind === ARRIVAL) {
      if (++arrived < d.customers) push(now + Math.round(d.arrivals.exponential(d.meanInterarrival)), ARRIVAL);
      if (busy) {
        queue.push(now);
      } else {
        busy = true;
        push(now + Math.round(d.service.exponential(d.meanService)), DEPARTURE);
      }
    } else {
      lastDeparture = now;
      if (queue.length > 0) {
        totalWait += now - queue.shift();
        push(now + Math.round(d.service.exponential(d.meanService)), DEPARTURE);
      } else {
        busy = false;
      }
    }
  }
  return { customers: d.customers, events, meanWaitNs: totalWait / d.customers, endTimeNs: lastDeparture };
}
