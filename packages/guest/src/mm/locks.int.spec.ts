import fc from 'fast-check';
import { Simulation } from '@ipilab/core';
import { KVM_SKYLAKE_2018, resolveCosts } from '@ipilab/calibration';
import { EventSink } from '@ipilab/events';
import { hostPreset } from '@ipilab/host';
import { DEFAULT_HYPERVISOR_CONFIG, Hypervisor } from '@ipilab/hypervisor';
import { addVm, rig, vmSpec, type Rig } from '../../test/harness';
import { activeVcpusExceed, BroadcastInvalidation, compute, sleep, MemoryManager, Scheduler, SynchronousShootdown, op, type LockMode, type ShootdownStrategy, type Task, type TaskCommand } from '../index';
import { switchTo } from '../workloads/workload';

function setup(vcpus = 4, strategy: ShootdownStrategy = new SynchronousShootdown(), r: Rig = rig({ host: 'skylake-2s-80t', record: true })) {
  const { vm, kernel } = addVm(r, 'posted', vmSpec(vcpus, 'x2apic-physical'));
  const mm = new MemoryManager(r.hv, vm, kernel, { strategy });
  const sched = new Scheduler(r.hv, vm, kernel);
  return { r, vm, kernel, mm, sched };
}

type Log = { task: string; what: 'ask' | 'got' | 'drop'; mode: LockMode; at: number }[];

/** A task that, after `delay`, takes the space's mmap_lock in `mode`, holds it `hold` ns, and releases it. */
function locker(mm: MemoryManager, space: ReturnType<MemoryManager['createSpace']>, log: Log, name: string, mode: LockMode, delay: number, hold: number, times = 1) {
  return function* (task: Task): Generator<TaskCommand, void, unknown> {
    if (delay > 0) yield op((v, resume) => v.pushWork(delay, resume));
    for (let i = 0; i < times; i++) {
      log.push({ task: name, what: 'ask', mode, at: mm.hv.sim.now });
      yield* mm.lockMmap(task, space, mode);
      log.push({ task: name, what: 'got', mode, at: mm.hv.sim.now });
      yield op((v, resume) => v.pushWork(hold, resume));
      log.push({ task: name, what: 'drop', mode, at: mm.hv.sim.now });
      yield mm.unlockMmap(space, mode);
    }
  };
}

const got = (log: Log) => log.filter((e) => e.what === 'got').map((e) => e.task);

describe('mmap_lock (rwsem)', () => {
  it('a writer excludes readers: a reader asking while the writer holds it gets it only after the writer drops it', () => {
    const { r, mm, sched } = setup();
    const s = mm.createSpace('p');
    const log: Log = [];
    sched.spawn('w', locker(mm, s, log, 'w', 'write', 0, 50_000), { vcpu: 0, affinity: [0] });
    sched.spawn('r', locker(mm, s, log, 'r', 'read', 10_000, 1_000), { vcpu: 1, affinity: [1] });
    r.hv.start();
    r.sim.run({ until: 1_000_000 });
    const wDrop = log.find((e) => e.task === 'w' && e.what === 'drop')!.at;
    const rGot = log.find((e) => e.task === 'r' && e.what === 'got')!.at;
    expect(rGot).toBeGreaterThanOrEqual(wDrop);
    expect(mm.lockStats.mmapLock.contended).toBe(1);
    expect(mm.lockStats.mmapLock.sleeps).toBe(1); // readers do not spin
  });

  it('downgrade_write: the writer keeps it as a reader and the readers waiting at the head share it at once; a writer behind them still waits', () => {
    const { r, mm, sched } = setup();
    const s = mm.createSpace('p');
    const log: Log = [];
    sched.spawn('w', function* (task: Task): Generator<TaskCommand, void, unknown> {
      yield* mm.lockMmap(task, s, 'write');
      yield op((v, resume) => v.pushWork(30_000, resume));
      log.push({ task: 'w', what: 'drop', mode: 'write', at: mm.hv.sim.now });
      yield mm.downgradeMmap(s);
      yield op((v, resume) => v.pushWork(50_000, resume));
      log.push({ task: 'w', what: 'drop', mode: 'read', at: mm.hv.sim.now });
      yield mm.unlockMmap(s, 'read');
    }, { vcpu: 0, affinity: [0] });
    sched.spawn('r', locker(mm, s, log, 'r', 'read', 10_000, 1_000), { vcpu: 1, affinity: [1] });
    sched.spawn('w2', locker(mm, s, log, 'w2', 'write', 15_000, 1_000), { vcpu: 2, affinity: [2] });
    r.hv.start();
    r.sim.run({ until: 1_000_000 });
    const downgradedAt = log.find((e) => e.task === 'w' && e.mode === 'write')!.at;
    const releasedAt = log.find((e) => e.task === 'w' && e.mode === 'read')!.at;
    const rGot = log.find((e) => e.task === 'r' && e.what === 'got')!.at;
    const w2Got = log.find((e) => e.task === 'w2' && e.what === 'got')!.at;
    expect(rGot).toBeGreaterThanOrEqual(downgradedAt);
    expect(rGot).toBeLessThan(releasedAt);
    expect(w2Got).toBeGreaterThanOrEqual(releasedAt);
  });

  it('readers share it: two readers hold it at once', () => {
    const { r, mm, sched } = setup();
    const s = mm.createSpace('p');
    const log: Log = [];
    sched.spawn('a', locker(mm, s, log, 'a', 'read', 0, 50_000), { vcpu: 0, affinity: [0] });
    sched.spawn('b', locker(mm, s, log, 'b', 'read', 10_000, 10_000), { vcpu: 1, affinity: [1] });
    r.hv.start();
    r.sim.run({ until: 1_000_000 });
    const bGot = log.find((e) => e.task === 'b' && e.what === 'got')!.at;
    const aDrop = log.find((e) => e.task === 'a' && e.what === 'drop')!.at;
    expect(bGot).toBeLessThan(aDrop);
    expect(mm.lockStats.mmapLock.contended).toBe(0);
  });

  it('writers spinning on a running owner take it in arrival order (the OSQ), ahead of sleeping readers; queued readers are then granted together', () => {
    const { r, mm, sched } = setup(6);
    const s = mm.createSpace('p');
    const log: Log = [];
    sched.spawn('w0', locker(mm, s, log, 'w0', 'write', 0, 100_000), { vcpu: 0, affinity: [0] });
    sched.spawn('r1', locker(mm, s, log, 'r1', 'read', 10_000, 5_000), { vcpu: 1, affinity: [1] });
    sched.spawn('w2', locker(mm, s, log, 'w2', 'write', 20_000, 5_000), { vcpu: 2, affinity: [2] });
    sched.spawn('w3', locker(mm, s, log, 'w3', 'write', 30_000, 5_000), { vcpu: 3, affinity: [3] });
    sched.spawn('r4', locker(mm, s, log, 'r4', 'read', 40_000, 5_000), { vcpu: 4, affinity: [4] });
    r.hv.start();
    r.sim.run({ until: 2_000_000 });
    expect(got(log)).toEqual(['w0', 'w2', 'w3', 'r1', 'r4']);
    const at = (t: string) => log.find((e) => e.task === t && e.what === 'got')!.at;
    // Reader batching: both readers granted by one release.
    expect(Math.abs(at('r1') - at('r4'))).toBeLessThan(10_000);
  });

  it('a sleeping waiter blocks its task (its vCPU halts) and is woken through the scheduler by a wake-up IPI (the wake list\'s call-function-single, its target being idle)', () => {
    const { r, mm, sched } = setup();
    const s = mm.createSpace('p');
    const log: Log = [];
    sched.spawn('w', locker(mm, s, log, 'w', 'write', 0, 200_000), { vcpu: 0, affinity: [0] });
    sched.spawn('r', locker(mm, s, log, 'r', 'read', 10_000, 1_000), { vcpu: 1, affinity: [1] });
    let haltedWhileWaiting = false;
    r.sim.schedule(100_000, () => (haltedWhileWaiting = r.hv.vms[0]!.vcpu(1).state === 'halted'));
    r.hv.start();
    r.sim.run({ until: 1_000_000 });
    expect(haltedWhileWaiting).toBe(true);
    expect(sched.wakeIpis).toBeGreaterThanOrEqual(1);
    const resched = r.events.filter((e) => e.type === 'ipi-sent' && e.vector === 0xfb && e.targets.includes(1));
    expect(resched.length).toBeGreaterThanOrEqual(1);
    expect(got(log)).toEqual(['w', 'r']);
  });

  it('a spinning writer that gives up and is granted before its frozen PAUSE loop ends takes the grant by blocking: no wake-up is left over to cut a later sleep short', () => {
    const { r, vm, mm, sched } = setup();
    const s = mm.createSpace('p');
    let holders = 0;
    let overlap = false;
    const enter = (): void => {
      if (++holders > 1) overlap = true;
    };
    const leave = (): void => void holders--;
    // A holds it for write, computes, then sleeps holding it (its owner no longer runs).
    sched.spawn('A', function* (task: Task) {
      yield* mm.lockMmap(task, s, 'write');
      enter();
      yield compute(10_000);
      yield sleep(20_000);
      leave();
      yield mm.unlockMmap(s, 'write');
    }, { vcpu: 0, affinity: [0] });
    // B spins on A (running), gives up once A sleeps; an interrupt handler on B's vCPU keeps
    // its PAUSE loop from ending until after A has released and granted B.
    sched.spawn('B', function* (task: Task) {
      yield compute(5_000);
      yield* mm.lockMmap(task, s, 'write');
      enter();
      yield compute(1_000);
      leave();
      yield mm.unlockMmap(s, 'write');
      // Later: a read while C writes must sleep until C is done.
      yield compute(100_000);
      yield* mm.lockMmap(task, s, 'read');
      enter();
      yield compute(1_000);
      leave();
      yield mm.unlockMmap(s, 'read');
    }, { vcpu: 1, affinity: [1] });
    sched.spawn('C', function* (task: Task) {
      yield compute(120_000);
      yield* mm.lockMmap(task, s, 'write');
      enter();
      yield compute(50_000);
      leave();
      yield mm.unlockMmap(s, 'write');
    }, { vcpu: 2, affinity: [2] });
    r.sim.schedule(10_500, () => vm.vcpu(1).pushWork(50_000, () => undefined));
    r.hv.start();
    r.sim.run({ until: 2_000_000 });
    expect(mm.lockStats.mmapLock.sleeps).toBeGreaterThanOrEqual(2);
    expect(overlap).toBe(false);
    expect(sched.tasks.map((t) => t.state)).toEqual(['done', 'done', 'done']);
  });

  it('law: never a writer with another holder, and every acquirer eventually gets it (no lost wake-up, no stale one), with downgrades and on overcommitted vCPUs', () => {
    // `downgrade`: down_write, then downgrade_write, then up_read (munmap's pattern). On 2 shared
    // pCPUs the host preempts vCPUs mid-spin and mid-hold, so spinning writers give up and sleep
    // while their PAUSE loop is frozen, and wake-ups race with blocks.
    fc.assert(
      fc.property(
        fc.array(fc.record({ mode: fc.constantFrom<LockMode | 'downgrade'>('read', 'write', 'downgrade'), vcpu: fc.integer({ min: 0, max: 3 }), delay: fc.integer({ min: 0, max: 50_000 }), hold: fc.integer({ min: 0, max: 30_000 }), times: fc.integer({ min: 1, max: 4 }) }), { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        (tasks, overcommit) => {
          const r = rig({ host: 'skylake-2s-80t', record: false });
          const { vm, kernel } = addVm(r, 'posted', vmSpec(4, 'x2apic-physical', { hz: 10_000, ...(overcommit ? { placement: 'shared', pcpus: [0, 1] } : {}) }));
          const mm = new MemoryManager(r.hv, vm, kernel, { strategy: new SynchronousShootdown() });
          const sched = new Scheduler(r.hv, vm, kernel);
          const s = mm.createSpace('p');
          const lock = mm.mmapLock(s);
          const log: Log = [];
          let violation = '';
          let readers = 0;
          let writers = 0;
          const check = (): void => {
            if (writers > 1 || (writers === 1 && readers > 0)) violation ||= `writers ${writers}, readers ${readers} at ${r.sim.now}`;
            const h = lock.holders;
            if (h === 'write' && lock.writerTask === null) violation ||= `writer-held with no writer at ${r.sim.now}`;
            if (h !== 'write' && writers > 0) violation ||= `a task writes while the lock is ${String(h)} at ${r.sim.now}`;
            if (typeof h === 'number' && h < readers) violation ||= `${readers} readers, the lock counts ${h} at ${r.sim.now}`;
          };
          tasks.forEach((t, i) => {
            const name = `t${i}`;
            sched.spawn(name, function* (task: Task) {
              if (t.delay > 0) yield op((v, resume) => v.pushWork(t.delay, resume));
              for (let k = 0; k < t.times; k++) {
                const first: LockMode = t.mode === 'read' ? 'read' : 'write';
                yield* mm.lockMmap(task, s, first);
                if (first === 'write') writers++;
                else readers++;
                check();
                log.push({ task: name, what: 'got', mode: first, at: r.sim.now });
                yield op((v, resume) => v.pushWork(t.hold, resume));
                let last: LockMode = first;
                if (t.mode === 'downgrade') {
                  writers--;
                  readers++;
                  yield mm.downgradeMmap(s);
                  check();
                  yield op((v, resume) => v.pushWork(t.hold, resume));
                  last = 'read';
                }
                if (last === 'write') writers--;
                else readers--;
                yield mm.unlockMmap(s, last);
              }
            }, { vcpu: t.vcpu });
          });
          r.hv.start();
          r.sim.run({ until: 50_000_000 });
          expect(violation).toBe('');
          expect(log.length).toBe(tasks.reduce((a, t) => a + t.times, 0));
          expect(lock.holders).toBe('free');
          expect(lock.queued).toBe(0);
        },
      ),
      { numRuns: 80 },
    );
  });
});

describe('page-table locks and the LRU lock', () => {
  it('PTE changes on one page-table page contend for its lock; on different ones they do not', () => {
    for (const [a, b, contended] of [[5, 6, true], [5, 512 + 6, false]] as const) {
      const { r, vm, mm } = setup(2);
      const s = mm.createSpace('p');
      mm.populate(s, 0, 1024);
      const [v0, v1] = [vm.vcpu(0), vm.vcpu(1)];
      mm.switchTo(v0, s);
      mm.switchTo(v1, s);
      const many = (base: number) => Array.from({ length: 30 }, (_, i) => base + i * 0);
      v0.pushWork(0, () => mm.remap(v0, s, many(a), () => undefined));
      v1.pushWork(0, () => mm.remap(v1, s, many(b), () => undefined));
      r.hv.start();
      r.sim.run({ until: 5_000_000 });
      expect(mm.lockStats.ptl.acquisitions).toBe(2);
      expect(mm.lockStats.ptl.contended).toBe(contended ? 1 : 0);
      expect(mm.lockStats.ptl.waitNs > 0).toBe(contended);
    }
  });

  it('munmap frees its pages under the LRU lock once per batch of 31 (PAGEVEC_SIZE)', () => {
    const { r, vm, mm } = setup(2);
    const s = mm.createSpace('p');
    mm.populate(s, 0, 100);
    const v0 = vm.vcpu(0);
    mm.switchTo(v0, s);
    let done = false;
    v0.pushWork(0, () => mm.unmap(v0, s, Array.from({ length: 100 }, (_, i) => i), () => (done = true)));
    r.hv.start();
    r.sim.run({ until: 5_000_000 });
    expect(done).toBe(true);
    expect(mm.lockStats.lru.acquisitions).toBe(Math.ceil(100 / 31));
  });
});

describe('INVLPGB', () => {
  it('concurrent broadcasts beyond the host-wide limit queue, across VMs of the host', () => {
    const sim = new Simulation();
    const sink = new EventSink();
    const hv = new Hypervisor(sim, sink, hostPreset('skylake-2s-80t'), resolveCosts(KVM_SKYLAKE_2018, { invlpgbOutstanding: 1 }), DEFAULT_HYPERVISOR_CONFIG);
    const r: Rig = { sim, sink, hv, events: [] };
    const a = setup(2, new BroadcastInvalidation('always'), r);
    const b = setup(2, new BroadcastInvalidation('always'), r);
    for (const x of [a, b]) {
      const s = x.mm.createSpace('p');
      x.mm.populate(s, 0, 8);
      const v = x.vm.vcpu(0);
      x.mm.switchTo(v, s);
      v.pushWork(0, () => x.mm.remap(v, s, [1], () => undefined));
    }
    hv.start();
    sim.run({ until: 5_000_000 });
    expect(a.mm.broadcastStats.sequences + b.mm.broadcastStats.sequences).toBe(2);
    expect(a.mm.broadcastStats.queued + b.mm.broadcastStats.queued).toBe(1);
    expect(a.mm.broadcastStats.waitNs + b.mm.broadcastStats.waitNs).toBeGreaterThanOrEqual(hv.costs.tlbSync);
  });

  it('mm_active_cpus_exceeds counts the vCPUs running the process, not those in lazy TLB mode (even while they run kernel work)', () => {
    const { vm, mm } = setup(6);
    const space = mm.createSpace('p');
    for (const v of vm.vcpus) {
      mm.switchTo(v, space);
      v.pushWork(1_000_000, () => undefined); // busy: a kernel thread, or the process itself
    }
    expect(activeVcpusExceed(mm, space, 3)).toBe(true);
    for (const v of vm.vcpus.slice(0, 3)) mm.enterLazy(v); // three run kernel threads: lazy
    expect(activeVcpusExceed(mm, space, 3)).toBe(false);
  });

  it('Linux\'s rule: a process on 2 vCPUs keeps IPI shootdowns; one active on 8 gets a global ASID and then broadcasts', () => {
    // Threads that compute and change their own page now and then (as madvise(MADV_DONTNEED) in
    // will-it-scale's tlb_flush2, which Rik van Riel measured the series with): all stay active.
    const run = (threads: number) => {
      const { r, mm, sched } = setup(8, new BroadcastInvalidation());
      const s = mm.createSpace('p');
      mm.populate(s, 0, 64);
      for (let i = 0; i < threads; i++) {
        sched.spawn(`t${i}`, function* () {
          yield switchTo(mm, s);
          for (;;) {
            yield compute(20_000);
            yield op((v, resume) => mm.read(v, 40 + i, () => mm.remap(v, s, [i], () => resume())));
          }
        }, { vcpu: i, affinity: [i] });
      }
      r.hv.start();
      r.sim.run({ until: 80_000_000 });
      return { global: mm.lockReport().globalAsids, broadcasts: mm.broadcastStats.sequences, ipis: r.events.filter((e) => e.type === 'ipi-sent' && e.vector !== 0xfd).length };
    };
    const two = run(2);
    expect(two.global).toBe(0);
    expect(two.broadcasts).toBe(0);
    expect(two.ipis).toBeGreaterThan(0);
    const eight = run(8);
    expect(eight.global).toBe(1);
    expect(eight.broadcasts).toBeGreaterThan(0);
  });
});
