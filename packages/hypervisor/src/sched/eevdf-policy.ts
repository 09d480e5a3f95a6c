import { calcDeltaFair, removeAt, tunableScale, untilNextTick, type EnqueueReason, type FairRunqueue, type HostSchedulerPolicy, type RunqueueContext, type SchedEntity } from './host-scheduler';

/** sysctl_sched_base_slice before scaling: 0.75 ms (kernel/sched/fair.c, Linux >= 6.6). */
export const EEVDF_BASE_SLICE_NS = 750_000;

/**
 * EEVDF as Linux 6.6 runs it (kernel/sched/fair.c), one pCPU's queue of vCPU threads:
 * - virtual time advances at NICE_0_WEIGHT / weight per ns run (update_curr, calc_delta_fair);
 * - a thread is eligible when its vruntime is at most the load-weighted average vruntime of
 *   the queue, the running thread included (entity_eligible, avg_vruntime);
 * - the pick is the eligible thread with the earliest virtual deadline (pick_eevdf); with
 *   RUN_TO_PARITY a thread, once picked, keeps the pCPU while eligible until it receives a new
 *   deadline (the `vlag == deadline` mark of set_next_entity);
 * - a thread that has run a slice (its vruntime reached its deadline) gets deadline =
 *   vruntime + slice/weight and the pCPU is rescheduled if others wait (update_deadline);
 *   the tick is where that is noticed (no HRTICK, the default);
 * - a thread that sleeps or migrates keeps its lag (avg - vruntime, clamped to the virtual
 *   time of max(2 slices, one tick): update_entity_lag) and is placed on its next queue at
 *   avg - lag x (W + w) / W (place_entity, PLACE_LAG), deadline one slice later (half a slice
 *   for a new thread, PLACE_DEADLINE_INITIAL);
 * - a waking thread preempts when it is what pick_eevdf would now choose
 *   (check_preempt_wakeup_fair in 6.6).
 * The slice is sysctl_sched_base_slice scaled by 1 + ilog2(min(nr_cpus, 8)).
 */
export class EevdfRunqueue<E extends SchedEntity> implements FairRunqueue<E> {
  curr: E | null = null;
  private readonly queue: E[] = [];
  private minVruntime = 0;
  private readonly sliceNs: number;
  private readonly tickNs: number;
  private readonly forfeitOnYield: boolean;
  /**
   * update_deadline asked for a reschedule (the running thread's deadline passed while others
   * waited) from a caller that cannot act on it (an enqueue): resched_curr is called whatever
   * the caller, so the next wake-up check or tick reports it.
   */
  private reschedPending = false;

  constructor(private readonly ctx: RunqueueContext) {
    this.sliceNs = ctx.sliceNs ?? EEVDF_BASE_SLICE_NS * tunableScale(ctx.nrCpus);
    this.tickNs = 1e9 / ctx.hz;
    this.forfeitOnYield = ctx.forfeitOnYield ?? true;
  }

  get nrQueued(): number {
    return this.queue.length;
  }

  queuedAt(i: number): E {
    return this.queue[i]!;
  }

  /** Load-weighted average vruntime of every thread on the queue, the running one included. */
  private avgVruntime(): number {
    let load = 0;
    let sum = 0;
    const c = this.curr;
    if (c !== null) {
      load += c.weight;
      sum += c.weight * (c.vruntime - this.minVruntime);
    }
    for (let i = 0; i < this.queue.length; i++) {
      const t = this.queue[i]!;
      load += t.weight;
      sum += t.weight * (t.vruntime - this.minVruntime);
    }
    return load === 0 ? this.minVruntime : this.minVruntime + sum / load;
  }

  private load(): number {
    let load = this.curr === null ? 0 : this.curr.weight;
    for (let i = 0; i < this.queue.length; i++) load += this.queue[i]!.weight;
    return load;
  }

  private eligible(t: E, avg: number): boolean {
    return t.vruntime <= avg;
  }

  private updateMinVruntime(): void {
    let v = this.curr === null ? Infinity : this.curr.vruntime;
    for (let i = 0; i < this.queue.length; i++) v = Math.min(v, this.queue[i]!.vruntime);
    if (v !== Infinity && v > this.minVruntime) this.minVruntime = v;
  }

  /** update_curr + update_deadline; returns whether the running thread got a new deadline while others wait. */
  private updateCurr(now: number): boolean {
    const c = this.curr;
    if (c === null) return false;
    const delta = now - c.execStart;
    c.execStart = now;
    if (delta <= 0) return false;
    c.sumExec += delta;
    c.vruntime += calcDeltaFair(delta, c.weight);
    this.updateMinVruntime();
    if (c.vruntime < c.deadline) return false;
    c.deadline = c.vruntime + calcDeltaFair(this.sliceNs, c.weight);
    if (this.queue.length === 0) return false;
    this.reschedPending = true;
    return true;
  }

  /** Whether a reschedule was asked for since the running thread was picked (and forgets it). */
  private takeResched(): boolean {
    const r = this.reschedPending;
    this.reschedPending = false;
    return r;
  }

  /** pick_eevdf over the waiting threads and, when `withCurr`, the running one. */
  private pickEevdf(withCurr: boolean): E | null {
    const avg = this.avgVruntime();
    let best: E | null = null;
    const c = withCurr ? this.curr : null;
    if (c !== null && this.eligible(c, avg)) {
      if (c.vlag === c.deadline) return c; // RUN_TO_PARITY: it keeps its slice while eligible
      best = c;
    }
    let leftmost: E | null = null;
    for (let i = 0; i < this.queue.length; i++) {
      const t = this.queue[i]!;
      if (leftmost === null || t.vruntime < leftmost.vruntime) leftmost = t;
      if (!this.eligible(t, avg)) continue;
      if (best === null || t.deadline < best.deadline) best = t;
    }
    // Some thread is always eligible; only rounding could leave none: take the least-run one.
    return best ?? leftmost ?? c;
  }

  enqueue(t: E, now: number, why: EnqueueReason): void {
    this.updateCurr(now);
    if (why !== 'preempted') this.place(t, why === 'initial');
    t.rq = this;
    t.queuedSince = now;
    this.queue.push(t);
  }

  /** place_entity (6.6): keep the thread's lag relative to this queue's average. */
  private place(t: E, initial: boolean): void {
    const avg = this.avgVruntime();
    let lag = 0;
    const load = this.load();
    if (!initial && load > 0) lag = (t.vlag * (load + t.weight)) / load;
    t.vruntime = avg - lag;
    const vslice = calcDeltaFair(this.sliceNs, t.weight);
    t.deadline = t.vruntime + (initial ? vslice / 2 : vslice);
  }

  /** update_entity_lag: the lag a thread takes with it when it leaves this queue. */
  private saveLag(t: E): void {
    const limit = calcDeltaFair(Math.max(2 * this.sliceNs, this.tickNs), t.weight);
    const lag = this.avgVruntime() - t.vruntime;
    t.vlag = Math.max(-limit, Math.min(limit, lag));
  }

  remove(t: E, now: number): void {
    const i = this.queue.indexOf(t);
    if (i < 0) return;
    this.updateCurr(now);
    this.saveLag(t);
    removeAt(this.queue, i);
    this.updateMinVruntime();
  }

  pick(now: number): E | null {
    const t = this.pickEevdf(false);
    if (t === null) return null;
    removeAt(this.queue, this.queue.indexOf(t));
    this.curr = t;
    this.reschedPending = false;
    t.execStart = now;
    t.prevSumExec = t.sumExec;
    t.vlag = t.deadline; // set_next_entity: protect the slice it starts (RUN_TO_PARITY)
    return t;
  }

  putPrev(now: number, runnable: boolean): void {
    const c = this.curr;
    if (c === null) return;
    this.updateCurr(now);
    if (runnable) {
      this.curr = null;
      c.queuedSince = now;
      this.queue.push(c);
      return;
    }
    this.saveLag(c); // dequeue_entity for a sleep: the running thread still counts in the average
    this.curr = null;
    this.updateMinVruntime();
  }

  wakeupPreempt(woken: E, now: number): boolean {
    this.updateCurr(now);
    if (this.takeResched()) return true;
    return this.pickEevdf(true) === woken;
  }

  nextTick(now: number): number {
    return untilNextTick(now, this.tickNs, this.ctx.tickPhaseNs);
  }

  tick(now: number): boolean {
    this.updateCurr(now);
    return this.takeResched();
  }

  /**
   * yield_task_fair: nothing when the thread is alone on the queue ("Are we the only task in the
   * tree?"). Otherwise, with `forfeitOnYield` (79104becf42b "sched/fair: Forfeit vruntime on
   * yield", a fix of the EEVDF commit, in 6.18 and backported to stable kernels), an eligible
   * thread forfeits the rest of its slice — vruntime = deadline — and gets a deadline one slice
   * later; without it (6.6-6.17) only the deadline moves a slice on, at every yield, so a vCPU
   * taking pause-loop exits in a row runs its deadline away and then waits behind every other
   * thread until its vruntime catches up (the "runaway" that commit describes).
   */
  yieldCurr(now: number): void {
    const c = this.curr;
    if (c === null || this.queue.length === 0) return;
    this.updateCurr(now);
    const slice = calcDeltaFair(this.sliceNs, c.weight);
    if (this.forfeitOnYield) {
      if (!this.eligible(c, this.avgVruntime())) return;
      c.vruntime = c.deadline;
      c.deadline += slice;
      this.updateMinVruntime();
    } else {
      c.deadline += slice;
    }
  }

  /**
   * yield_to_task_fair's set_next_buddy has no effect on the pick: Linux 6.6's pick_next_entity
   * takes the next buddy only under sched_feat(NEXT_BUDDY), which is off by default
   * (kernel/sched/features.h). What yield_to still does is reschedule the target's pCPU
   * (resched_curr), where pick_eevdf decides as usual: true when it would pick another thread.
   */
  boost(t: E, now: number): boolean {
    if (!this.queue.includes(t)) return false;
    this.updateCurr(now);
    return this.pickEevdf(true) !== this.curr;
  }
}

/** The `eevdf` host scheduler (Linux >= 6.6). */
export const EEVDF_POLICY: HostSchedulerPolicy = {
  name: 'eevdf',
  pollersYield: true,
  createRunqueue: (ctx) => new EevdfRunqueue(ctx),
};
