import fc from 'fast-check';
import { InvalidParameterError } from '@ipilab/core';
import { HostTopology, InterruptFabric, type CpuDistance, type WireLatencies } from './index';
import { expectParameterError } from '@ipilab/testing';


// 2 sockets x 2 cores x 2 threads. Linux numbering: 0 s0c0, 1 s0c1, 2 s1c0, 3 s1c1, then 4..7 the second threads.
const topo = new HostTopology({ sockets: 2, coresPerSocket: 2, threadsPerCore: 2, ghz: 1 });
const wire: WireLatencies = { self: 1, smt: 10, socket: 100, remote: 1000 };
const lines: WireLatencies = { self: 2, smt: 20, socket: 200, remote: 2000 };

describe('InterruptFabric', () => {
  const fabric = new InterruptFabric(topo, wire, lines);

  it('latency() follows the distance class of the pair', () => {
    const cases: [number, number, CpuDistance, number][] = [
      [0, 0, 'self', 1],
      [0, 4, 'smt', 10],
      [5, 1, 'smt', 10],
      [0, 1, 'socket', 100],
      [0, 5, 'socket', 100],
      [0, 2, 'remote', 1000],
      [7, 0, 'remote', 1000],
    ];
    for (const [a, b, d, ns] of cases) {
      expect([a, b, fabric.distance(a, b), fabric.latency(a, b)]).toEqual([a, b, d, ns]);
    }
  });

  it('cacheLine() follows the distance class with its own table', () => {
    expect(fabric.cacheLine(3, 3)).toBe(2);
    expect(fabric.cacheLine(3, 7)).toBe(20);
    expect(fabric.cacheLine(2, 7)).toBe(200);
    expect(fabric.cacheLine(6, 1)).toBe(2000);
  });

  it('every pair matches its table entry for its distance, for wire and cache line alike', () => {
    for (let a = 0; a < topo.size; a++) {
      for (let b = 0; b < topo.size; b++) {
        const d = topo.distance(a, b);
        expect(fabric.latency(a, b)).toBe(wire[d]);
        expect(fabric.cacheLine(a, b)).toBe(lines[d]);
      }
    }
  });

  it('without a cache-line table, cache lines cost the wire latencies', () => {
    const f = new InterruptFabric(topo, wire);
    expect(f.lineLatencies).toBe(wire);
    expect([f.cacheLine(0, 0), f.cacheLine(0, 4), f.cacheLine(0, 1), f.cacheLine(0, 2)]).toEqual([1, 10, 100, 1000]);
  });

  it('matrices agree with the table for random shapes and latencies (property)', () => {
    const nonNeg = fc.double({ min: 0, max: 1e6, noNaN: true });
    const table = fc.record({ self: nonNeg, smt: nonNeg, socket: nonNeg, remote: nonNeg });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 3 }),
        table,
        table,
        (sockets, coresPerSocket, threadsPerCore, w, l) => {
          const t = new HostTopology({ sockets, coresPerSocket, threadsPerCore, ghz: 2 });
          const f = new InterruptFabric(t, w, l);
          const wrong: string[] = [];
          for (let a = 0; a < t.size; a++) {
            for (let b = 0; b < t.size; b++) {
              const d = t.distance(a, b);
              if (f.latency(a, b) !== w[d] || f.cacheLine(a, b) !== l[d] || f.latency(a, b) !== f.latency(b, a)) wrong.push(`${a},${b}`);
            }
          }
          expect(wrong).toEqual([]);
        },
      ),
    );
  });
});

describe('InterruptFabric bad input', () => {
  it('a negative wire latency is refused, naming the entry', () => {
    expectParameterError(() => new InterruptFabric(topo, { ...wire, socket: -1 }), 'wire latency socket', 'a non-negative, finite number of ns, got -1');
  });

  it('a non-finite wire latency is refused, naming the entry', () => {
    expectParameterError(() => new InterruptFabric(topo, { ...wire, remote: NaN }), 'wire latency remote', 'got NaN');
    expectParameterError(() => new InterruptFabric(topo, { ...wire, smt: Infinity }), 'wire latency smt', 'got Infinity');
  });

  it('a bad cache-line latency is refused, naming the cache-line table', () => {
    expectParameterError(() => new InterruptFabric(topo, wire, { ...lines, self: -5 }), 'cache-line latency self', 'got -5');
  });

  it('zero latencies are allowed', () => {
    const zero = { self: 0, smt: 0, socket: 0, remote: 0 };
    expect(new InterruptFabric(topo, zero).latency(0, 2)).toBe(0);
  });
});
