import { InvalidParameterError, RandomStreams } from '@ipilab/core';
import type { HypervisorConfig } from '@ipilab/hypervisor';
import { addVm, rig, vmSpec } from '../../test/harness';
import { createWorkload, createWorkloadContext, MemoryManager, Scheduler, SynchronousShootdown } from '../index';

type Backend = 'trap' | 'pv' | 'posted';

/** One workload on an 80-vCPU VM on the 80-thread Skylake preset for `ns` of simulated time. */
function run(kind: string, backend: Backend, params: Record<string, unknown> = {}, ns = 5_000_000, config: Partial<HypervisorConfig> = {}, clock: { clockScale?: number } = {}) {
  const r = rig({ host: 'skylake-2s-80t', record: false, config });
  const { vm, kernel } = addVm(r, backend, vmSpec(80, 'x2apic-physical'));
  const mm = new MemoryManager(r.hv, vm, kernel, { strategy: new SynchronousShootdown() });
  const sched = new Scheduler(r.hv, vm, kernel);
  const w = createWorkload(kind, createWorkloadContext({ hv: r.hv, vm, kernel, mm, sched, rng: new RandomStreams(7).stream(`workload/${kind}`), ...clock }), params);
  w.start();
  r.hv.start();
  r.sim.run({ until: ns });
  expect(mm.staleUses).toEqual([]);
  return w.result(ns) as Record<string, number>;
}

describe('workloads on an 80-vCPU VM under trap, pv and posted', () => {
  const figure: Record<string, string> = {
    ebizzy: 'recordsPerSecond',
    'fork-cow': 'forksPerSecond',
    'huge-split': 'splitsPerSecond',
    'irq-pipeline': 'eventsPerSecond',
    compute: 'progressPerSecond',
  };
  for (const [kind, key] of Object.entries(figure)) {
    it(`${kind} reports ${key}`, () => {
      for (const b of ['trap', 'pv', 'posted'] as const) {
        const res = run(kind, b);
        expect(Number.isFinite(res[key])).toBe(true);
        expect(res[key]).toBeGreaterThan(0);
      }
    });
  }

  it('ebizzy maps and unmaps under mmap_lock for write: two acquisitions a record, contended once threads share the process; a munmap holds it across its shootdown', () => {
    const r = rig({ host: 'skylake-2s-80t', record: false });
    const { vm, kernel } = addVm(r, 'trap', vmSpec(8, 'x2apic-physical'));
    const mm = new MemoryManager(r.hv, vm, kernel, { strategy: new SynchronousShootdown() });
    const sched = new Scheduler(r.hv, vm, kernel);
    const w = createWorkload('ebizzy', createWorkloadContext({ hv: r.hv, vm, kernel, mm, sched, rng: new RandomStreams(7).stream('workload/ebizzy') }), { threads: 8, chunkPages: 8 });
    w.start();
    r.hv.start();
    r.sim.run({ until: 10_000_000 });
    const records = (w.result(10_000_000) as { records: number }).records;
    const lock = mm.lockStats.mmapLock;
    expect(records).toBeGreaterThan(0);
    // mmap + munmap per record; the records in progress at the end have taken one or two more.
    expect(lock.acquisitions).toBeGreaterThanOrEqual(2 * records);
    expect(lock.acquisitions).toBeLessThanOrEqual(2 * records + 2 * 8);
    expect(lock.contended).toBeGreaterThan(0);
    expect(lock.waitNs).toBeGreaterThan(0);
  });

  it('hackbench reports its completion time in seconds', () => {
    for (const b of ['trap', 'pv', 'posted'] as const) {
      const res = run('hackbench', b, { groups: 2, pairs: 3, messages: 10 }, 50_000_000);
      expect(res['delivered']).toBe(2 * 3 * 3 * 10);
      expect(res['seconds']).toBeGreaterThan(0);
      expect(res['seconds']).toBeLessThan(0.05);
    }
  });

  it('ebizzy gains from paravirtual IPIs: its unmaps are broadcast shootdowns', () => {
    expect(run('ebizzy', 'pv')['recordsPerSecond']!).toBeGreaterThan(run('ebizzy', 'trap')['recordsPerSecond']!);
  });

  it('a compute victim alone progresses at its full rate: one unit per unitNs per task', () => {
    const res = run('compute', 'trap', { tasks: 4, unitNs: 10_000 }, 10_000_000);
    // 4 tasks x 1e9 / 1e4 units per second, less the context switch at the start.
    expect(res['progressPerSecond']! / 400_000).toBeGreaterThan(0.99);
  });

  it('irq-pipeline: an application thread on the other socket waits longer for its wake-up than one on the same socket', () => {
    // On skylake-2s-80t, vCPU i runs on pCPU i (pinned): pCPUs 0-19 are socket 0, 20-39 socket 1.
    const near = run('irq-pipeline', 'trap', { irqVcpus: [0], appVcpus: [1], rate: 20_000 }, 20_000_000);
    const far = run('irq-pipeline', 'trap', { irqVcpus: [0], appVcpus: [20], rate: 20_000 }, 20_000_000);
    expect(far['latencyP50Ns']!).toBeGreaterThan(near['latencyP50Ns']!);
  });
});

describe('clockScale: CPU-work parameters scale with the clock, wall-time ones do not', () => {
  // kind, parameters, figure, higher is better, duration: each with a CPU-work parameter that matters.
  const cases: [string, Record<string, unknown>, string, boolean, number][] = [
    ['compute', { tasks: 4 }, 'progressPerSecond', true, 5_000_000],
    // Two threads: with more, ebizzy is bound by mmap_lock (the munmaps' shootdowns), not its search.
    ['ebizzy', { threads: 2, searchNs: 50_000 }, 'recordsPerSecond', true, 5_000_000],
    ['fork-cow', { workNs: 50_000 }, 'forksPerSecond', true, 5_000_000],
    ['hackbench', { groups: 2, pairs: 3, messages: 10, sendNs: 20_000, receiveNs: 20_000 }, 'seconds', false, 50_000_000],
    ['huge-split', { threads: 4, touchNs: 20_000 }, 'touchesPerSecond', true, 5_000_000],
    ['irq-pipeline', { rate: 20_000, processNs: 20_000 }, 'latencyMeanNs', false, 20_000_000],
  ];

  it.each(cases)('%s: no clockScale is clockScale 1', (kind, params, key, _higher, ns) => {
    expect(run(kind, 'trap', params, ns, {}, { clockScale: 1 })[key]).toBe(run(kind, 'trap', params, ns)[key]);
  });

  it.each(cases)('%s: at clockScale 0.5 (a host at twice the profile\'s clock) it does better on %j', (kind, params, key, higher, ns) => {
    const slow = run(kind, 'trap', params, ns)[key]!;
    const fast = run(kind, 'trap', params, ns, {}, { clockScale: 0.5 })[key]!;
    if (higher) expect(fast).toBeGreaterThan(slow);
    else expect(fast).toBeLessThan(slow);
  });

  it('compute at clockScale 0.5 completes twice the units', () => {
    const at = (clockScale: number) => run('compute', 'trap', { tasks: 4, unitNs: 10_000 }, 10_000_000, {}, { clockScale })['progressPerSecond']!;
    expect(at(0.5) / at(1)).toBeCloseTo(2, 2);
  });

  // With every CPU-work parameter 0, what is left is wall time (think, arrivals, reclaim pace)
  // and calibrated costs, none of which the workload scales: the runs are identical.
  const wallOnly: [string, Record<string, unknown>][] = [
    ['ebizzy', { threads: 8, searchNs: 0, thinkNs: 50_000 }],
    ['irq-pipeline', { rate: 20_000, processNs: 0 }],
  ];
  it.each(wallOnly)('%s: thinkNs and rate do not scale (%j)', (kind, params) => {
    expect(run(kind, 'trap', params, 5_000_000, {}, { clockScale: 0.5 })).toEqual(run(kind, 'trap', params, 5_000_000));
  });

  it('huge-split: the reclaim pace (reclaimIntervalNs) does not scale, the threads\' touches do', () => {
    // touchNs 0 would be a loop of no time on a TLB hit, so this compares rates instead.
    const params = { threads: 4, touchNs: 20_000, hugePages: 128, reclaimIntervalNs: 100_000 };
    const slow = run('huge-split', 'trap', params, 5_000_000);
    const fast = run('huge-split', 'trap', params, 5_000_000, {}, { clockScale: 0.5 });
    expect(fast['touchesPerSecond']! / slow['touchesPerSecond']!).toBeGreaterThan(1.5);
    // ~40 splits in 5 ms (an interval of 100 us on average, then the split and its shootdowns),
    // either way; were the interval scaled (50 us), there would be ~65.
    expect(Math.abs(fast['splits']! - slow['splits']!) / slow['splits']!).toBeLessThan(0.1);
  });

  it.each([0, -1, NaN, Infinity])('a clockScale of %p is refused, naming clockScale', (clockScale) => {
    expect(() => run('compute', 'trap', {}, 1, {}, { clockScale })).toThrow('clockScale: expected a positive, finite ratio of clock rates');
  });
});

describe('bad workload parameters name the field', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['irq-pipeline', { rate: -5 }, 'workload.rate: expected a number >= 1, got -5'],
    ['ebizzy', { threads: 81, pinned: true }, 'workload.threads: expected at most 80 threads when pinned (the VM has 80 vCPUs), got 81'],
    ['ebizzy', { chunkPages: 0 }, 'workload.chunkPages: expected an integer >= 1 and <= 4096, got 0'],
    ['irq-pipeline', { irqVcpus: [0, 1], appVcpus: [2] }, 'workload.appVcpus: expected one application vCPU per interrupt vCPU (2), got an array of length 1'],
    ['irq-pipeline', { irqVcpus: [99], appVcpus: [1] }, 'workload.irqVcpus[0]: expected a vCPU index in [0, 79], got 99'],
    ['hackbench', { messages: 1.5 }, 'workload.messages: expected an integer >= 1, got 1.5'],
    ['compute', { unitNs: 'fast' }, 'workload.unitNs: expected a number >= 1, got "fast"'],
    ['ebizzy', { pinned: 'yes' }, 'workload.pinned: expected true or false, got "yes"'],
    ['ebizzy', { thinkNS: 5 }, 'workload.thinkNS: expected a parameter of ebizzy: one of threads, chunkPages, searchNs, thinkNs, pinned, free, got 5'],
    ['compute', { tasks: 1e9 }, "workload.tasks: expected an integer >= 1 and <= 32768 (Linux's default pid_max: no more tasks than a default guest can fork), got 1000000000"],
    ['hackbench', { groups: 200, pairs: 100 }, "workload.pairs: expected at most 32768 tasks in all (Linux's default pid_max): 200 groups x 100 pairs x 2 is more, got 100"],
    ['ipi-bench', { iterations: 1e9 }, 'workload.iterations: expected an integer >= 1 and <= 1e7 (two samples of each are kept: 160 MB a mode at most), got 1000000000'],
    ['ipi-bench', { mode: ['unicast', 'x'] }, 'workload.mode: expected a mode (dry-run, self, unicast, broadcast) or a non-empty list of them, got an array of length 2'],
    ['memcached', {}, 'workload.kind: expected one of "ipi-bench", "ebizzy", "hackbench", "fork-cow", "huge-split", "irq-pipeline", "compute", "will-it-scale", got "memcached"'],
  ];
  it.each(cases)('%s %j', (kind, params, text) => {
    let caught: unknown;
    try {
      run(kind, 'trap', params, 1);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InvalidParameterError);
    expect((caught as Error).message).toBe(text);
  });
});
