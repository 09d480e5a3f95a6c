import { CFS_LATENCY_NS, CFS_POLICY, EEVDF_BASE_SLICE_NS, EEVDF_POLICY, FIFO_POLICY, tunableScale, type HostRunqueue, type HostSchedulerPolicy } from '@ipilab/hypervisor';
import { LawFailure } from '../law-runner';
import { assertHostSchedulerLaws, hogShares } from './host-scheduler-law';

// The law's fairness and wake-up hosts have 4 pCPUs: the kernel scales its tunables by 1 + ilog2(4) = 3.
const SCALE = tunableScale(4);
const TICK = 1_000_000;
/** Switch-in, wake-up and migration costs on top of a policy's own bound. */
const SWITCH_SLACK = 50_000;

describe('host scheduler laws', () => {
  it('eevdf: exclusive, conserving, starvation-free, fair by weight, wakes a sleeper within a slice and a tick, deterministic', () => {
    assertHostSchedulerLaws('eevdf', {
      maxWaitNs: 12 * (EEVDF_BASE_SLICE_NS * SCALE + TICK),
      fairnessTolerance: 0.03,
      weighted: true,
      // RUN_TO_PARITY: the hog keeps the rest of its slice, and the tick notices its deadline. A
      // sleeper that left after a burst carries the burst's negative lag (place_entity): it is not
      // eligible until the hog has run that much more.
      wakeupBoundNs: (burstNs) => EEVDF_BASE_SLICE_NS * SCALE + TICK + burstNs + SWITCH_SLACK,
      numRuns: 40,
    });
  });

  it('cfs: the same laws; a sleeper waits at most the hog\'s ideal slice (half the latency) and a tick', () => {
    assertHostSchedulerLaws('cfs', {
      maxWaitNs: 12 * (CFS_LATENCY_NS * SCALE + TICK),
      // CFS preempts only at ticks once a thread has run its ideal slice: shares drift by a tick or two per period.
      fairnessTolerance: 0.05,
      weighted: true,
      wakeupBoundNs: (CFS_LATENCY_NS * SCALE) / 2 + TICK + SWITCH_SLACK,
      numRuns: 40,
    });
  });

  it('fifo: exclusive, conserving, starvation-free and fair among equals (no weights); a sleeper waits a slice at most', () => {
    assertHostSchedulerLaws('fifo', { maxWaitNs: 12 * 1_000_000, fairnessTolerance: 0.03, weighted: false, wakeupBoundNs: 1_000_000 + SWITCH_SLACK, numRuns: 40 });
  });

  it('weights matter under the fair policies: a 3121-weight hog gets about 3x a 1024 one', () => {
    for (const p of [EEVDF_POLICY, CFS_POLICY]) {
      const [heavy, light] = hogShares(p, [3121, 1024], 200_000_000);
      expect(heavy! / light!).toBeGreaterThan(2.7);
      expect(heavy! / light!).toBeLessThan(3.4);
    }
    const [a, b] = hogShares(FIFO_POLICY, [3121, 1024], 200_000_000);
    expect(Math.abs(a! - b!)).toBeLessThan(0.02);
  });
});

describe('the laws catch broken policies', () => {
  /** A policy that never preempts: the first thread on a pCPU keeps it. */
  const neverPreempts: HostSchedulerPolicy = {
    name: 'never-preempts',
    pollersYield: true,
    createRunqueue: (ctx) => {
      const rq = FIFO_POLICY.createRunqueue(ctx);
      return Object.assign(Object.create(Object.getPrototypeOf(rq) as object) as HostRunqueue, rq, { tick: () => false, nextTick: () => 10_000_000 });
    },
  };
  /** A policy that shares equally whatever the weights (fifo under another name). */
  const unfair: HostSchedulerPolicy = {
    name: 'ignores-weights',
    pollersYield: false,
    createRunqueue: (ctx) => FIFO_POLICY.createRunqueue(ctx),
  };

  /** Why the laws failed for a policy (the property's underlying error), with the seed printed. */
  const failure = (run: () => void): string => {
    try {
      run();
    } catch (e) {
      expect(e).toBeInstanceOf(LawFailure);
      expect((e as LawFailure).message).toMatch(/seed: -?\d+, path: "[\d:]*"/);
      return (e as LawFailure).reason;
    }
    return 'the laws held';
  };

  it('starvation: a policy that never preempts fails the wait bound', () => {
    expect(failure(() => assertHostSchedulerLaws(neverPreempts, { maxWaitNs: 50_000_000, wakeupBoundNs: 1e12, numRuns: 40 }))).toMatch(/starvation/);
  });

  it('weights: a policy that ignores them fails the weighted fairness law', () => {
    expect(failure(() => assertHostSchedulerLaws(unfair, { maxWaitNs: 20_000_000, fairnessTolerance: 0.03, weighted: true, wakeupBoundNs: 1e12, numRuns: 5 }))).toMatch(/fair is/);
  });
});
