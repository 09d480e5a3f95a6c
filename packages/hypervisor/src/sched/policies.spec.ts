import type { Vcpu } from '@ipilab/vcpu';
import { CFS_LATENCY_NS, CFS_POLICY, CFS_WAKEUP_GRANULARITY_NS } from './cfs-policy';
import { EEVDF_BASE_SLICE_NS, EEVDF_POLICY } from './eevdf-policy';
import { FIFO_POLICY } from './fifo-policy';
import { HostThread, NICE_0_WEIGHT, tunableScale, untilNextTick, type HostRunqueue, type HostSchedulerPolicy } from './host-scheduler';

const ctx = { pcpu: 0, nrCpus: 1, hz: 1000, tickPhaseNs: 0, timeSliceNs: 1_000_000, host: {}, reschedule: (): void => undefined };
let nextId = 0;
const thread = (weight = NICE_0_WEIGHT): HostThread => new HostThread(nextId++, { index: 0 } as Vcpu, weight, [0], false);
const rq = (p: HostSchedulerPolicy): HostRunqueue => p.createRunqueue(ctx);

describe('kernel tunable scaling and the tick', () => {
  it('scales by 1 + ilog2(min(nr_cpus, 8)) as SCHED_TUNABLESCALING_LOG does', () => {
    expect([1, 2, 3, 4, 7, 8, 80, 192].map(tunableScale)).toEqual([1, 2, 2, 3, 3, 4, 4, 4]);
  });

  it('ticks fall at phase + k / HZ, strictly after now', () => {
    expect(untilNextTick(0, 1_000_000, 0)).toBe(1_000_000);
    expect(untilNextTick(250_000, 1_000_000, 0)).toBe(750_000);
    expect(untilNextTick(250_000, 1_000_000, 300_000)).toBe(50_000);
    expect(untilNextTick(300_000, 1_000_000, 300_000)).toBe(1_000_000);
  });
});

describe('eevdf run queue', () => {
  it('picks the eligible thread with the earliest deadline; a new thread gets half a slice (PLACE_DEADLINE_INITIAL)', () => {
    const q = rq(EEVDF_POLICY);
    const a = thread();
    const b = thread();
    q.enqueue(a, 0, 'initial');
    q.enqueue(b, 0, 'initial');
    expect(a.deadline - a.vruntime).toBe(EEVDF_BASE_SLICE_NS / 2);
    expect(q.pick(0)).toBe(a); // equal deadlines: first queued
    expect(q.nrQueued).toBe(1);
  });

  it('RUN_TO_PARITY: a woken thread does not preempt the running one during its first slice, but does once that slice is spent', () => {
    const q = rq(EEVDF_POLICY);
    const a = thread();
    const b = thread();
    q.enqueue(a, 0, 'initial');
    q.pick(0);
    b.vlag = 0; // it slept owing and owed nothing: placed at the average, a eligible and protected
    q.enqueue(b, 100_000, 'wakeup');
    expect(q.wakeupPreempt(b, 100_000)).toBe(false);
    // Past a's deadline the tick asks to reschedule and b, eligible with the earlier deadline, is picked.
    expect(q.tick(2 * EEVDF_BASE_SLICE_NS)).toBe(true);
    q.putPrev(2 * EEVDF_BASE_SLICE_NS, true);
    expect(q.pick(2 * EEVDF_BASE_SLICE_NS)).toBe(b);
  });

  it('a waker owed a lot of time pulls the average below the running thread, which loses eligibility and is preempted', () => {
    const q = rq(EEVDF_POLICY);
    const a = thread();
    const b = thread();
    q.enqueue(a, 0, 'initial');
    q.pick(0);
    b.vlag = EEVDF_BASE_SLICE_NS;
    q.enqueue(b, 100_000, 'wakeup');
    expect(q.wakeupPreempt(b, 100_000)).toBe(true);
  });

  it('keeps lag across a sleep: a thread that sleeps owed time is placed before the average, one that overran after it', () => {
    const q = rq(EEVDF_POLICY);
    const hog = thread();
    const s = thread();
    q.enqueue(hog, 0, 'initial');
    q.enqueue(s, 0, 'initial');
    q.pick(0); // hog runs, s waits and is owed time
    q.putPrev(400_000, true);
    expect(q.pick(400_000)).toBe(s);
    q.putPrev(400_100, false); // s sleeps after 100 ns: positive lag
    expect(s.vlag).toBeGreaterThan(0);
    q.enqueue(s, 500_000, 'wakeup');
    expect(s.vruntime).toBeLessThan(hog.vruntime);
  });
});

describe('eevdf yield (yield_task_fair)', () => {
  /** a is picked beside b and at once yields `n` times in a row (eligible: no vruntime ahead of b's). */
  const yieldsInARow = (forfeitOnYield: boolean, n: number) => {
    const q = EEVDF_POLICY.createRunqueue({ ...ctx, forfeitOnYield });
    const a = thread();
    const b = thread();
    q.enqueue(a, 0, 'initial');
    q.enqueue(b, 0, 'initial');
    expect(q.pick(0)).toBe(a);
    const before = { vruntime: a.vruntime, deadline: a.deadline };
    for (let i = 0; i < n; i++) q.yieldCurr!(0);
    return { a, b, before };
  };

  it('forfeits the rest of the slice once (79104becf42b): vruntime = deadline, deadline one slice on; a thread no longer eligible yields nothing more', () => {
    const once = yieldsInARow(true, 1);
    expect(once.a.vruntime).toBe(once.before.deadline);
    expect(once.a.deadline).toBe(once.before.deadline + EEVDF_BASE_SLICE_NS);
    const many = yieldsInARow(true, 5);
    expect(many.a.deadline).toBe(once.a.deadline);
  });

  it('without the fix (Linux 6.6-6.17) each yield pushes the deadline a slice on: it runs away', () => {
    const r = yieldsInARow(false, 5);
    expect(r.a.deadline).toBe(r.before.deadline + 5 * EEVDF_BASE_SLICE_NS);
    expect(r.a.vruntime).toBeLessThan(r.before.deadline);
  });

  it('a thread alone on its queue does not yield', () => {
    const q = EEVDF_POLICY.createRunqueue(ctx);
    const a = thread();
    q.enqueue(a, 0, 'initial');
    q.pick(0);
    const d = a.deadline;
    q.yieldCurr!(100_000);
    expect(a.deadline).toBe(d);
  });
});

describe('cfs run queue', () => {
  it('gives a waking sleeper credit of at most half the latency below min_vruntime (GENTLE_FAIR_SLEEPERS)', () => {
    const q = rq(CFS_POLICY);
    const hog = thread();
    const s = thread();
    q.enqueue(hog, 0, 'initial');
    q.pick(0);
    q.tick(50_000_000);
    s.rq = q;
    s.vruntime = 0; // slept a long time
    q.enqueue(s, 50_000_000, 'wakeup');
    expect(hog.vruntime - s.vruntime).toBeCloseTo(CFS_LATENCY_NS / 2, -3);
    // Its lead is past the wake-up granularity: it preempts.
    expect(q.wakeupPreempt(s, 50_000_000)).toBe(true);
  });

  it('a waker within the wake-up granularity of the running thread does not preempt', () => {
    const q = rq(CFS_POLICY);
    const a = thread();
    const b = thread();
    q.enqueue(a, 0, 'initial');
    q.pick(0);
    b.rq = q;
    b.vruntime = a.vruntime - CFS_WAKEUP_GRANULARITY_NS / 2;
    q.enqueue(b, 0, 'wakeup');
    expect(q.wakeupPreempt(b, 0)).toBe(false);
  });
});

describe('fifo run queue', () => {
  it('is first in, first out, and a boost moves a waiter to the head', () => {
    const q = rq(FIFO_POLICY);
    const [a, b, c] = [thread(), thread(), thread()];
    for (const t of [a, b, c]) q.enqueue(t, 0, 'wakeup');
    expect(q.boost(c, 0)).toBe(true);
    expect([q.pick(0), (q.putPrev(1, true), q.pick(1)), (q.putPrev(2, true), q.pick(2))]).toEqual([c, a, b]);
    expect(q.wakeupPreempt(a, 3)).toBe(false);
  });
});
