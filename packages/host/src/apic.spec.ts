import fc from 'fast-check';
import { InvalidParameterError } from '@ipilab/core';
import { APIC_MODES, X2APIC_CLUSTER_SIZE, checkApicIds, checkApicMode, icrWrites, maxApicId, type ApicMode } from './index';
import { expectParameterError } from '@ipilab/testing';


const ids1to79 = Array.from({ length: 79 }, (_, i) => i + 1);
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('icrWrites: 79 destinations (APIC IDs 1..79)', () => {
  it('x2apic-physical: one single-destination write per target', () => {
    const ws = icrWrites('x2apic-physical', ids1to79);
    expect(ws).toHaveLength(79);
    ws.forEach((w, i) => expect(w).toEqual({ destinations: [i + 1], writes: 1, shorthand: false }));
  });

  it('x2apic-cluster: one write per cluster of 16 (id >> 4), in cluster order', () => {
    const ws = icrWrites('x2apic-cluster', ids1to79);
    expect(ws.map((w) => w.destinations)).toEqual([range(1, 15), range(16, 31), range(32, 47), range(48, 63), range(64, 79)]);
    for (const w of ws) expect([w.writes, w.shorthand]).toEqual([1, false]);
  });

  it('xapic: one destination per send, each send two register writes (ICR2 then ICR)', () => {
    const ws = icrWrites('xapic', ids1to79);
    expect(ws).toHaveLength(79);
    ws.forEach((w, i) => expect(w).toEqual({ destinations: [i + 1], writes: 2, shorthand: false }));
  });

  it.each<[ApicMode, 1 | 2]>([
    ['x2apic-physical', 1],
    ['x2apic-cluster', 1],
    ['xapic', 2],
  ])('shorthand in %s: one write reaching every destination', (mode, writes) => {
    const ws = icrWrites(mode, ids1to79, true);
    expect(ws).toEqual([{ destinations: ids1to79, writes, shorthand: true }]);
    // The write holds a copy: the caller's array is not aliased.
    expect(ws[0]!.destinations).not.toBe(ids1to79);
  });

  it.each(APIC_MODES.map((m) => [m]))('no destinations in %s: no writes, with or without shorthand', (mode) => {
    expect(icrWrites(mode, [])).toEqual([]);
    expect(icrWrites(mode, [], true)).toEqual([]);
  });

  it('x2apic-cluster groups unsorted destinations by cluster, clusters ascending, ids in input order', () => {
    const ws = icrWrites('x2apic-cluster', [40, 3, 17, 2, 33, 16]);
    expect(ws.map((w) => w.destinations)).toEqual([[3, 2], [17, 16], [40, 33]]);
  });
});

describe('icrWrites laws (property)', () => {
  const mode = fc.constantFrom<ApicMode>(...APIC_MODES);
  const destinations = (m: ApicMode): fc.Arbitrary<number[]> =>
    fc.uniqueArray(fc.integer({ min: 0, max: Math.min(maxApicId(m), 4095) }), { maxLength: 120 });
  const input = mode.chain((m) => fc.tuple(fc.constant(m), destinations(m), fc.boolean()));

  it('every destination is reached by exactly one write, and no other APIC ID is', () => {
    fc.assert(
      fc.property(input, ([m, ids, shorthand]) => {
        const ws = icrWrites(m, ids, shorthand);
        const reached = ws.flatMap((w) => w.destinations);
        expect([...reached].sort((a, b) => a - b)).toEqual([...ids].sort((a, b) => a - b));
        expect(new Set(reached).size).toBe(reached.length);
      }),
    );
  });

  it('the number of writes is 1 with shorthand, one per cluster in cluster mode, one per target otherwise', () => {
    fc.assert(
      fc.property(input, ([m, ids, shorthand]) => {
        const ws = icrWrites(m, ids, shorthand);
        const expected =
          ids.length === 0 ? 0 : shorthand ? 1 : m === 'x2apic-cluster' ? new Set(ids.map((id) => id >> 4)).size : ids.length;
        expect(ws).toHaveLength(expected);
        for (const w of ws) {
          expect(w.writes).toBe(m === 'xapic' ? 2 : 1);
          expect(w.shorthand).toBe(shorthand);
          expect(w.destinations.length).toBeGreaterThan(0);
        }
      }),
    );
  });

  it('groups destinations named by anything with an APIC ID exactly as it groups the IDs', () => {
    fc.assert(
      fc.property(input, ([m, ids, shorthand]) => {
        const named = icrWrites(m, ids.map((id) => ({ id })), shorthand, (d) => d.id);
        expect(named.map((w) => ({ ...w, destinations: w.destinations.map((d) => d.id) }))).toEqual(icrWrites(m, ids, shorthand));
      }),
    );
  });

  it('in cluster mode each write carries its cluster\'s destinations in input order, whether or not the input comes in cluster order', () => {
    // Inputs in cluster order (a cpumask walk) take the one-pass path; others are grouped.
    const inClusterOrder = destinations('x2apic-cluster').map((ids) => [...ids].sort((a, b) => (a >> 4) - (b >> 4)));
    fc.assert(
      fc.property(fc.oneof(inClusterOrder, destinations('x2apic-cluster')), (ids) => {
        const ws = icrWrites('x2apic-cluster', ids);
        const clusters = [...new Set(ids.map((id) => id >> 4))].sort((a, b) => a - b);
        expect(ws.map((w) => w.destinations)).toEqual(clusters.map((c) => ids.filter((id) => id >> 4 === c)));
      }),
    );
  });

  it('in cluster mode each write stays inside one cluster of 16 and clusters never repeat', () => {
    fc.assert(
      fc.property(destinations('x2apic-cluster'), (ids) => {
        const ws = icrWrites('x2apic-cluster', ids);
        const clusters = ws.map((w) => Math.floor(w.destinations[0]! / X2APIC_CLUSTER_SIZE));
        for (const [i, w] of ws.entries()) {
          expect(w.destinations.length).toBeLessThanOrEqual(X2APIC_CLUSTER_SIZE);
          for (const id of w.destinations) expect(Math.floor(id / X2APIC_CLUSTER_SIZE)).toBe(clusters[i]);
        }
        expect(clusters).toEqual([...new Set(clusters)].sort((a, b) => a - b));
      }),
    );
  });
});

describe('APIC ID limits and validation', () => {
  it('maxApicId: 8-bit xAPIC (0xff is broadcast), 32-bit x2APIC physical, 16-bit cluster x 16 for cluster mode', () => {
    expect(maxApicId('xapic')).toBe(254);
    expect(maxApicId('x2apic-physical')).toBe(0xffff_fffe);
    expect(maxApicId('x2apic-cluster')).toBe(0xf_ffff);
    expect(X2APIC_CLUSTER_SIZE).toBe(16);
  });

  it('checkApicMode accepts every mode and returns it', () => {
    for (const m of APIC_MODES) expect(checkApicMode('guest.apicMode', m)).toBe(m);
    expect(APIC_MODES).toEqual(['xapic', 'x2apic-physical', 'x2apic-cluster']);
  });

  it('checkApicMode rejects an unknown mode, naming the field and the modes', () => {
    expectParameterError(
      () => checkApicMode('guest.apicMode', 'x3apic'),
      'guest.apicMode',
      'one of "xapic", "x2apic-physical", "x2apic-cluster", got "x3apic"',
    );
    expectParameterError(() => checkApicMode('guest.apicMode', 2), 'guest.apicMode', 'got 2');
    expectParameterError(() => checkApicMode('guest.apicMode', undefined), 'guest.apicMode', 'got undefined');
  });

  it('checkApicIds accepts IDs up to the mode limit', () => {
    expect(() => checkApicIds('targets', 'xapic', [0, 1, 254])).not.toThrow();
    expect(() => checkApicIds('targets', 'x2apic-physical', [300, 0xffff_fffe])).not.toThrow();
    expect(() => checkApicIds('targets', 'x2apic-cluster', [0xf_ffff])).not.toThrow();
    expect(() => checkApicIds('targets', 'xapic', [])).not.toThrow();
  });

  it('checkApicIds rejects an out-of-range ID naming field[i]', () => {
    expectParameterError(() => checkApicIds('ipi.targets', 'xapic', [1, 2, 300]), 'ipi.targets[2]', 'an APIC ID in [0, 254] for xapic, got 300');
    expectParameterError(() => checkApicIds('ipi.targets', 'xapic', [255]), 'ipi.targets[0]', 'got 255');
    expectParameterError(() => checkApicIds('t', 'x2apic-cluster', [0x10_0000]), 't[0]', `an APIC ID in [0, ${0xf_ffff}] for x2apic-cluster`);
    expectParameterError(() => checkApicIds('t', 'x2apic-physical', [0, 0xffff_ffff]), 't[1]', 'got 4294967295');
    expectParameterError(() => checkApicIds('t', 'x2apic-physical', [-1]), 't[0]', 'got -1');
    expectParameterError(() => checkApicIds('t', 'x2apic-physical', [1.5]), 't[0]', 'got 1.5');
    expectParameterError(() => checkApicIds('t', 'x2apic-physical', [NaN]), 't[0]', 'got NaN');
  });
});
