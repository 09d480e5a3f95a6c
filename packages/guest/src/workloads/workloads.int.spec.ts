import { InvalidParameterError, RandomStreams } from '@ipilab/core';
import type { HypervisorConfig } from '@ipilab/hypervisor';
import { addVm, rig, vmSpec } from '../../test/harness';
import { createWorkload, MemoryManager, Scheduler, SynchronousShootdown } from '../index';

type Backend = 'trap' | 'pv' | 'posted';

/** One workload on an 80-vCPU VM on the 80-thread Skylake preset for `ns` of simulated time. */
function run(kind: string, backend: Backend, params: Record<string, unknown> = {}, ns = 5_000_000, config: Partial<HypervisorConfig> = {}) {
  const r = rig({ host: 'skylake-2s-80t', record: false, config });
  const { vm, kernel } = addVm(r, backend, vmSpec(80, 'x2apic-physical'));
  const mm = new MemoryManager(r.hv, vm, kernel, { strategy: new SynchronousShootdown() });
  const sched = new Scheduler(r.hv, vm, kernel);
  const w = createWorkload(kind, { hv: r.hv, vm, kernel, mm, sched, rng: new RandomStreams(7).stream(`workload/${kind}`) }, params);
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

describe('bad workload parameters name the field', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['irq-pipeline', { rate: -5 }, 'workload.rate: expected a number >= 1, got -5'],
    ['ebizzy', { threads: 81, pinned: true }, 'workload.threads: expected at most 80 threads when pinned (the VM has 80 vCPUs), got 81'],
    ['ebizzy', { chunkPages: 0 }, 'workload.chunkPages: expected an integer >= 1 and <= 4096, got 0'],
    ['irq-pipeline', { irqVcpus: [0, 1], appVcpus: [2] }, 'workload.appVcpus: expected one application vCPU per interrupt vCPU (2), got an array of length 1'],
    ['irq-pipeline', { irqVcpus: [99], appVcpus: [1] }, 'workload.irqVcpus[0]: expected a vCPU index in [0, 79], got 99'],
    ['hackbench', { messages: 1.5 }, 'workload.messages: expected an integer >= 1, got 1.5'],
    ['compute', { unitNs: 'fast' }, 'workload.unitNs: expected a number >= 1, got "fast"'],
    ['memcached', {}, 'workload.kind: expected one of "ipi-bench", "ebizzy", "hackbench", "fork-cow", "huge-split", "irq-pipeline", "compute", got "memcached"'],
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
