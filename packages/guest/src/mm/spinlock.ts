import type { Hypervisor } from '@ipilab/hypervisor';
import type { SpinTicket, Vcpu } from '@ipilab/vcpu';
import type { LockStats } from './lock-stats';
import { LockWord } from './lock-word';

interface SpinWaiter {
  lock: QueuedSpinLock;
  v: Vcpu;
  since: number;
  done: () => void;
  ticket: SpinTicket | null;
}

const grantedStage = (w: unknown): void => (w as SpinWaiter).lock.granted(w as SpinWaiter);

/**
 * A kernel spinlock as Linux's queued spinlock (kernel/locking/qspinlock.c): taken at once when
 * free, else the vCPU spins (a PAUSE loop: it burns its vCPU, and interrupts still run on top)
 * in an MCS queue, so waiters get it first come, first served; the releaser hands it to the head.
 * Every acquisition is an atomic on the lock word, which costs a cache-line transfer when another
 * vCPU touched it last. Held by a vCPU, never across a sleep.
 *
 * Not modelled: the paravirtual qspinlock's halt after SPIN_THRESHOLD iterations
 * (kernel/locking/qspinlock_paravirt.h) — a waiter spins until granted.
 */
export class QueuedSpinLock {
  private holder: Vcpu | null = null;
  private readonly queue: SpinWaiter[] = [];
  private readonly word: LockWord;

  constructor(
    private readonly hv: Hypervisor,
    private readonly stats: LockStats,
  ) {
    this.word = new LockWord(hv, stats);
  }

  get held(): boolean {
    return this.holder !== null;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** spin_lock on `v`: `done` runs on `v` once it holds the lock. */
  acquire(v: Vcpu, done: () => void): void {
    if (this.holder === null) {
      this.holder = v;
      this.stats.acquisitions++;
      v.pushWork(this.word.touch(v), done);
      return;
    }
    this.stats.contended++;
    const w: SpinWaiter = { lock: this, v, since: this.hv.sim.now, done, ticket: null };
    this.queue.push(w);
    w.ticket = v.pushSpin(grantedStage, w);
  }

  /** spin_unlock by the holder `v`: the head of the queue (if any) gets it. */
  release(v: Vcpu): void {
    if (this.holder !== v) throw new Error(`spinlock released by vCPU ${v.index}, held by ${this.holder === null ? 'nobody' : `vCPU ${this.holder.index}`}`);
    const next = this.queue.shift();
    if (next === undefined) {
      this.holder = null;
      return;
    }
    this.holder = next.v;
    this.stats.acquisitions++;
    this.stats.waitNs += this.hv.sim.now - next.since;
    next.ticket!.release();
  }

  /** @internal A queued waiter's spin ended: it holds the lock; it pulls the word's line over. */
  granted(w: SpinWaiter): void {
    w.v.pushWork(this.word.touch(w.v), w.done);
  }
}
