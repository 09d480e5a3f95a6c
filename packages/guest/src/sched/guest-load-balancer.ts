import type { PolicyFamily } from '@ipilab/di';

/** A waiting task as a balancer sees it. */
export interface BalancedTask {
  /** Allowed on one vCPU only: never moved. */
  readonly pinned: boolean;
  /** Whether the task may run on vCPU `vcpu`. */
  allowedOn(vcpu: number): boolean;
}

/** What a balancer is shown of one VM's run queues (read-only; vCPUs by index). */
export interface BalanceView {
  readonly nrVcpus: number;
  /** Tasks on `vcpu`: the running one and the waiting ones. */
  queueLength(vcpu: number): number;
  /** Waiting tasks of `vcpu`. */
  nrQueued(vcpu: number): number;
  /** The i-th waiting task of `vcpu` (any order). */
  queuedAt(vcpu: number, i: number): BalancedTask;
  /** The slice (ns): what a waiting task waits per task ahead of it. */
  readonly sliceNs: number;
  /** `vms[].scheduler.migrationThreshold` (ns): a move must save more wait than this. */
  readonly migrationThresholdNs: number;
}

/** One task to move, and where. */
export interface BalanceMove {
  /** A waiting task of the vCPU being balanced (one `queuedAt` returned), not pinned. */
  readonly task: BalancedTask;
  /** Another vCPU the task is allowed on. */
  readonly to: number;
}

/**
 * The guest's load balancer (`vms[].scheduler.balancer`): the contract every balancer —
 * built-in or plugin — implements. Asked each time a task's chunk of CPU time on `from` ends,
 * it returns at most one move; the guest's scheduler makes it (detach, the migration penalty,
 * the reschedule IPI to the target). This runs per chunk: no allocation unless it moves.
 */
export interface GuestLoadBalancer {
  /** The name a scenario picks it by (`vms[].scheduler.balancer`). */
  readonly name: string;
  /** At most one move of a waiting task off vCPU `from`, seen through `view`; null for none. */
  balance(view: BalanceView, from: number): BalanceMove | null;
}

/**
 * Push balancing (the model's since issue 3): the first unpinned waiting task of `from` moves
 * to the allowed vCPU with the shortest queue when (queue difference - 1) x slice exceeds the
 * migration threshold.
 */
export const PUSH_BALANCER: GuestLoadBalancer = {
  name: 'push',
  balance(view: BalanceView, from: number): BalanceMove | null {
    const queued = view.nrQueued(from);
    if (queued === 0) return null;
    const mine = view.queueLength(from);
    let task: BalancedTask | null = null;
    for (let i = 0; i < queued; i++) {
      const t = view.queuedAt(from, i);
      if (!t.pinned) {
        task = t;
        break;
      }
    }
    if (task === null) return null;
    let best = -1;
    let bestLen = Infinity;
    for (let w = 0; w < view.nrVcpus; w++) {
      if (w === from || !task.allowedOn(w)) continue;
      const len = view.queueLength(w);
      if (len < bestLen) {
        bestLen = len;
        best = w;
      }
    }
    if (best < 0) return null;
    const saved = (mine - bestLen - 1) * view.sliceNs;
    return saved <= view.migrationThresholdNs ? null : { task, to: best };
  },
};

/** No balancing: a task stays where it was woken or forked (`balance: false`). */
export const NO_BALANCER: GuestLoadBalancer = { name: 'none', balance: () => null };

/** Token of the guest-load-balancer PolicyRegistry. */
export const GuestBalancerRegistry: unique symbol = Symbol('GuestBalancerRegistry');
/** Token under which modules contribute guest load balancers. */
export const GuestBalancerContribution: unique symbol = Symbol('GuestBalancerContribution');
/** The guest-load-balancer family (`vms[].scheduler.balancer`; default `push`, `none` with `balance: false`). */
export const guestBalancers: PolicyFamily<GuestLoadBalancer> = {
  registry: GuestBalancerRegistry,
  contribution: GuestBalancerContribution,
  kind: 'guest load balancer',
  defaultName: 'push',
};
