import type { TraceEvent } from '../src/index';

/**
 * The Trace Event Format's rules (the "JSON Object Format" Perfetto and chrome://tracing load):
 * known phases, numeric timestamps, integer pid/tid, non-negative durations, metadata with args,
 * every flow start matched by one finish no earlier, flow ends inside a slice of their thread,
 * and complete slices on one thread properly nested.
 */
export function checkTraceFormat(trace: { traceEvents: TraceEvent[] }): void {
  expect(Array.isArray(trace.traceEvents)).toBe(true);
  const byThread = new Map<string, TraceEvent[]>();
  const starts = new Map<number, TraceEvent>();
  const finishes = new Map<number, TraceEvent>();
  // Plain checks, not one expect per event: a medium trace has hundreds of thousands.
  const bad = (e: TraceEvent, why: string): never => {
    throw new Error(`${why}: ${JSON.stringify(e)}`);
  };
  const phases = new Set(['X', 'M', 's', 'f', 'i']);
  const metadata = new Set(['process_name', 'thread_name', 'process_sort_index', 'thread_sort_index']);
  for (const e of trace.traceEvents) {
    if (typeof e.name !== 'string') bad(e, 'name not a string');
    if (!phases.has(e.ph)) bad(e, 'unknown phase');
    if (!(Number.isFinite(e.ts) && e.ts >= 0)) bad(e, 'timestamp not a number >= 0');
    if (!(Number.isInteger(e.pid) && Number.isInteger(e.tid))) bad(e, 'pid/tid not integers');
    if (e.ph === 'X') {
      if (!(e.dur !== undefined && e.dur >= 0)) bad(e, 'negative or missing duration');
      const k = `${e.pid}/${e.tid}`;
      const list = byThread.get(k);
      if (list === undefined) byThread.set(k, [e]);
      else list.push(e);
    }
    if (e.ph === 'M') {
      if (!metadata.has(e.name)) bad(e, 'unknown metadata');
      if (e.args === undefined) bad(e, 'metadata without args');
    }
    if (e.ph === 's') {
      if (starts.has(e.id!)) bad(e, 'second start of an arrow');
      starts.set(e.id!, e);
    }
    if (e.ph === 'f') {
      if (finishes.has(e.id!)) bad(e, 'second end of an arrow');
      finishes.set(e.id!, e);
    }
  }
  expect([...starts.keys()].sort()).toEqual([...finishes.keys()].sort());
  const eps = 1e-6;
  // Per thread, slices by start with the running maximum of their ends: "some slice encloses t"
  // is then one binary search (a medium trace has tens of thousands of arrows).
  const sortedByThread = new Map<string, { starts: number[]; maxEnd: number[] }>();
  for (const [k, slices] of byThread) {
    const sorted = [...slices].sort((a, b) => a.ts - b.ts);
    let m = -Infinity;
    sortedByThread.set(k, { starts: sorted.map((x) => x.ts), maxEnd: sorted.map((x) => (m = Math.max(m, x.ts + x.dur!))) });
  }
  const enclosing = (e: TraceEvent): boolean => {
    const t = sortedByThread.get(`${e.pid}/${e.tid}`);
    if (t === undefined) return false;
    let lo = 0;
    let hi = t.starts.length; // first index whose start is after e.ts + eps
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (t.starts[mid]! <= e.ts + eps) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 && t.maxEnd[lo - 1]! >= e.ts - eps;
  };
  for (const [id, s] of starts) {
    const f = finishes.get(id)!;
    if (f.ts < s.ts) bad(f, `arrow ${id} ends before its start at ${s.ts}`);
    if (!enclosing(s)) throw new Error(`arrow ${id}: its start at ${s.ts} is in no slice of its thread`);
    if (!enclosing(f)) throw new Error(`arrow ${id}: its end at ${f.ts} is in no slice of its thread`);
  }
  for (const [thread, slices] of byThread) {
    const sorted = [...slices].sort((a, b) => a.ts - b.ts || b.dur! - a.dur!);
    const stack: number[] = [];
    for (const x of sorted) {
      while (stack.length > 0 && stack[stack.length - 1]! <= x.ts + eps) stack.pop();
      const end = x.ts + x.dur!;
      if (stack.length > 0 && end > stack[stack.length - 1]! + eps) throw new Error(`${thread}: slice ${x.name} at ${x.ts} overlaps its parent partially`);
      stack.push(end);
    }
  }
}
