import { removeAt, type EnqueueReason, type HostRunqueue, type HostSchedulerPolicy, type HostThread, type RunqueueContext } from './host-scheduler';

/**
 * ipilab's original host scheduler, kept under this name to reproduce earlier results: a FIFO
 * of waiting threads per pCPU; the running one is preempted `timeSliceNs` after someone starts
 * waiting (and every slice after), and goes to the back. No weights, no wake-up preemption.
 */
class FifoRunqueue implements HostRunqueue {
  curr: HostThread | null = null;
  private readonly queue: HostThread[] = [];

  constructor(private readonly ctx: RunqueueContext) {}

  get nrQueued(): number {
    return this.queue.length;
  }

  queuedAt(i: number): HostThread {
    return this.queue[i]!;
  }

  enqueue(t: HostThread, now: number, _why: EnqueueReason): void {
    t.rq = this;
    t.queuedSince = now;
    this.queue.push(t);
  }

  remove(t: HostThread): void {
    const i = this.queue.indexOf(t);
    if (i >= 0) removeAt(this.queue, i);
  }

  pick(now: number): HostThread | null {
    const t = this.queue.shift() ?? null;
    if (t !== null) t.execStart = now;
    this.curr = t;
    return t;
  }

  putPrev(now: number, runnable: boolean): void {
    const c = this.curr;
    if (c === null) return;
    c.sumExec += now - c.execStart;
    this.curr = null;
    if (runnable) this.enqueue(c, now, 'preempted');
  }

  wakeupPreempt(): boolean {
    return false;
  }

  nextTick(): number {
    return this.ctx.timeSliceNs;
  }

  tick(): boolean {
    return true;
  }

  boost(t: HostThread): boolean {
    const i = this.queue.indexOf(t);
    if (i < 0) return false;
    removeAt(this.queue, i);
    this.queue.unshift(t);
    return true;
  }
}

/** The `fifo` host scheduler: ipilab's original round robin. */
export const FIFO_POLICY: HostSchedulerPolicy = {
  name: 'fifo',
  pollersYield: false,
  createRunqueue: (ctx) => new FifoRunqueue(ctx),
};
