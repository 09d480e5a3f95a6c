/** What one kind of lock (all its instances in a VM) cost: the figures a run reports. */
export interface LockStats {
  /** Acquisitions granted (a reader batch counts each reader). */
  acquisitions: number;
  /** Acquisitions that had to wait (spin or sleep) instead of getting the lock at once. */
  contended: number;
  /** ns from asking for the lock to being granted it, summed over every acquisition. */
  waitNs: number;
  /** Waits that ended asleep (the task blocked and was woken by the releaser): rwsem only. */
  sleeps: number;
  /** Acquisitions and releases that pulled the lock word's cache line from another vCPU. */
  lineTransfers: number;
  /** Paravirtual spinlocks: times a waiter halted its vCPU in kvm_wait after SPIN_THRESHOLD iterations (spinlocks only). */
  pvWaits: number;
  /** Paravirtual spinlocks: KVM_HC_KICK_CPU hypercalls by unlockers waking a halted waiter (spinlocks only). */
  pvKicks: number;
}

/** Zeroed statistics for one lock. */
export function emptyLockStats(): LockStats {
  return { acquisitions: 0, contended: 0, waitNs: 0, sleeps: 0, lineTransfers: 0, pvWaits: 0, pvKicks: 0 };
}

export function resetLockStats(s: LockStats): void {
  s.acquisitions = 0;
  s.contended = 0;
  s.waitNs = 0;
  s.sleeps = 0;
  s.lineTransfers = 0;
  s.pvWaits = 0;
  s.pvKicks = 0;
}
