import { KernelError } from '@ipilab/core';
import type { Hypervisor } from '@ipilab/hypervisor';
import type { SpinTicket, Vcpu } from '@ipilab/vcpu';
import type { Task } from '../sched/task';
import type { LockStats } from './lock-stats';
import { LockWord } from './lock-word';

/** How a reader-writer semaphore is taken. */
export type LockMode = 'read' | 'write';

/** A task asking for the rwsem: queued asleep, or (a writer) spinning on the owner. */
interface RwWaiter {
  sem: RwSemaphore;
  task: Task;
  v: Vcpu;
  mode: LockMode;
  since: number;
  /** The op's resume: true once the lock is held, false when the task must block. */
  resume: (got?: unknown) => void;
  /** Spinning: its PAUSE loop; null once asleep. */
  ticket: SpinTicket | null;
  granted: boolean;
  /** When a writer spinning on a reader-owned lock gives up (rwsem_rspin_threshold); 0 = not set. */
  rspinUntil: number;
  /** A spinner that gave up and joined the wait list: it is granted by a wake-up, which its task must take by blocking. */
  asleep: boolean;
}

/**
 * How often a spinning writer re-reads the owner (whether it still runs, how long readers have
 * held the lock). Linux re-reads it every iteration; 2 us is this model's sampling of that loop,
 * not a kernel figure: fine enough beside critical sections of microseconds, coarse enough to
 * cost a few events per wait.
 */
export const RWSEM_SPIN_CHECK_NS = 2_000;
/** kernel/locking/rwsem.c MAX_READERS_WAKEUP: readers granted by one wake-up. */
export const MAX_READERS_WAKEUP = 0x100;

const spinEndStage = (w: unknown): void => (w as RwWaiter).sem.spinEnded(w as RwWaiter);
const spinCheckStage = (w: unknown): void => (w as RwWaiter).sem.spinCheck(w as RwWaiter);

/**
 * A reader-writer semaphore as Linux's rwsem (kernel/locking/rwsem.c, the Waiman Long / Peter
 * Zijlstra rework, Linux >= 5.3 with the changes up to 6.x):
 *
 * - **Fast paths.** A reader gets it when no writer holds it and nobody sleeps in the wait list
 *   (rwsem_read_trylock fails on RWSEM_FLAG_WAITERS; spinners on the OSQ do not set it, so
 *   readers can keep a spinning writer off until it gives up); a writer when nobody holds it.
 * - **Writers spin optimistically** (rwsem_optimistic_spin) while the owner is a writer running
 *   on a vCPU that is not preempted (owner_on_cpu, vcpu_is_preempted) — or, on a reader-owned
 *   lock, for at most rwsem_rspin_threshold, (10 + readers / 2) us capped at 25 us — burning
 *   their vCPU in a PAUSE loop. Spinners queue on the OSQ, so they take it in order, and ahead of
 *   sleepers: a released lock goes to the first spinner.
 * - **Readers never spin** ("locking/rwsem: Remove reader optimistic spinning", Linux 5.11); a
 *   reader, and a writer that may not (or no longer) spin, joins the FIFO wait list and sleeps:
 *   its task blocks, freeing the vCPU, and the releaser wakes it through the guest scheduler
 *   (`Scheduler.wake`, a reschedule IPI when its vCPU is idle).
 * - **Release** (rwsem_wake -> rwsem_mark_wake): to the first spinner if any, unless the head
 *   waiter has waited RWSEM_WAIT_TIMEOUT (4 ms, "the handoff protocol"); else to the head of the
 *   wait list: a writer alone, or — reader batching — every reader in the list, up to
 *   MAX_READERS_WAKEUP, writers keeping their places ("locking/rwsem: Wake up almost all readers
 *   in wait queue", Linux 5.3).
 * - **The lock word's cache line** moves with every atomic on it (`LockWord`).
 *
 * Simplification: Linux wakes a queued writer, which then takes the lock itself and may lose it
 * to a spinner or a reader stealing it (until the handoff bit); here the lock is handed to the
 * woken writer, as with the handoff bit always set for sleepers. Readers do not steal the lock
 * from a non-empty wait list either.
 *
 * The protocol for task code (see `MemoryManager.lockMmap`): an `op` calls `acquire`, which
 * resumes it with true (held) or false; on false the task yields `block()` and, once woken,
 * holds the lock (a wake that comes before the block is kept by the scheduler: no lost wake-up),
 * and then calls `woken` as an op to pay for pulling the word's line over.
 */
export class RwSemaphore {
  private readers = 0;
  private writer: RwWaiter | null = null;
  private readonly spinners: RwWaiter[] = [];
  private readonly waiters: RwWaiter[] = [];
  private readonly word: LockWord;
  /** RWSEM_WAIT_TIMEOUT: DIV_ROUND_UP(HZ, 250) jiffies, at least 4 ms. */
  readonly waitTimeoutNs: number;

  constructor(
    private readonly hv: Hypervisor,
    private readonly stats: LockStats,
    readonly name = 'rwsem',
  ) {
    this.word = new LockWord(hv, stats);
    const hz = hv.config.hz;
    this.waitTimeoutNs = Math.ceil(hz / 250) * Math.round(1e9 / hz);
  }

  /** Who holds it now (for checks): 'free', 'write' or the number of readers. */
  get holders(): 'free' | 'write' | number {
    if (this.writer !== null) return 'write';
    return this.readers === 0 ? 'free' : this.readers;
  }

  /** The task holding it for write, if any. */
  get writerTask(): Task | null {
    return this.writer?.task ?? null;
  }

  get queued(): number {
    return this.waiters.length + this.spinners.length;
  }

  /**
   * down_read / down_write by `task` running on `v`: `resume(true)` once held, or
   * `resume(false)` when the task must block until the releaser wakes it holding the lock.
   */
  acquire(task: Task, v: Vcpu, mode: LockMode, resume: (got?: unknown) => void): void {
    const w: RwWaiter = { sem: this, task, v, mode, since: this.hv.sim.now, resume, ticket: null, granted: false, rspinUntil: 0, asleep: false };
    if (mode === 'read' ? this.writer === null && this.waiters.length === 0 : this.writer === null && this.readers === 0) {
      if (mode === 'read') this.readers++;
      else this.writer = w;
      w.granted = true;
      this.stats.acquisitions++;
      v.pushWork(this.word.touch(v), resume, true);
      return;
    }
    this.stats.contended++;
    // The failed atomic pulled the line over too.
    const cost = this.word.touch(v);
    if (mode === 'write' && this.maySpin(w)) {
      this.spinners.push(w);
      v.pushWork(cost, () => {
        if (w.granted) {
          resume(true);
          return;
        }
        w.ticket = v.pushSpin(spinEndStage, w);
        this.hv.sim.schedule(RWSEM_SPIN_CHECK_NS, spinCheckStage, w);
      });
      return;
    }
    this.waiters.push(w);
    this.stats.sleeps++;
    v.pushWork(cost, resume, false);
  }

  /** After a sleeping acquire: the woken task, on `v`, reads the line the releaser wrote. */
  woken(v: Vcpu, resume: (value?: unknown) => void): void {
    v.pushWork(this.word.touch(v), resume);
  }

  /** up_read / up_write by the holder on `v`; `then` runs on `v` once the wake-ups are sent. */
  release(v: Vcpu, mode: LockMode, then: () => void): void {
    if (mode === 'read') {
      if (this.readers <= 0) throw new KernelError(`${this.name}: up_read with no reader holding it`);
      this.readers--;
    } else {
      if (this.writer === null) throw new KernelError(`${this.name}: up_write with no writer holding it`);
      this.writer = null;
    }
    v.pushWork(this.word.touch(v), () => this.grantNext(v, then));
  }

  /**
   * downgrade_write by the writer on `v` (mmap_write_downgrade): it keeps the lock as a reader
   * and the readers at the head of the wait list are woken to share it (rwsem_downgrade_wake ->
   * rwsem_mark_wake with RWSEM_WAKE_READ_OWNED: nothing if the head waits to write). Spinning
   * writers now face a reader-owned lock. `then` runs on `v` once the wake-ups are sent.
   */
  downgrade(v: Vcpu, then: () => void): void {
    if (this.writer === null) throw new KernelError(`${this.name}: downgrade_write with no writer holding it`);
    this.writer = null;
    this.readers = 1;
    v.pushWork(this.word.touch(v), () => {
      const head = this.waiters[0];
      const woken = head !== undefined && head.mode === 'read' ? this.grantReaders(this.hv.sim.now) : [];
      for (const sp of [...this.spinners]) this.spinCheck(sp);
      this.wakeAll(woken, 0, v, then);
    });
  }

  /** Whether writer `w` may spin now (rwsem_can_spin_on_owner), and its reader deadline. */
  private maySpin(w: RwWaiter): boolean {
    if (this.writer !== null) return this.ownerRuns(this.writer);
    if (this.readers > 0) {
      if (w.rspinUntil === 0) w.rspinUntil = this.hv.sim.now + ((20 + Math.min(this.readers, 30)) * 1_000) / 2;
      return this.hv.sim.now < w.rspinUntil;
    }
    return true;
  }

  /** owner_on_cpu: the owning writer's task is on its vCPU and that vCPU is not preempted. */
  private ownerRuns(owner: RwWaiter): boolean {
    return owner.granted && owner.task.state === 'running' && this.hv.vms[owner.v.vm]!.vcpu(owner.task.vcpu).state === 'in-guest';
  }

  /** @internal Periodic re-read of the owner by a spinning writer. */
  spinCheck(w: RwWaiter): void {
    if (w.granted || w.ticket === null) return;
    if (this.maySpin(w)) {
      this.hv.sim.schedule(RWSEM_SPIN_CHECK_NS, spinCheckStage, w);
      return;
    }
    // Stop spinning: join the wait list and sleep (rwsem_down_write_slowpath).
    this.spinners.splice(this.spinners.indexOf(w), 1);
    this.waiters.push(w);
    w.asleep = true;
    this.stats.sleeps++;
    const t = w.ticket;
    w.ticket = null;
    t.release();
  }

  /**
   * @internal A spinning writer's PAUSE loop ended: granted while spinning, or gone to sleep. One
   * that went to the wait list blocks even if granted since (its PAUSE loop had not yet ended,
   * e.g. its vCPU was preempted): the grant came with a wake-up, which the block consumes at once.
   * Taking the lock here instead would leave that wake-up pending, to cut short a later sleep.
   */
  spinEnded(w: RwWaiter): void {
    if (w.granted && !w.asleep) {
      w.ticket = null;
      w.v.pushWork(this.word.touch(w.v), w.resume, true);
      return;
    }
    w.resume(false);
  }

  private grantNext(v: Vcpu, then: () => void): void {
    if (this.writer !== null || this.readers > 0) {
      then();
      return;
    }
    const now = this.hv.sim.now;
    const head = this.waiters[0];
    const handoff = head !== undefined && now - head.since >= this.waitTimeoutNs;
    if (!handoff && this.spinners.length > 0) {
      const s = this.spinners.shift()!;
      this.grant(s, now);
      this.writer = s;
      // Still paying for its failed atomic (no ticket yet): it sees `granted` when that ends.
      s.ticket?.release();
      then();
      return;
    }
    if (head === undefined) {
      then();
      return;
    }
    let woken: RwWaiter[];
    if (head.mode === 'write') {
      this.waiters.shift();
      this.writer = head;
      this.grant(head, now);
      woken = [head];
    } else {
      woken = this.grantReaders(now);
    }
    // Spinners re-read the owner: a woken writer is not on a CPU yet, readers start the clock.
    for (const s of [...this.spinners]) this.spinCheck(s);
    this.wakeAll(woken, 0, v, then);
  }

  /**
   * Reader batching (rwsem_mark_wake): every reader in the wait list, up to MAX_READERS_WAKEUP,
   * leaves it holding the lock; writers keep their places. Returns the readers granted.
   */
  private grantReaders(now: number): RwWaiter[] {
    const woken: RwWaiter[] = [];
    for (let i = 0; i < this.waiters.length && woken.length < MAX_READERS_WAKEUP; ) {
      const x = this.waiters[i]!;
      if (x.mode === 'read') {
        this.waiters.splice(i, 1);
        woken.push(x);
      } else i++;
    }
    this.readers += woken.length;
    for (const x of woken) this.grant(x, now);
    return woken;
  }

  private grant(w: RwWaiter, now: number): void {
    w.granted = true;
    this.stats.acquisitions++;
    this.stats.waitNs += now - w.since;
  }

  /** wake_up_q: one try_to_wake_up after another, on the releaser's vCPU. */
  private wakeAll(woken: readonly RwWaiter[], i: number, v: Vcpu, then: () => void): void {
    if (i >= woken.length) {
      then();
      return;
    }
    const t = woken[i]!.task;
    t.sched.wake(t, v, () => this.wakeAll(woken, i + 1, v, then));
  }
}
