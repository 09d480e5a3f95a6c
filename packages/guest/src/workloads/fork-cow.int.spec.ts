import fc from 'fast-check';
import { RandomStreams } from '@ipilab/core';
import { addVm, rig, vmSpec } from '../../test/harness';
import { createWorkloadContext, ForkCowWorkload, MemoryManager, Scheduler, SynchronousShootdown, type Task } from '../index';

interface ForkRun {
  forksPerSecond: number;
  /** Children forked, with when each was made and what became of it. */
  children: { task: Task; bornAt: number }[];
  forks: number;
  staleUses: number;
  now: number;
}

/** fork-cow on one VM of `vcpus` on the 80-thread Skylake preset (the host), for `ns`. */
function runForkCow(vcpus: number, params: Record<string, unknown>, ns: number, sliceNs?: number, hz?: number): ForkRun {
  const r = rig({ host: 'skylake-2s-80t', record: false });
  const { vm, kernel } = addVm(r, 'trap', vmSpec(vcpus, 'x2apic-physical', hz === undefined ? {} : { hz }));
  const mm = new MemoryManager(r.hv, vm, kernel, { strategy: new SynchronousShootdown() });
  const sched = new Scheduler(r.hv, vm, kernel, sliceNs === undefined ? {} : { sliceNs });
  // Note each child as it is made (fork's copy_process), to follow it to its exit.
  const children: { task: Task; bornAt: number }[] = [];
  const spawnBlocked = sched.spawnBlocked.bind(sched);
  sched.spawnBlocked = (...args: Parameters<Scheduler['spawnBlocked']>): Task => {
    const task = spawnBlocked(...args);
    children.push({ task, bornAt: r.sim.now });
    return task;
  };
  const w = new ForkCowWorkload(createWorkloadContext({ hv: r.hv, vm, kernel, mm, sched, rng: new RandomStreams(1).stream('workload/fork-cow') }), params);
  w.start();
  r.hv.start();
  r.sim.run({ until: ns });
  const res = w.result(ns) as { forksPerSecond: number };
  return { forksPerSecond: res.forksPerSecond, children, forks: w.forks, staleUses: mm.staleUses.length, now: r.sim.now };
}

describe('fork-cow: children of parents that never wait for them', () => {
  it('8 parents: forks/s rises with vCPUs, with no cliff between 8 and 9 (the filed issue)', () => {
    // The case: 8 parents, 20 us of work between forks, 20 ms. The parents never block
    // (they do not wait4), so a parent gives its vCPU to the children queued there only when the
    // tick preempts it at the end of its slice. When the scheduler counted the slice per compute
    // command instead, a parent's 20 us computes never used one up: with as many parents as
    // vCPUs every vCPU belonged to a parent for good and the children never ran (200 forks/s at
    // 8 vCPUs, 36,300 at 9: one parent-free vCPU).
    const params = { parents: 8, pages: 64, writes: 16, workNs: 20_000 };
    const fps = [8, 9, 16].map((v) => runForkCow(v, params, 20_000_000).forksPerSecond);
    const [at8, at9, at16] = fps as [number, number, number];
    // A ninth vCPU adds a ninth of the VM's CPU: with the same work shared by all, forks/s at 8
    // vCPUs can fall short of 9's by about that, not by orders of magnitude. Half is a wide
    // margin for the parents' share of each vCPU, which differs with how many share it.
    expect(at8 / at9).toBeGreaterThan(0.5);
    expect(at8).toBeLessThanOrEqual(at9);
    expect(at9).toBeLessThanOrEqual(at16);
  });

  it('every child forked runs and exits: forked = exited + alive, and none forked in the first half is still alive at the end', () => {
    // Conservation and liveness, whatever the mix of parents and vCPUs: a child is queued by
    // wake_up_new_task and, however long the parents keep running, the round robin reaches it.
    // The run is 100 slices long, and the tick (5 kHz) as long as a slice, so slices end when
    // they should; a child waits at most a few turns of the tasks ahead of it, each at most a
    // slice, a tick and an operation, so half the run is a very wide margin.
    fc.assert(
      fc.property(
        fc.record({
          parents: fc.integer({ min: 1, max: 6 }),
          vcpus: fc.integer({ min: 1, max: 6 }),
          writes: fc.integer({ min: 0, max: 6 }),
          workNs: fc.integer({ min: 10_000, max: 50_000 }),
        }),
        ({ parents, vcpus, writes, workNs }) => {
          const sliceNs = 200_000;
          const ns = 100 * sliceNs;
          const run = runForkCow(vcpus, { parents, pages: 16, writes, workNs }, ns, sliceNs, 5_000);
          const alive = run.children.filter((c) => c.task.state !== 'done');
          expect(run.children.length).toBe(run.forks + alive.length);
          const stuck = alive.filter((c) => c.bornAt < ns / 2).map((c) => ({ child: c.task.name, state: c.task.state, vcpu: c.task.vcpu, bornAt: c.bornAt }));
          expect(stuck).toEqual([]);
          expect(run.forks).toBeGreaterThan(0);
          expect(run.staleUses).toBe(0);
        },
      ),
      { numRuns: 20 },
    );
  });

  it('parentThreads: a multi-threaded parent\'s forks and CoW faults shoot down across its threads\' vCPUs and contend for its mmap_lock; a single-threaded one sends no flush IPI', () => {
    const flushIpis = (parentThreads: number) => {
      const r = rig({ host: 'skylake-2s-80t', record: true });
      const { vm, kernel } = addVm(r, 'trap', vmSpec(8, 'x2apic-physical'));
      const mm = new MemoryManager(r.hv, vm, kernel, { strategy: new SynchronousShootdown() });
      const sched = new Scheduler(r.hv, vm, kernel);
      new ForkCowWorkload(createWorkloadContext({ hv: r.hv, vm, kernel, mm, sched, rng: new RandomStreams(1).stream('w') }), { parents: 1, parentThreads, pages: 16, writes: 4, workNs: 20_000 }).start();
      r.hv.start();
      r.sim.run({ until: 5_000_000 });
      return { ipis: r.events.filter((e) => e.type === 'ipi-sent' && e.vector !== 0xfd).length, contended: mm.lockStats.mmapLock.contended, stale: mm.staleUses.length };
    };
    const one = flushIpis(1);
    const four = flushIpis(4);
    expect(one.ipis).toBe(0);
    expect(four.ipis).toBeGreaterThan(0);
    expect(four.contended).toBeGreaterThan(0);
    expect(four.stale).toBe(0);
  });
});
