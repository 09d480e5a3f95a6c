import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { checkTraceFormat } from '../test/trace-format';
import { loadScenario, traceScenario, type TraceEvent } from './index';

const small = join(__dirname, '..', 'test', 'fixtures', 'small.yaml');

describe('Perfetto / Chrome traces', () => {
  const trace = traceScenario(loadScenario(small));

  it('follow the trace-event format rules', () => {
    checkTraceFormat(trace);
  });

  it('have a track per pCPU and per vCPU, exits and handlers as slices, IPIs as arrows, shootdowns on the initiator', () => {
    const names = trace.traceEvents.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => e.args!['name']);
    expect(names).toEqual(expect.arrayContaining(['pCPU 0', 'vCPU 0', 'vCPU 0 guest']));
    const cats = new Set(trace.traceEvents.filter((e) => e.ph === 'X').map((e) => e.cat));
    for (const c of ['vcpu', 'pcpu', 'exit', 'handler', 'shootdown', 'ipi']) expect(cats).toContain(c);
    expect(trace.traceEvents.filter((e) => e.ph === 's').length).toBeGreaterThan(10);
  });

  it('the format check itself rejects a partial overlap and an unmatched arrow', () => {
    const x = (ts: number, dur: number): TraceEvent => ({ name: 'x', ph: 'X', ts, dur, pid: 1, tid: 1 });
    expect(() => checkTraceFormat({ traceEvents: [x(0, 10), x(5, 10)] })).toThrow('overlaps its parent partially');
    expect(() => checkTraceFormat({ traceEvents: [x(0, 10), { name: 'IPI', ph: 's', ts: 1, pid: 1, tid: 1, id: 9 }] })).toThrow();
  });

  it('a time window keeps traces of long runs small, and stays well-formed', () => {
    const windowed = traceScenario(loadScenario(small), { from: 500_000, to: 700_000 });
    checkTraceFormat(windowed);
    expect(windowed.traceEvents.length).toBeLessThan(trace.traceEvents.length / 4);
    for (const e of windowed.traceEvents) if (e.ph !== 'M') expect(e.ts).toBeGreaterThanOrEqual(500);
  });

  it('a window that ends between an IPI\'s send and its handler drops that arrow whole', () => {
    // An arrow of the full trace whose send and handler are apart in time; the window ends between them.
    const finishes = new Map(trace.traceEvents.filter((e) => e.ph === 'f').map((e) => [e.id!, e.ts]));
    const cut = trace.traceEvents.find((e) => e.ph === 's' && e.ts > 100 && finishes.get(e.id!)! > e.ts + 0.01)!;
    expect(cut).toBeDefined();
    const to = Math.round((cut.ts + finishes.get(cut.id!)!) * 500); // halfway, in ns
    // From 0, flow ids are numbered as in the full run.
    const windowed = traceScenario(loadScenario(small), { to });
    checkTraceFormat(windowed);
    expect(windowed.traceEvents.some((e) => e.id === cut.id && (e.ph === 's' || e.ph === 'f'))).toBe(false);
  });

  // Every example, short: the whole run (its last IPIs handled after the end drop their arrows)
  // and a window whose edges cut slices and arrows.
  const examples = join(__dirname, '..', '..', '..', 'examples', 'scenarios');
  const files = readdirSync(examples).filter((f) => f.endsWith('.yaml')).sort();
  it.each(files)('%s: every arrow has its end and slices nest, whole and windowed', (f) => {
    const loaded = loadScenario(join(examples, f), ['run.duration=1ms']);
    for (const window of [{}, { from: 250_000, to: 600_000 }]) {
      const t = traceScenario(loaded, window);
      checkTraceFormat(t);
      const starts = t.traceEvents.filter((e) => e.ph === 's').map((e) => e.id).sort();
      const ends = t.traceEvents.filter((e) => e.ph === 'f').map((e) => e.id).sort();
      expect(starts).toEqual(ends);
    }
  });
});

describe('a traced run with fault injection dropIpiFence', () => {
  const example = join(__dirname, '..', '..', '..', 'examples', 'scenarios', 'drop-ipi-fence.yaml');
  const stale = (overrides: string[]): TraceEvent[] => traceScenario(loadScenario(example, overrides)).traceEvents.filter((e) => e.name === 'stale TLB use');

  it('shows each stale TLB use as an instant on the vCPU\'s guest track: the space, page, version used and version committed', () => {
    const uses = stale([]);
    expect(uses.length).toBeGreaterThan(0);
    const versions = uses.map((e) => e.args as { space: string; page: number; version: number; committed: number });
    for (const a of versions) {
      expect(a.space).toBe('thp-app');
      expect(a.version).toBeLessThan(a.committed);
    }
    expect(uses[0]).toMatchObject({ ph: 'i', s: 't', cat: 'tlb', pid: 2 });
    expect(uses[0]!.tid % 2).toBe(0);
  });

  it('has none with the fence', () => {
    expect(stale(['vms[0].faults.dropIpiFence=false'])).toEqual([]);
  });
});
