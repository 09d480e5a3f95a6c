import type { PolicyFamily } from '@ipilab/di';
import type { Vcpu } from '@ipilab/vcpu';

/** Linux's load weight of a nice-0 task (NICE_0_LOAD, sched_prio_to_weight[20]). */
export const NICE_0_WEIGHT = 1024;

/**
 * A vCPU thread as the host scheduler sees it: the task that runs the vCPU, with the fields
 * the built-in fair policies keep per scheduling entity (kernel/sched/sched.h `struct
 * sched_entity`). A plugin policy may keep its own state in `ext`.
 */
/**
 * What the fair run queues (eevdf-policy.ts, cfs-policy.ts) keep per scheduling entity
 * (kernel/sched/sched.h `struct sched_entity`): the host's vCPU threads and the guest
 * scheduler's tasks are both scheduled by the same code.
 */
export interface SchedEntity {
  vruntime: number;
  deadline: number;
  vlag: number;
  sumExec: number;
  prevSumExec: number;
  execStart: number;
  queuedSince: number;
  /** The run queue it is on or last was on (an object of the policy's own class). */
  rq: object | null;
  readonly weight: number;
}

export class HostThread implements SchedEntity {
  /** Virtual runtime (ns of weighted CPU time). */
  vruntime = 0;
  /** EEVDF: virtual deadline; CFS: unused. */
  deadline = 0;
  /** EEVDF: lag kept across a sleep or a migration (`se->vlag`), and the slice-protection mark. */
  vlag = 0;
  /** CPU time consumed, and its value when the thread was last picked (`sum_exec_runtime`, `prev_sum_exec_runtime`). */
  sumExec = 0;
  prevSumExec = 0;
  /** When the thread last started running (`exec_start`), or when it began to wait. */
  execStart = 0;
  queuedSince = 0;
  /** The run queue it is on (queued or running), or last was on: for vruntime normalisation on migration. */
  rq: object | null = null;
  /** Waiting on a run queue (runnable, not running). Kept by the pCPU runners, not the policy. */
  queued = false;
  /** pCPU it last ran on (`task_cpu()`); -1 before it first runs. */
  lastPcpu = -1;
  /**
   * KVM's `vcpu->ready`: a candidate for directed yield (spinning.ts). Set when the thread is
   * preempted while runnable (kvm_sched_out) and, with `boostIpiTargets`, when it is woken from
   * a halt (kvm_vcpu_wake_up, "KVM: Boost vCPUs that are delivering interrupts"); cleared when it
   * runs again (kvm_sched_in).
   */
  ready = false;
  /**
   * KVM's `vcpu->preempted`: scheduled out while still runnable (kvm_sched_out with
   * current->on_rq), cleared when it runs again (kvm_sched_in). A vCPU woken from a halt is
   * `ready` but not preempted.
   */
  preempted = false;
  /**
   * `vcpu->arch.preempted_in_kernel`: the guest was in kernel mode (CPL 0) when it was preempted
   * (kvm_arch_vcpu_put, arch/x86/kvm/x86.c).
   */
  preemptedInKernel = false;
  /** Policy-private state of plugin policies. */
  ext: unknown = undefined;

  constructor(
    /** Index in `Hypervisor.threads`. */
    readonly id: number,
    readonly vcpu: Vcpu,
    /** Load weight (NICE_0_WEIGHT = nice 0). */
    readonly weight: number,
    /** pCPUs the thread may run on (its affinity mask); narrowed when a later VM pins some of them. */
    public allowed: readonly number[],
    readonly pinned: boolean,
  ) {}
}

/** Why a thread is put on a run queue. */
export type EnqueueReason =
  /** It became runnable after a sleep (a vCPU woken from HLT), possibly on another pCPU. */
  | 'wakeup'
  /** It was running and was preempted, or gave the pCPU up while still runnable. */
  | 'preempted'
  /** The load balancer moved it here from another pCPU's queue. */
  | 'migrated'
  /** It is new (the VM starts). */
  | 'initial';

/**
 * One pCPU's run queue under a host scheduling policy. The pCPU runner owns dispatch (who is
 * on the pCPU, switch costs, the tick timer); the run queue owns the order: which waiting
 * thread runs next, when the running one should give way, and where a waking one is placed.
 * `now` is simulated ns. None of it may allocate per call: it runs on every switch.
 */
export interface FairRunqueue<E extends SchedEntity> {
  /** Threads waiting here (not counting the running one). */
  readonly nrQueued: number;
  /** The thread picked to run here, or null. */
  readonly curr: E | null;
  /** The i-th waiting thread (any order), for the load balancer. */
  queuedAt(i: number): E;
  /** Adds a runnable thread that is not running. */
  enqueue(t: E, now: number, why: EnqueueReason): void;
  /** Removes a waiting thread (the balancer moves it away). */
  remove(t: E, now: number): void;
  /**
   * Chooses the next thread to run and makes it `curr`; it leaves the waiting set. Called when
   * the pCPU has no current thread (after `putPrev`). Null when nothing waits.
   */
  pick(now: number): E | null;
  /**
   * The current thread stops running: it blocks (`runnable` false: the vCPU halted), or is
   * preempted and waits again (`runnable` true).
   */
  putPrev(now: number, runnable: boolean): void;
  /** A thread was just enqueued by a wake-up: should it preempt `curr` now? */
  wakeupPreempt(woken: E, now: number): boolean;
  /**
   * Delay (ns, > 0) until the runner should call `tick`, while `curr` runs and others wait;
   * called after each pick and each tick.
   */
  nextTick(now: number): number;
  /** The periodic check while others wait: true to reschedule. */
  tick(now: number): boolean;
  /** Make `t` (waiting here) run next; true if `curr` should be preempted for it. */
  boost(t: E, now: number): boolean;
  /**
   * The running thread yields (yield_task_fair, for a directed yield): it gives up the rest of
   * its turn. Optional: a policy without it keeps its order, and the yield is only a reschedule.
   */
  yieldCurr?(now: number): void;
}

/** A pCPU's run queue of vCPU threads. */
export type HostRunqueue = FairRunqueue<HostThread>;

/** What a policy is told of the host when it makes a pCPU's run queue. */
export interface RunqueueContext {
  readonly pcpu: number;
  /** Online CPUs of the host (the kernel scales its tunables by it). */
  readonly nrCpus: number;
  /** Host scheduler tick rate (CONFIG_HZ). */
  readonly hz: number;
  /**
   * Offset of this pCPU's ticks within the tick period: ticks fall at tickPhase + k / hz.
   * Laid out as the kernel's skew_tick does (kernel/time/tick-sched.c tick_setup_sched_timer:
   * half a period spread over the CPUs), so the pCPUs' ticks are not in lockstep.
   */
  readonly tickPhaseNs: number;
  /** Round-robin slice of the legacy `fifo` policy (ns). */
  readonly timeSliceNs: number;
  /** EEVDF: the slice, instead of sysctl_sched_base_slice scaled by the CPU count (a guest's `scheduler.slice`). */
  readonly sliceNs?: number;
  /** EEVDF: yield_task_fair forfeits the remaining vruntime (HypervisorConfig.forfeitOnYield; default true). */
  readonly forfeitOnYield?: boolean;
}

/**
 * What a host scheduling policy is told when it makes a pCPU's run queue: the fair run queues'
 * context (shared with the guest's schedulers), and the host's other pCPUs, for policies that
 * decide across them.
 */
export interface HostRunqueueContext extends RunqueueContext {
  /**
   * The host this run queue belongs to: the same object in the contexts of all of one host's
   * pCPUs, a new one for each host (each run). A policy whose run queues share state (a
   * co-scheduler's gang table) keys it on this object, e.g. in a WeakMap in the policy's
   * closure; it has nothing to read.
   */
  readonly host: object;
  /**
   * Makes pCPU `pcpu` of this host re-pick, as resched_curr on a remote CPU does: the reschedule
   * IPI from this pCPU arrives after the host's physical IPI latency between the two (the
   * `ipiWireSmt` / `ipiWireSocket` / `ipiWireRemote` cost), and then, if a thread waits there,
   * its run queue's `putPrev` and `pick` run as for a preemption (the running thread goes on if
   * `pick` chooses it again). Reschedules still in flight to a pCPU are one. For policies that
   * decide across pCPUs (co-scheduling); the built-in policies never call it.
   */
  reschedule(pcpu: number): void;
}

/** A host scheduling policy: builds one run queue per pCPU. */
export interface HostSchedulerPolicy {
  readonly name: string;
  /**
   * Whether a polling vCPU leaves its poll loop as soon as another thread is runnable on its
   * pCPU (KVM's kvm_vcpu_block polls only while single_task_running(), virt/kvm/kvm_main.c).
   * The legacy `fifo` policy keeps the old behaviour (polls until its window or slice ends).
   */
  readonly pollersYield: boolean;
  /** A run queue for one pCPU. */
  createRunqueue(ctx: HostRunqueueContext): HostRunqueue;
}

/** The DI token of the host-scheduler registry. */
export const HostSchedulerRegistry: unique symbol = Symbol('HostSchedulerRegistry');
/** The DI token a module binds a host-scheduler contribution to. */
export const HostSchedulerContribution: unique symbol = Symbol('HostSchedulerContribution');
/** The host-scheduler family (`hypervisor.scheduler.policy`). */
export const hostSchedulers: PolicyFamily<HostSchedulerPolicy> = {
  registry: HostSchedulerRegistry,
  contribution: HostSchedulerContribution,
  kind: 'host scheduler policy',
  defaultName: 'eevdf',
};

/**
 * The kernel's scaling of its scheduler tunables with the CPU count
 * (kernel/sched/fair.c get_update_sysctl_factor, SCHED_TUNABLESCALING_LOG, the default):
 * 1 + ilog2(min(nr_cpus, 8)).
 */
export function tunableScale(nrCpus: number): number {
  return 1 + Math.floor(Math.log2(Math.min(Math.max(1, nrCpus), 8)));
}

/** `calc_delta_fair`: `delta` ns of CPU time in virtual time for a thread of `weight`. */
export function calcDeltaFair(delta: number, weight: number): number {
  return weight === NICE_0_WEIGHT ? delta : (delta * NICE_0_WEIGHT) / weight;
}

/** Removes `queue[i]` keeping the others in order, without the array `splice` allocates for what it removes. */
export function removeAt<T>(queue: T[], i: number): void {
  const n = queue.length - 1;
  for (let k = i; k < n; k++) queue[k] = queue[k + 1]!;
  queue.pop();
}

/** Delay from `now` to the next tick of a pCPU whose ticks fall at phase + k * period. */
export function untilNextTick(now: number, period: number, phase: number): number {
  const k = Math.floor((now - phase) / period) + 1;
  return phase + k * period - now;
}
