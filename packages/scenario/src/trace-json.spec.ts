import { join } from 'node:path';
import { loadScenario, streamTrace, traceScenario, TraceJsonWriter, type TraceEvent } from './index';

const small = join(__dirname, '..', 'test', 'fixtures', 'small.yaml');

describe('a trace written as it runs', () => {
  const loaded = loadScenario(small);
  const meta = { command: 'trace', note: 'ünïcode counts in bytes' };

  it('is the same JSON the whole object would give, in chunks never much over the bound', () => {
    const whole = traceScenario(loaded);
    const chunks: string[] = [];
    const bound = 4096;
    const writer = new TraceJsonWriter((c) => chunks.push(c), bound);
    let longest = 0;
    const summary = streamTrace(loaded, (e) => {
      longest = Math.max(longest, JSON.stringify(e).length + 1);
      writer.event(e);
    });
    writer.end({ meta });
    expect(chunks.join('')).toBe(`${JSON.stringify({ ...whole, meta })}\n`);
    expect(summary.events).toBe(whole.traceEvents.length);
    expect(writer.events).toBe(whole.traceEvents.length);
    expect(writer.bytes).toBe(Buffer.byteLength(chunks.join('')));
    // Streamed: many chunks, each at most the bound plus the one event (or the tail) that crossed it.
    expect(chunks.length).toBeGreaterThan(50);
    const tail = JSON.stringify({ displayTimeUnit: 'ns', meta }).length + 2;
    for (const c of chunks) expect(c.length).toBeLessThan(bound + Math.max(longest, tail));
  });

  it('hands every chunk on before gathering the next: the writer holds at most one chunk', () => {
    let held = 0;
    let maxHeld = 0;
    const writer = new TraceJsonWriter(() => {
      held = 0;
    }, 1000);
    const e: TraceEvent = { name: 'x', ph: 'X', ts: 1, dur: 1, pid: 1, tid: 1 };
    for (let i = 0; i < 10_000; i++) {
      writer.event(e);
      held += JSON.stringify(e).length + 1;
      maxHeld = Math.max(maxHeld, held);
      expect(writer.size - writer.bytes).toBeLessThan(1000);
    }
    expect(maxHeld).toBeLessThan(1000 + 60);
  });

  it('an empty trace is valid JSON', () => {
    let out = '';
    const writer = new TraceJsonWriter((c) => (out += c));
    writer.end({ meta });
    expect(JSON.parse(out)).toEqual({ traceEvents: [], displayTimeUnit: 'ns', meta });
    expect(() => writer.end()).toThrow('called twice');
  });
});
