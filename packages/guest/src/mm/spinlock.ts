import type { Hypervisor } from '@ipilab/hypervisor';
import type { SpinTicket, Vcpu } from '@ipilab/vcpu';
import type { LockStats } from './lock-stats';
import { LockWord } from './lock-word';

/**
 * Iterations a paravirtual qspinlock waiter spins before it halts: SPIN_THRESHOLD (1 << 15) in
 * kernel/locking/qspinlock_paravirt.h. Each is one PAUSE (`Costs.pauseLatency`).
 */
export const SPIN_THRESHOLD = 1 << 15;

interface SpinWaiter {
  lock: QueuedSpinLock;
  v: Vcpu;
  since: number;
  done: () => void;
  /** Its PAUSE loop, while it spins; null once the loop has ended. */
  ticket: SpinTicket | null;
  /** The lock was handed to it. */
  granted: boolean;
  /**
   * In kvm_wait: it halted (or tried to) and has not yet come back to re-check; the unlocker that
   * hands it the lock must kick it (pn->state vcpu_halted / vcpu_hashed in Linux).
   */
  halted: boolean;
}

// Stages as plain functions taking the waiter as the work item's argument.
const spinEndStage = (w: unknown): void => (w as SpinWaiter).lock.spinEnded(w as SpinWaiter);
const waitEndStage = (w: unknown): void => (w as SpinWaiter).lock.waitEnded(w as SpinWaiter);

/**
 * A kernel spinlock as Linux's queued spinlock (kernel/locking/qspinlock.c): taken at once when
 * free, else the vCPU spins (a PAUSE loop: it burns its vCPU, and interrupts still run on top)
 * in an MCS queue, so waiters get it first come, first served; the releaser hands it to the head.
 * Every acquisition is an atomic on the lock word, which costs a cache-line transfer when another
 * vCPU touched it last. Held by a vCPU, never across a sleep.
 *
 * **Paravirtual qspinlocks** (`pv`: the guest has KVM_FEATURE_PV_UNHALT, kvm_spinlock_init; see
 * `GuestKernel.pvSpinlocks`), as kernel/locking/qspinlock_paravirt.h with KVM's hooks from
 * arch/x86/kernel/kvm.c:
 * - a waiter spins SPIN_THRESHOLD iterations (pv_wait_node, pv_wait_head_or_lock), counted in
 *   guest time: the loop is frozen while its vCPU is preempted, in an exit or under a handler;
 * - then, unless the lock was handed to it meanwhile, it halts: kvm_wait executes HLT (safe_halt)
 *   only if the lock byte still holds the value it waits on, so a hand-off before the halt is
 *   never missed. The HLT is the hypervisor's halting path (an HLT exit, KVM halt polling, then
 *   blocking), taken with the waiter's continuation on the work stack: the vCPU resumes it when
 *   it re-enters;
 * - the unlocker that hands the lock to a halted waiter kicks it (__pv_queued_spin_unlock_slowpath
 *   -> pv_kick -> kvm_kick_cpu): a KVM_HC_KICK_CPU hypercall exit on the unlocker, whose host
 *   side (kvm_pv_kick_cpu_op) sets pv_unhalted and wakes the waiter's vCPU (`Hypervisor.pvKick`);
 * - a waiter woken by anything else (an interrupt: the tick, an IPI) finds the lock not yet its
 *   own and spins SPIN_THRESHOLD again before halting again, as pv_wait_node's loop does.
 *
 * Simplifications: the lock is handed to the head waiter (MCS hand-off straight to the lock);
 * Linux's head waiter takes it itself once awake, and a running vCPU may steal it meanwhile
 * (pv_hybrid_queued_unfair_trylock), so here a halted head's wake-up is time the lock sits unused.
 * A waiter further back that halted is kicked by the unlocker that hands it the lock, not marked
 * by its predecessor (pv_kick_node) — the same one kick per halted waiter. Interrupts are never
 * disabled around a spinlock in this model (the LRU lock's irqsave is not modelled), so every
 * kvm_wait is a safe_halt: interrupts wake it and run.
 */
export class QueuedSpinLock {
  private holder: Vcpu | null = null;
  private readonly queue: SpinWaiter[] = [];
  private readonly word: LockWord;
  /** The PAUSE loop before a PV waiter halts (ns of guest time); Infinity when not paravirtual. */
  private readonly spinBudgetNs: number;

  constructor(
    private readonly hv: Hypervisor,
    private readonly stats: LockStats,
    readonly pv = false,
  ) {
    this.word = new LockWord(hv, stats);
    this.spinBudgetNs = pv ? SPIN_THRESHOLD * hv.costs.pauseLatency : Infinity;
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
    const w: SpinWaiter = { lock: this, v, since: this.hv.sim.now, done, ticket: null, granted: false, halted: false };
    this.queue.push(w);
    w.ticket = v.pushSpin(spinEndStage, w, this.spinBudgetNs);
  }

  /**
   * spin_unlock by the holder `v`: the head of the queue (if any) gets it; `then` runs on `v`
   * after the unlock — at once, or after the KVM_HC_KICK_CPU exit when the head had halted.
   */
  release(v: Vcpu, then: () => void): void {
    if (this.holder !== v) throw new Error(`spinlock released by vCPU ${v.index}, held by ${this.holder === null ? 'nobody' : `vCPU ${this.holder.index}`}`);
    const next = this.queue.shift();
    if (next === undefined) {
      this.holder = null;
      then();
      return;
    }
    this.holder = next.v;
    this.stats.acquisitions++;
    this.stats.waitNs += this.hv.sim.now - next.since;
    next.granted = true;
    if (next.halted) {
      // The unlock is done; the kick is a hypercall the unlocker makes from guest code after it.
      v.pushWork(0, () => this.kick(v, next, then));
      return;
    }
    next.ticket?.release();
    then();
  }

  /** kvm_kick_cpu: KVM_HC_KICK_CPU with the waiter's APIC ID, a hypercall exit on the unlocker. */
  private kick(v: Vcpu, w: SpinWaiter, then: () => void): void {
    const hv = this.hv;
    const c = hv.costs;
    this.stats.pvKicks++;
    if (hv.sink.wants['hypercall']) hv.sink.emit({ type: 'hypercall', t: hv.sim.now, vcpu: v.ref, name: 'KVM_HC_KICK_CPU', targets: 1 });
    hv.exit(v, 'hypercall', c.exitRoundTrip + c.hypercallHandling, (reenter) => hv.sim.schedule(hv.pvKick(v, w.v), reenter), then);
  }

  /**
   * @internal A waiter's PAUSE loop ended: the lock was handed to it (it pulls the word's line
   * over), or — paravirtual — SPIN_THRESHOLD ran out and it halts in kvm_wait.
   */
  spinEnded(w: SpinWaiter): void {
    w.ticket = null;
    if (w.granted) {
      w.v.pushWork(this.word.touch(w.v), w.done);
      return;
    }
    // kvm_wait: the lock byte still says "not yours" (checked with interrupts off), so safe_halt.
    this.stats.pvWaits++;
    w.halted = true;
    // What runs once HLT returns (kicked, or an interrupt): below any handler taken on the way in.
    w.v.pushWork(0, waitEndStage, w);
    this.hv.halt(w.v);
  }

  /** @internal kvm_wait returned (the vCPU re-entered after its HLT): take the lock, or spin again. */
  waitEnded(w: SpinWaiter): void {
    w.halted = false;
    if (w.granted) {
      w.v.pushWork(this.word.touch(w.v), w.done);
      return;
    }
    w.ticket = w.v.pushSpin(spinEndStage, w, this.spinBudgetNs);
  }
}
