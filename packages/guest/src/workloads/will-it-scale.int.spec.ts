import { RandomStreams } from '@ipilab/core';
import { addVm, rig, vmSpec } from '../../test/harness';
import { BroadcastInvalidation, createWorkloadContext, MemoryManager, Scheduler, SynchronousShootdown, WillItScaleWorkload, type ShootdownStrategy } from '../index';

function run(test: 'page_fault' | 'mmap', threads: number, strategy: ShootdownStrategy, ns = 10_000_000) {
  const r = rig({ host: 'skylake-2s-80t', record: false });
  const { vm, kernel } = addVm(r, 'posted', vmSpec(16, 'x2apic-physical'));
  const mm = new MemoryManager(r.hv, vm, kernel, { strategy });
  const sched = new Scheduler(r.hv, vm, kernel);
  const w = new WillItScaleWorkload(createWorkloadContext({ hv: r.hv, vm, kernel, mm, sched, rng: new RandomStreams(1).stream('w') }), { test, threads, pages: 128 });
  w.start();
  r.hv.start();
  r.sim.run({ until: ns });
  const res = w.result(ns) as { opsPerSecond: number; opsPerSecondPerThread: number };
  return { ...res, mmapWait: mm.lockStats.mmapLock.waitNs, lruWait: mm.lockStats.lru.waitNs, stale: mm.staleUses.length };
}

describe('will-it-scale', () => {
  it('mmap1: ops/s per thread falls as threads are added, because the threads wait for mmap_lock (it would scale linearly without the lock)', () => {
    const runs = [1, 2, 4, 8].map((t) => run('mmap', t, new SynchronousShootdown()));
    for (let i = 1; i < runs.length; i++) {
      // Per-thread throughput falls with every doubling (by how much depends on how many waiters
      // sleep rather than spin: 2 threads hand the lock off through sleeps and wake-ups more often).
      expect(runs[i]!.opsPerSecondPerThread).toBeLessThan(runs[i - 1]!.opsPerSecondPerThread * 0.9);
      expect(runs[i]!.mmapWait).toBeGreaterThan(runs[i - 1]!.mmapWait);
    }
    // Writers serialise: 8 threads do no more than about what 1 does.
    expect(runs[3]!.opsPerSecond).toBeLessThan(runs[0]!.opsPerSecond * 1.5);
  });

  it.each([
    ['sync', () => new SynchronousShootdown()],
    ['invlpgb-all', () => new BroadcastInvalidation('always')],
  ] as const)('page_fault1 under %s: total ops/s rises less than the threads, per-thread ops/s falls, and lock waits grow', (_name, make) => {
    const runs = [1, 4, 16].map((t) => run('page_fault', t, make()));
    const [one, four, sixteen] = runs as [(typeof runs)[0], (typeof runs)[0], (typeof runs)[0]];
    expect(four.opsPerSecondPerThread).toBeLessThan(one.opsPerSecondPerThread * 0.9);
    expect(sixteen.opsPerSecondPerThread).toBeLessThan(four.opsPerSecondPerThread * 0.8);
    expect(one.mmapWait).toBe(0);
    expect(four.mmapWait).toBeGreaterThan(0);
    expect(sixteen.mmapWait).toBeGreaterThan(four.mmapWait * 2);
    expect(sixteen.lruWait).toBeGreaterThan(0);
    for (const r of runs) expect(r.stale).toBe(0);
  });

  it('names a bad test', () => {
    const r = rig({ record: false });
    const { vm, kernel } = addVm(r, 'trap', vmSpec(2, 'x2apic-physical'));
    const mm = new MemoryManager(r.hv, vm, kernel, { strategy: new SynchronousShootdown() });
    const sched = new Scheduler(r.hv, vm, kernel);
    expect(() => new WillItScaleWorkload(createWorkloadContext({ hv: r.hv, vm, kernel, mm, sched, rng: new RandomStreams(1).stream('w') }), { test: 'brk1' })).toThrow('workload.test');
  });
});
