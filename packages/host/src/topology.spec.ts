import fc from 'fast-check';
import { InvalidParameterError } from '@ipilab/core';
import { HOST_PRESETS, HostTopology, hostPreset, type CpuDistance } from './index';
import { expectParameterError } from '@ipilab/testing';

/** Runs `act`, asserts it threw an InvalidParameterError for `field` whose message contains `text`. */

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

describe('HostTopology: the skylake-2s-80t preset', () => {
  const host = hostPreset('skylake-2s-80t');

  it('has 80 logical CPUs with ids 0..79, each at its own index, and unique APIC IDs', () => {
    expect(host.size).toBe(80);
    expect(host.pcpus.map((p) => p.id)).toEqual(range(0, 80));
    host.pcpus.forEach((p, i) => expect(host.pcpu(i)).toBe(p));
    expect(new Set(host.pcpus.map((p) => p.apicId)).size).toBe(80);
    expect(host.name).toBe('skylake-2s-80t');
    expect(host.ghz).toBe(2.5);
    expect([host.sockets, host.coresPerSocket, host.threadsPerCore]).toEqual([2, 20, 2]);
  });

  it('numbers logical CPUs as Linux does: all first threads, then all second threads', () => {
    expect(host.pcpu(0)).toMatchObject({ socket: 0, core: 0, thread: 0 });
    expect(host.pcpu(40)).toMatchObject({ socket: 0, core: 0, thread: 1 });
    expect(host.pcpu(20)).toMatchObject({ socket: 1, core: 0, thread: 0 });
    expect(host.pcpu(19)).toMatchObject({ socket: 0, core: 19, thread: 0 });
    expect(host.pcpu(60)).toMatchObject({ socket: 1, core: 0, thread: 1 });
    expect(host.pcpu(79)).toMatchObject({ socket: 1, core: 19, thread: 1 });
  });

  it('lays out APIC IDs as thread in bit 0, core above it (5 bits for 20 cores), socket above that', () => {
    expect(host.pcpu(0).apicId).toBe(0);
    expect(host.pcpu(40).apicId).toBe(1); // SMT sibling of pcpu 0
    expect(host.pcpu(1).apicId).toBe(2);
    expect(host.pcpu(41).apicId).toBe(3);
    expect(host.pcpu(20).apicId).toBe(64); // socket 1 << (5 core bits + 1 thread bit)
    expect(host.pcpu(79).apicId).toBe((((1 << 5) | 19) << 1) | 1);
  });

  it('distance() classifies self, SMT sibling, same socket and remote socket', () => {
    const cases: [number, number, CpuDistance][] = [
      [0, 0, 'self'],
      [79, 79, 'self'],
      [0, 40, 'smt'],
      [40, 0, 'smt'],
      [21, 61, 'smt'],
      [0, 1, 'socket'],
      [0, 41, 'socket'],
      [0, 19, 'socket'],
      [20, 39, 'socket'],
      [0, 20, 'remote'],
      [0, 60, 'remote'],
      [40, 20, 'remote'],
      [19, 79, 'remote'],
    ];
    for (const [a, b, d] of cases) expect([a, b, host.distance(a, b)]).toEqual([a, b, d]);
  });

  it('socketCpus lists the CPUs of one socket in id order, both threads of each core', () => {
    expect(host.socketCpus(0)).toEqual([...range(0, 20), ...range(40, 60)]);
    expect(host.socketCpus(1)).toEqual([...range(20, 40), ...range(60, 80)]);
  });
});

describe('HostTopology: other presets', () => {
  it('epyc-7642-2s has 192 logical CPUs at 2.3 GHz', () => {
    const host = hostPreset('epyc-7642-2s');
    expect(host.size).toBe(192);
    expect(host.ghz).toBe(2.3);
    expect(host.pcpu(96)).toMatchObject({ socket: 0, core: 0, thread: 1 });
    expect(host.pcpu(48)).toMatchObject({ socket: 1, core: 0, thread: 0 });
    expect(host.distance(0, 96)).toBe('smt');
    expect(host.distance(0, 48)).toBe('remote');
    expect(new Set(host.pcpus.map((p) => p.apicId)).size).toBe(192);
  });

  it('small-1s-8t has 8 logical CPUs on one socket, so no pair is remote', () => {
    const host = hostPreset('small-1s-8t');
    expect(host.size).toBe(8);
    for (let a = 0; a < 8; a++) for (let b = 0; b < 8; b++) expect(host.distance(a, b)).not.toBe('remote');
    expect(host.socketCpus(0)).toEqual(range(0, 8));
  });

  it('every preset builds a topology whose size is sockets x cores x threads and whose name is the key', () => {
    for (const [key, spec] of Object.entries(HOST_PRESETS)) {
      const host = hostPreset(key);
      expect(host.name).toBe(key);
      expect(host.size).toBe(spec.sockets * spec.coresPerSocket * spec.threadsPerCore);
      expect(spec.description.length).toBeGreaterThan(0);
    }
  });

  it('an unnamed topology is named after its shape', () => {
    expect(new HostTopology({ sockets: 2, coresPerSocket: 3, threadsPerCore: 1, ghz: 1 }).name).toBe('2s-3c-1t');
  });
});

describe('HostTopology laws (property)', () => {
  const shape = fc.record({
    sockets: fc.integer({ min: 1, max: 4 }),
    coresPerSocket: fc.integer({ min: 1, max: 9 }),
    threadsPerCore: fc.integer({ min: 1, max: 4 }),
    ghz: fc.double({ min: 0.5, max: 5, noNaN: true }),
  });

  it('size is the product of the shape; ids are 0..n-1 in Linux order; APIC IDs are unique and encode (socket, core, thread)', () => {
    fc.assert(
      fc.property(shape, (spec) => {
        const host = new HostTopology(spec);
        const n = spec.sockets * spec.coresPerSocket * spec.threadsPerCore;
        expect(host.size).toBe(n);
        expect(host.pcpus.map((p) => p.id)).toEqual(range(0, n));
        const coreBits = Math.ceil(Math.log2(spec.coresPerSocket));
        const threadBits = Math.ceil(Math.log2(spec.threadsPerCore));
        for (const p of host.pcpus) {
          expect(p.id).toBe(p.thread * spec.sockets * spec.coresPerSocket + p.socket * spec.coresPerSocket + p.core);
          expect(p.apicId & ((1 << threadBits) - 1)).toBe(p.thread);
          expect((p.apicId >> threadBits) & ((1 << coreBits) - 1)).toBe(p.core);
          expect(p.apicId >> (threadBits + coreBits)).toBe(p.socket);
        }
        expect(new Set(host.pcpus.map((p) => p.apicId)).size).toBe(n);
        expect(new Set(host.pcpus.map((p) => `${p.socket}/${p.core}/${p.thread}`)).size).toBe(n);
      }),
    );
  });

  it('distance is symmetric, self only on the diagonal, and agrees with (socket, core)', () => {
    fc.assert(
      fc.property(shape, (spec) => {
        const host = new HostTopology(spec);
        const wrong: string[] = [];
        for (let a = 0; a < host.size; a++) {
          for (let b = 0; b < host.size; b++) {
            const d = host.distance(a, b);
            const pa = host.pcpu(a);
            const pb = host.pcpu(b);
            const expected: CpuDistance =
              a === b ? 'self' : pa.socket !== pb.socket ? 'remote' : pa.core === pb.core ? 'smt' : 'socket';
            if (d !== expected || host.distance(b, a) !== d) wrong.push(`${a},${b}: ${d}, expected ${expected}`);
          }
        }
        expect(wrong).toEqual([]);
      }),
      { numRuns: 50 },
    );
  });

  it('socketCpus partitions the CPUs, each socket holding cores x threads of them in id order', () => {
    fc.assert(
      fc.property(shape, (spec) => {
        const host = new HostTopology(spec);
        const all: number[] = [];
        for (let s = 0; s < spec.sockets; s++) {
          const cpus = host.socketCpus(s);
          expect(cpus).toHaveLength(spec.coresPerSocket * spec.threadsPerCore);
          expect([...cpus].sort((x, y) => x - y)).toEqual(cpus);
          for (const c of cpus) expect(host.pcpu(c).socket).toBe(s);
          all.push(...cpus);
        }
        expect(all.sort((x, y) => x - y)).toEqual(range(0, host.size));
      }),
    );
  });
});

describe('HostTopology bad input', () => {
  const ok = { sockets: 2, coresPerSocket: 4, threadsPerCore: 2, ghz: 2 };

  const cases: [string, () => unknown, string, string][] = [
    ['sockets 0', () => new HostTopology({ ...ok, sockets: 0 }), 'host.sockets', 'an integer in [1, 64], got 0'],
    ['sockets 65', () => new HostTopology({ ...ok, sockets: 65 }), 'host.sockets', 'an integer in [1, 64], got 65'],
    ['fractional cores', () => new HostTopology({ ...ok, coresPerSocket: 1.5 }), 'host.coresPerSocket', 'an integer in [1, 1024], got 1.5'],
    ['threads 9', () => new HostTopology({ ...ok, threadsPerCore: 9 }), 'host.threadsPerCore', 'an integer in [1, 8], got 9'],
    ['string sockets', () => new HostTopology({ ...ok, sockets: '2' as unknown as number }), 'host.sockets', 'got "2"'],
    ['ghz -1', () => new HostTopology({ ...ok, ghz: -1 }), 'host.ghz', 'a clock rate in GHz, in (0, 10], got -1'],
    ['ghz 0', () => new HostTopology({ ...ok, ghz: 0 }), 'host.ghz', 'got 0'],
    ['ghz NaN', () => new HostTopology({ ...ok, ghz: NaN }), 'host.ghz', 'got NaN'],
    ['ghz 11', () => new HostTopology({ ...ok, ghz: 11 }), 'host.ghz', 'got 11'],
    ['null spec', () => new HostTopology(null as never), 'host', 'an object, got null'],
    ['field prefix', () => new HostTopology({ ...ok, sockets: 0 }, 'scenario.host'), 'scenario.host.sockets', 'got 0'],
  ];
  it.each(cases)('%s is an InvalidParameterError naming the field', (_name, act, field, text) => {
    expectParameterError(act, field, text);
  });

  it('an unknown preset name is refused with the list of presets', () => {
    expectParameterError(() => hostPreset('nope'), 'host.preset', 'one of "skylake-2s-80t", "epyc-7642-2s", "small-1s-8t", got "nope"');
  });

  it('pcpu() outside the machine is refused with the valid range', () => {
    const host = hostPreset('skylake-2s-80t');
    expectParameterError(() => host.pcpu(999), 'pcpu', 'a logical CPU number in [0, 79], got 999');
    expectParameterError(() => host.pcpu(-1), 'pcpu', 'got -1');
    expectParameterError(() => host.pcpu(80), 'pcpu', 'got 80');
    expectParameterError(() => host.distance(0, 80), 'pcpu', 'got 80');
  });
});

describe('preset look-up and distance validate their input', () => {
  it.each(['toString', 'constructor', '__proto__'])('%s is an unknown preset', (name) => {
    expect(() => hostPreset(name)).toThrow(InvalidParameterError);
    expect(() => hostPreset(name)).toThrow('host.preset: expected one of');
  });

  it('distance(a, a) still checks that a exists', () => {
    const t = hostPreset('small-1s-8t');
    expect(t.distance(3, 3)).toBe('self');
    expect(() => t.distance(999, 999)).toThrow('pcpu: expected a logical CPU number in [0, 7], got 999');
  });
});

describe('HostTopology: cores (coreOf, coreThreads)', () => {
  // Law: two pCPUs share a core exactly when they are on one socket with one core number, and a
  // core's threads are those pCPUs, in id order; every per-core table of the model reads these.
  it('coreOf and coreThreads group exactly the SMT siblings, in id order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 4 }), (sockets, coresPerSocket, threadsPerCore) => {
        const t = new HostTopology({ sockets, coresPerSocket, threadsPerCore, ghz: 2 });
        for (const a of t.pcpus) {
          const expected = t.pcpus.filter((b) => b.socket === a.socket && b.core === a.core).map((b) => b.id);
          expect(t.coreThreads(a.id)).toEqual(expected);
          for (const b of t.pcpus) expect(t.coreOf(a.id) === t.coreOf(b.id)).toBe(expected.includes(b.id));
        }
      }),
    );
  });

  it('a pCPU outside the host is refused, naming it', () => {
    const t = new HostTopology({ sockets: 1, coresPerSocket: 2, threadsPerCore: 2, ghz: 2 });
    expect(() => t.coreOf(4)).toThrow(/pcpu.*\[0, 3\]/);
  });
});
