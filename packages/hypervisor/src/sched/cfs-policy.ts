import { calcDeltaFair, removeAt, tunableScale, untilNextTick, type EnqueueReason, type FairRunqueue, type HostSchedulerPolicy, type RunqueueContext, type SchedEntity } from './host-scheduler';

/** CFS tunables before scaling (kernel/sched/fair.c, Linux <= 6.5). */
export const CFS_LATENCY_NS = 6_000_000; // sysctl_sched_latency
/** CFS's minimum slice (sysctl_sched_min_granularity, 0.75 ms). */
export const CFS_MIN_GRANULARITY_NS = 750_000; // sysctl_sched_min_granularity
/** CFS's wake-up preemption granularity (sysctl_sched_wakeup_granularity, 1 ms). */
export const CFS_WAKEUP_GRANULARITY_NS = 1_000_000; // sysctl_sched_wakeup_granularity
/** sched_nr_latency: latency / min_granularity, the queue length past which the period stretches. */
const CFS_NR_LATENCY = 8;

/**
 * CFS as Linux <= 6.5 runs it (kernel/sched/fair.c), one pCPU's queue of vCPU threads:
 * - vruntime advances at NICE_0_WEIGHT / weight per ns run (update_curr);
 * - the pick is the smallest vruntime (pick_next_entity, no buddies but the boosted one);
 * - the running thread's ideal slice is the period (sched_latency, or nr x min_granularity
 *   beyond sched_nr_latency) times its share of the queue's weight (sched_slice); at a tick it
 *   is preempted when it has run longer than that, or, once past min_granularity, when its
 *   vruntime leads the smallest waiting one by more than the slice (check_preempt_tick);
 * - a waking thread is placed at max(its vruntime, min_vruntime - sched_latency / 2): the
 *   sleeper credit of GENTLE_FAIR_SLEEPERS (place_entity); a new one one slice after
 *   min_vruntime (START_DEBIT);
 * - it preempts when the running thread's vruntime exceeds its own by more than the wake-up
 *   granularity in its virtual time (wakeup_preempt_entity);
 * - moving between queues keeps vruntime relative to min_vruntime (migrate_task_rq_fair).
 * The three tunables scale by 1 + ilog2(min(nr_cpus, 8)) (SCHED_TUNABLESCALING_LOG).
 */
export class CfsRunqueue<E extends SchedEntity> implements FairRunqueue<E> {
  curr: E | null = null;
  minVruntime = 0;
  private readonly queue: E[] = [];
  private next: E | null = null;
  /** The skip buddy (yield_task_fair): passed over at the next pick if another can run. */
  private skip: E | null = null;
  private readonly latencyNs: number;
  private readonly minGranNs: number;
  private readonly wakeupGranNs: number;
  private readonly tickNs: number;

  constructor(private readonly ctx: RunqueueContext) {
    const f = tunableScale(ctx.nrCpus);
    this.latencyNs = CFS_LATENCY_NS * f;
    this.minGranNs = CFS_MIN_GRANULARITY_NS * f;
    this.wakeupGranNs = CFS_WAKEUP_GRANULARITY_NS * f;
    this.tickNs = 1e9 / ctx.hz;
  }

  get nrQueued(): number {
    return this.queue.length;
  }

  queuedAt(i: number): E {
    return this.queue[i]!;
  }

  private leftmost(): E | null {
    let l: E | null = null;
    for (let i = 0; i < this.queue.length; i++) {
      const t = this.queue[i]!;
      if (l === null || t.vruntime < l.vruntime) l = t;
    }
    return l;
  }

  private updateMinVruntime(): void {
    let v = this.minVruntime;
    const c = this.curr;
    const l = this.leftmost();
    if (c !== null) v = c.vruntime;
    if (l !== null) v = c === null ? l.vruntime : Math.min(v, l.vruntime);
    if (v > this.minVruntime) this.minVruntime = v;
  }

  private updateCurr(now: number): void {
    const c = this.curr;
    if (c === null) return;
    const delta = now - c.execStart;
    c.execStart = now;
    if (delta <= 0) return;
    c.sumExec += delta;
    c.vruntime += calcDeltaFair(delta, c.weight);
    this.updateMinVruntime();
  }

  /** sched_slice: `t`'s share of the period among the threads on this queue (it, the running one, the waiting ones). */
  private slice(t: E): number {
    const c = this.curr;
    let nr = this.queue.length + 1;
    let load = t.weight;
    if (c !== null && c !== t) {
      nr++;
      load += c.weight;
    }
    for (let i = 0; i < this.queue.length; i++) if (this.queue[i] !== t) load += this.queue[i]!.weight;
    const period = nr > CFS_NR_LATENCY ? nr * this.minGranNs : this.latencyNs;
    return (period * t.weight) / load;
  }

  enqueue(t: E, now: number, why: EnqueueReason): void {
    this.updateCurr(now);
    if (why !== 'preempted') {
      // Carried over relative to the queue it left (migrate_task_rq_fair / dequeue_entity).
      if (t.rq !== null && t.rq !== this && t.rq instanceof CfsRunqueue) t.vruntime += this.minVruntime - t.rq.minVruntime;
      if (why === 'initial') {
        t.vruntime = this.minVruntime + calcDeltaFair(this.slice(t), t.weight); // START_DEBIT
      } else if (why === 'wakeup') {
        t.vruntime = Math.max(t.vruntime, this.minVruntime - this.latencyNs / 2); // GENTLE_FAIR_SLEEPERS credit
      }
    }
    t.rq = this;
    t.queuedSince = now;
    this.queue.push(t);
  }

  remove(t: E, now: number): void {
    const i = this.queue.indexOf(t);
    if (i < 0) return;
    this.updateCurr(now);
    removeAt(this.queue, i);
    if (this.next === t) this.next = null;
    this.updateMinVruntime();
  }

  pick(now: number): E | null {
    const left = this.leftmost();
    // pick_next_entity: the next buddy only if it is not too far ahead of the leftmost
    // (wakeup_preempt_entity(next, left) < 1: at most the wake-up granularity in virtual time).
    const buddy = this.next !== null && this.queue.includes(this.next) && left !== null && this.next.vruntime - left.vruntime <= calcDeltaFair(this.wakeupGranNs, left.weight) ? this.next : null;
    let t = buddy ?? left;
    if (t !== null && t === this.skip && buddy !== t) {
      // pick_next_entity: the second leftmost instead of the skip buddy, if there is one.
      let second: E | null = null;
      for (let i = 0; i < this.queue.length; i++) {
        const q = this.queue[i]!;
        if (q !== t && (second === null || q.vruntime < second.vruntime)) second = q;
      }
      if (second !== null) t = second;
    }
    this.next = null;
    this.skip = null;
    if (t === null) return null;
    removeAt(this.queue, this.queue.indexOf(t));
    this.curr = t;
    t.execStart = now;
    t.prevSumExec = t.sumExec;
    this.updateMinVruntime();
    return t;
  }

  putPrev(now: number, runnable: boolean): void {
    const c = this.curr;
    if (c === null) return;
    this.updateCurr(now);
    this.curr = null;
    if (runnable) {
      c.queuedSince = now;
      this.queue.push(c);
    }
    this.updateMinVruntime();
  }

  wakeupPreempt(woken: E, now: number): boolean {
    const c = this.curr;
    if (c === null) return true;
    this.updateCurr(now);
    const vdiff = c.vruntime - woken.vruntime;
    return vdiff > calcDeltaFair(this.wakeupGranNs, woken.weight);
  }

  nextTick(now: number): number {
    return untilNextTick(now, this.tickNs, this.ctx.tickPhaseNs);
  }

  /** check_preempt_tick. */
  tick(now: number): boolean {
    const c = this.curr;
    if (c === null || this.queue.length === 0) return false;
    this.updateCurr(now);
    const ideal = this.slice(c);
    const ran = c.sumExec - c.prevSumExec;
    if (ran > ideal) return true;
    if (ran < this.minGranNs) return false;
    const l = this.leftmost()!;
    const delta = c.vruntime - l.vruntime;
    return delta > ideal;
  }

  /** yield_task_fair (<= 6.5): clear the buddies that are the running thread (clear_buddies), make it the skip buddy. */
  yieldCurr(now: number): void {
    if (this.curr === null) return;
    this.updateCurr(now);
    if (this.next === this.curr) this.next = null;
    this.skip = this.curr;
  }

  boost(t: E, now: number): boolean {
    if (!this.queue.includes(t)) return false;
    this.updateCurr(now);
    this.next = t;
    return true;
  }
}

/** The `cfs` host scheduler (Linux <= 6.5). */
export const CFS_POLICY: HostSchedulerPolicy = {
  name: 'cfs',
  pollersYield: true,
  createRunqueue: (ctx) => new CfsRunqueue(ctx),
};
