import { InvalidParameterError, KernelError } from '@ipilab/core';
import type { Costs } from '@ipilab/calibration';
import { EEVDF_BASE_SLICE_NS, tunableScale, type FairRunqueue, type Hypervisor, type RunqueueContext, type Vm } from '@ipilab/hypervisor';
import type { Vcpu } from '@ipilab/vcpu';
import type { GuestKernel } from '../guest-kernel';
import { NO_BALANCER, PUSH_BALANCER, type BalanceView, type GuestLoadBalancer } from './guest-load-balancer';
import { CFS_GUEST_POLICY, EEVDF_GUEST_POLICY, type GuestSchedulerPolicy } from './guest-scheduler-policy';
import { Task, type TaskBody } from './task';

/** The guest kernel's fair scheduling class: `eevdf` (Linux >= 6.6) or `cfs` (<= 6.5). */
export type GuestSchedPolicy = 'eevdf' | 'cfs';
export const GUEST_SCHED_POLICIES: readonly GuestSchedPolicy[] = ['eevdf', 'cfs'];

/** How a VM's guest scheduler is set up: its policy, slice, load balancer and CPU topology. */
export interface SchedulerOptions {
  /** The fair policy: a built-in by name, or a policy (guest-scheduler-policy.ts); default eevdf. */
  readonly policy?: GuestSchedPolicy | GuestSchedulerPolicy;
  /**
   * EEVDF's slice: CPU time a task runs before the next runnable one on its vCPU may take over
   * (default: sysctl_sched_base_slice, 0.75 ms, scaled by 1 + ilog2(min(vCPUs, 8)): 3 ms on 8 or
   * more vCPUs). Noticed at the guest's tick, as Linux does without HRTICK. Not used by cfs.
   */
  readonly sliceNs?: number;
  /**
   * vCPUs per last-level cache in the guest's topology (cpus_share_cache): vCPUs i and j share
   * one when floor(i / llcVcpus) = floor(j / llcVcpus). Default: all (one virtual socket, as QEMU
   * >= 6.2 lays out `-smp N`, preferring cores over sockets).
   */
  readonly llcVcpus?: number;
  /** sched_feat(TTWU_QUEUE) (default on): remote wake-ups may be queued on the target with an IPI. */
  readonly ttwuQueue?: boolean;
  /**
   * Push a task to a shorter queue only if the wait it saves beats this (ns). Default: derived
   * from the calibrated cost of the reschedule IPI the move may need, plus the migration penalty.
   */
  readonly migrationThresholdNs?: number;
  /** Turn the balancer off (as `balancer` NO_BALANCER). */
  readonly balance?: boolean;
  /** The load balancer (guest-load-balancer.ts); default the push balancer. */
  readonly balancer?: GuestLoadBalancer;
}

/**
 * The cost of moving a task with a reschedule IPI to an idle vCPU, from calibrated per-operation
 * costs: the sender's emulated ICR write (smp_send_reschedule is a single-destination send on
 * every backend but posted), the host's delivery, the target's wake-up and handler, the
 * context switch there, and the migrated task's cache refill. On bare metal (`native`) the send
 * is one native ICR write crossing a socket's wire to a CPU woken from C1: no exit, no injection.
 */
export function estimatedMigrationCost(c: Costs, native = false): number {
  const send = native
    ? c.nativeIcrWrite + c.ipiWireSocket + c.idleExitLatency
    : c.exitRoundTrip + c.apicWriteEmulation + c.deliverPerTarget + c.deliverTargetLines * c.cacheLineSocket + c.haltPollNotice + c.injection;
  return c.guestSendOverhead + send + c.interruptEntry + c.handlerBody + c.contextSwitch + c.migrationPenalty;
}

// A task's steps as work items: module-level functions given the task, so no step allocates a closure.
const advanceStage = (t: unknown): void => (t as Task).sched.step(t as Task);
const switchInStage = (t: unknown): void => (t as Task).sched.switchIn(t as Task);
const chunkStage = (t: unknown): void => (t as Task).sched.chunkDone(t as Task);

/** A remote wake-up on its way to its target's run queue (see `Scheduler.activate`). */
interface Activation {
  readonly sched: Scheduler;
  readonly task: Task;
  readonly target: number;
  readonly why: 'wakeup' | 'initial' | 'migrated';
  readonly waker: Vcpu;
  readonly then: () => void;
}
const lockedEnqueueStage = (a: unknown): void => (a as Activation).sched.lockedEnqueue(a as Activation);

/**
 * The guest's scheduler, as Linux's fair class runs a VM's tasks (kernel/sched/core.c, fair.c):
 * - one run queue per vCPU under EEVDF (Linux >= 6.6) or CFS (<= 6.5), the same code as the
 *   host's (`EevdfRunqueue`, `CfsRunqueue`), on the guest's clock_task (guest-mode time: what the
 *   vCPU spent in exits, preempted by the host or halted is not the task's);
 * - the tick (timers.ts, at the guest's HZ while the vCPU is busy) is where a slice's end is
 *   noticed (task_tick_fair); a task due to give way is preempted at the tick interrupt's exit if
 *   it was computing in user mode, or when its kernel operation returns;
 * - try_to_wake_up: a task woken onto the waker's own vCPU preempts the running one when
 *   check_preempt_wakeup says so (need_resched, taken at the waker's next preemption point); a
 *   remote wake-up is queued on the target's wake list with an IPI (TTWU_QUEUE,
 *   ttwu_queue_cond in Linux 6.6: when waker and target do not share a last-level cache, or the
 *   target runs nothing), the target activating it in the IPI's handler; otherwise the waker
 *   locks the target's run queue, enqueues there, and sends a reschedule IPI only when the woken
 *   task preempts the target's running one (resched_curr). A target idling in a polling loop
 *   (TIF_POLLING_NRFLAG: idle=poll, haltpoll's poll state) gets no IPI: it sees need_resched;
 * - wake_up_new_task places a fork on the least loaded allowed vCPU;
 * - a push balancer moves an unpinned waiting task to a shorter queue when the wait it saves
 *   beats the reschedule IPI and the migration it costs.
 */
export class Scheduler {
  readonly tasks: Task[] = [];
  readonly rqs: FairRunqueue<Task>[];
  /** Tasks on their way to each vCPU (a wake-up IPI in flight). */
  private readonly inbound: number[];
  /** TIF_NEED_RESCHED per vCPU. */
  private readonly needResched: Uint8Array;
  /** The fair policy's name. */
  readonly policy: string;
  readonly sliceNs: number | undefined;
  readonly llcVcpus: number;
  readonly ttwuQueue: boolean;
  readonly migrationThresholdNs: number;
  /** Whether it balances at all (not NO_BALANCER). */
  readonly balance: boolean;
  readonly balancer: GuestLoadBalancer;
  private readonly view: BalanceView;
  readonly costs: Costs;
  migrations = 0;
  /** Wake-up IPIs sent: queued remote wake-ups, and reschedule IPIs of wake-up preemption and of the balancer. */
  wakeIpis = 0;
  /** Remote wake-ups queued on their target's wake list (TTWU_QUEUE), with or without an IPI. */
  queuedWakeups = 0;
  /** Wake-ups that preempted the task running on the target (check_preempt_wakeup). */
  wakeupPreemptions = 0;
  /** Preemptions at the tick (a slice used up while others wait). */
  tickPreemptions = 0;
  /**
   * The slice (ns): EEVDF's, and what the balancer reckons a queued task waits per task ahead
   * of it (CFS: sysctl_sched_min_granularity, 0.75 ms scaled alike).
   */
  readonly effectiveSliceNs: number;

  constructor(
    readonly hv: Hypervisor,
    readonly vm: Vm,
    readonly kernel: GuestKernel,
    options: SchedulerOptions = {},
  ) {
    this.costs = hv.costs;
    const n = vm.vcpus.length;
    const given = options.policy ?? 'eevdf';
    if (typeof given === 'string' && !GUEST_SCHED_POLICIES.includes(given)) throw new InvalidParameterError('scheduler.policy', given, '"eevdf" or "cfs"');
    const fair = typeof given !== 'string' ? given : given === 'cfs' ? CFS_GUEST_POLICY : EEVDF_GUEST_POLICY;
    this.policy = fair.name;
    this.sliceNs = options.sliceNs;
    if (this.sliceNs !== undefined && !(Number.isSafeInteger(this.sliceNs) && this.sliceNs > 0)) throw new InvalidParameterError('scheduler.sliceNs', this.sliceNs, 'a positive integer number of ns');
    if (this.sliceNs !== undefined && !fair.takesSlice) {
      const why = fair.name === 'cfs' ? ' (its period and granularities follow sysctl_sched_latency)' : '';
      throw new InvalidParameterError('scheduler.slice', this.sliceNs, `no slice under ${fair.name}${why}; leave it out or use policy eevdf`);
    }
    this.llcVcpus = options.llcVcpus ?? n;
    if (!(Number.isSafeInteger(this.llcVcpus) && this.llcVcpus >= 1)) throw new InvalidParameterError('scheduler.llcVcpus', this.llcVcpus, 'a positive integer number of vCPUs');
    this.ttwuQueue = options.ttwuQueue ?? true;
    this.effectiveSliceNs = this.sliceNs ?? EEVDF_BASE_SLICE_NS * tunableScale(n);
    const hz = kernel.hz;
    this.rqs = vm.vcpus.map((v) => {
      const ctx: RunqueueContext = { pcpu: v.index, nrCpus: n, hz, tickPhaseNs: 0, timeSliceNs: this.effectiveSliceNs, ...(this.sliceNs === undefined ? {} : { sliceNs: this.sliceNs }) };
      return fair.createRunqueue(ctx);
    });
    this.inbound = vm.vcpus.map(() => 0);
    this.needResched = new Uint8Array(n);
    this.migrationThresholdNs = options.migrationThresholdNs ?? estimatedMigrationCost(this.costs, hv.config.mode === 'bare-metal');
    if (!(this.migrationThresholdNs >= 0 && Number.isFinite(this.migrationThresholdNs))) {
      throw new InvalidParameterError('scheduler.migrationThresholdNs', this.migrationThresholdNs, 'a non-negative number of ns');
    }
    this.balancer = options.balance === false ? NO_BALANCER : (options.balancer ?? PUSH_BALANCER);
    this.balance = this.balancer !== NO_BALANCER;
    const rqs = this.rqs;
    this.view = {
      nrVcpus: n,
      queueLength: (i) => this.queueLength(i),
      nrQueued: (i) => rqs[i]!.nrQueued,
      queuedAt: (i, k) => rqs[i]!.queuedAt(k),
      sliceNs: this.effectiveSliceNs,
      migrationThresholdNs: this.migrationThresholdNs,
    };
    kernel.attachScheduler({ tick: (v) => this.tick(v), reschedule: (v) => this.onRescheduleIpi(v) });
  }

  /**
   * Creates a task on `vcpu` (default: the first allowed). Call before the hypervisor starts,
   * or from code running on `vcpu`; use `wake` to hand a task to another vCPU.
   */
  spawn(name: string, body: TaskBody, options: { vcpu?: number; affinity?: readonly number[] } = {}): Task {
    const t = this.create(name, body, options);
    if (this.vm.vcpu(t.vcpu).state === 'halted') {
      throw new KernelError(`task ${name}: spawned onto halted vCPU ${t.vcpu}; spawn before the VM starts, from that vCPU, or use spawnBlocked + wake`);
    }
    const v = this.vm.vcpu(t.vcpu);
    this.rqs[t.vcpu]!.enqueue(t, this.guestNs(v), 'initial');
    this.kick(v);
    return t;
  }

  /** Creates a task that starts asleep: running code hands it to a vCPU with `wake` (as fork + wake_up_new_task). */
  spawnBlocked(name: string, body: TaskBody, vcpu: number, affinity?: readonly number[]): Task {
    const t = this.create(name, body, affinity === undefined ? { vcpu } : { vcpu, affinity });
    t.state = 'blocked';
    return t;
  }

  private create(name: string, body: TaskBody, options: { vcpu?: number; affinity?: readonly number[] }): Task {
    const n = this.vm.vcpus.length;
    const affinity = options.affinity;
    if (affinity !== undefined) {
      if (affinity.length === 0) throw new InvalidParameterError(`task ${name}.affinity`, affinity, 'at least one vCPU index');
      affinity.forEach((a, i) => {
        if (!(Number.isSafeInteger(a) && a >= 0 && a < n)) throw new InvalidParameterError(`task ${name}.affinity[${i}]`, a, `a vCPU index in [0, ${n - 1}]`);
      });
    }
    const vcpu = options.vcpu ?? affinity?.[0] ?? 0;
    if (!(Number.isSafeInteger(vcpu) && vcpu >= 0 && vcpu < n)) throw new InvalidParameterError(`task ${name}.vcpu`, vcpu, `a vCPU index in [0, ${n - 1}]`);
    if (affinity !== undefined && !affinity.includes(vcpu)) throw new InvalidParameterError(`task ${name}.vcpu`, vcpu, `one of its affinity ${JSON.stringify(affinity)}`);
    const t = new Task(this.tasks.length, name, body, affinity, vcpu, this);
    this.tasks.push(t);
    return t;
  }

  /** Tasks running, queued, or on their way to `vcpu`. */
  queueLength(vcpu: number): number {
    const rq = this.rqs[vcpu]!;
    return rq.nrQueued + (rq.curr === null ? 0 : 1) + this.inbound[vcpu]!;
  }

  /** The run queue's nr_running: tasks running or queued on `vcpu` (not those on their way). */
  private nrRunning(vcpu: number): number {
    const rq = this.rqs[vcpu]!;
    return rq.nrQueued + (rq.curr === null ? 0 : 1);
  }

  /** Whether vCPU `vcpu` has nothing to run (no current task, an empty run queue). */
  isIdle(vcpu: number): boolean {
    return this.queueLength(vcpu) === 0;
  }

  /** cpus_share_cache: the two vCPUs are in one last-level cache of the guest's topology. */
  shareCache(a: number, b: number): boolean {
    return Math.floor(a / this.llcVcpus) === Math.floor(b / this.llcVcpus);
  }

  /**
   * try_to_wake_up(`task`) from code running on `waker`: picks a vCPU (its last one if allowed
   * and idle, else an idle allowed one, else its last allowed one) and activates it there (see
   * `activate`). `then` runs on the waker afterwards.
   */
  wake(task: Task, waker: Vcpu, then: () => void): void {
    if (task.state === 'done') {
      then();
      return;
    }
    if (task.state !== 'blocked') {
      task.pendingWake = true;
      then();
      return;
    }
    task.state = 'runnable';
    this.activate(task, this.selectVcpu(task), waker, then, 'wakeup');
  }

  /**
   * wake_up_new_task(`task`) from its parent running on `waker` (kernel/sched/core.c): a new
   * task is placed as select_task_rq_fair places a fork (SD_BALANCE_FORK ->
   * sched_balance_find_dst_cpu, find_idlest_cpu in kernel/sched/fair.c) — on the least loaded
   * allowed vCPU, counting tasks running, queued and on their way there, so an idle one if
   * there is one; on a tie the vCPU it was created on (the parent's, as sched_cgroup_fork sets
   * task_cpu), then the lowest index. Not try_to_wake_up's rule: a new task has no cache to go
   * back to, and a fork storm's children would otherwise pile up on one vCPU for the balancer
   * to move one by one. wake_up_new_task activates on the target's run queue directly (it does
   * not use the wake list); a reschedule IPI goes to a target that is idle or whose running
   * task the child preempts.
   */
  wakeNewTask(task: Task, waker: Vcpu, then: () => void): void {
    if (task.state !== 'blocked') throw new KernelError(`task ${task.name}: wakeNewTask of a task already started (${task.state}); make it with spawnBlocked`);
    task.state = 'runnable';
    const candidates = task.affinity ?? this.vm.vcpus.map((v) => v.index);
    let best = task.allowedOn(task.vcpu) ? task.vcpu : candidates[0]!;
    let bestLoad = this.queueLength(best);
    for (const c of candidates) {
      const load = this.queueLength(c);
      if (load < bestLoad) {
        best = c;
        bestLoad = load;
      }
    }
    this.activate(task, best, waker, then, 'initial', false);
  }

  /**
   * Puts a woken `task` on `target`'s run queue from code on `waker` (ttwu_queue in
   * kernel/sched/core.c, Linux 6.6):
   * - onto the waker's own vCPU: enqueued at once; if it should preempt the running task
   *   (check_preempt_wakeup), need_resched is set and the waker gives way at its next
   *   preemption point;
   * - remote, when TTWU_QUEUE is on and ttwu_queue_cond holds (the two vCPUs do not share a
   *   cache, or the target's run queue is empty): queued on the target's wake list
   *   (__ttwu_queue_wakelist) with a call-function-single IPI, or none if the target polls in
   *   idle; the target activates it in the handler (sched_ttwu_pending);
   * - otherwise the waker takes the target's run-queue lock (its cache line and the task's
   *   come over), enqueues, and sends a reschedule IPI if the target is idle or the woken task
   *   preempts the one running there (resched_curr).
   */
  private activate(task: Task, target: number, waker: Vcpu, then: () => void, why: 'wakeup' | 'initial' | 'migrated', wakeList = true): void {
    task.vcpu = target;
    const tv = this.vm.vcpu(target);
    if (target === waker.index) {
      const rq = this.rqs[target]!;
      rq.enqueue(task, this.guestNs(tv), why);
      if (rq.curr === null) this.kick(tv);
      else if (rq.wakeupPreempt(task, this.guestNs(tv))) {
        this.wakeupPreemptions++;
        this.resched(tv);
      }
      then();
      return;
    }
    if (wakeList && this.ttwuQueue && (!this.shareCache(waker.index, target) || this.nrRunning(target) === 0)) {
      this.queuedWakeups++;
      this.inbound[target]!++;
      if (this.kernel.wakeOn(waker, tv, () => this.activateQueued(task, tv, why), then)) this.wakeIpis++;
      return;
    }
    const a: Activation = { sched: this, task, target, why, waker, then };
    // rq_lock(target) and the task's lines: two transfers from the target's cache.
    waker.pushWork(2 * this.hv.fabric.cacheLine(waker.pcpu, tv.pcpu), lockedEnqueueStage, a);
  }

  /** @internal The waker holds the target's run-queue lock: enqueue, and resched_curr if needed. */
  lockedEnqueue(a: Activation): void {
    const tv = this.vm.vcpu(a.target);
    const rq = this.rqs[a.target]!;
    const idle = this.isIdle(a.target);
    rq.enqueue(a.task, this.guestNs(tv), a.why);
    let ipi = idle;
    if (!idle && rq.curr !== null && rq.wakeupPreempt(a.task, this.guestNs(tv))) {
      this.wakeupPreemptions++;
      ipi = true;
    }
    if (!ipi) {
      a.then();
      return;
    }
    if (this.kernel.reschedule(a.waker, tv, a.then)) this.wakeIpis++;
  }

  /** sched_ttwu_pending on the target: the queued wake-up becomes runnable there. */
  private activateQueued(task: Task, v: Vcpu, why: 'wakeup' | 'initial' | 'migrated'): void {
    this.inbound[v.index]!--;
    const rq = this.rqs[v.index]!;
    rq.enqueue(task, this.guestNs(v), why);
    if (rq.curr === null) this.kick(v);
    else if (rq.wakeupPreempt(task, this.guestNs(v))) {
      this.wakeupPreemptions++;
      this.resched(v);
    }
  }

  private selectVcpu(task: Task): number {
    if (task.allowedOn(task.vcpu) && this.isIdle(task.vcpu)) return task.vcpu;
    const candidates = task.affinity ?? this.vm.vcpus.map((v) => v.index);
    const idle = candidates.find((c) => this.isIdle(c));
    if (idle !== undefined) return idle;
    return task.allowedOn(task.vcpu) ? task.vcpu : candidates[0]!;
  }

  /** A reschedule IPI's handler on `v` (scheduler_ipi): an idle vCPU picks up its work; a busy one reschedules at the interrupt's exit. */
  private onRescheduleIpi(v: Vcpu): void {
    if (this.rqs[v.index]!.curr === null) this.kick(v);
    else this.resched(v);
  }

  /**
   * resched_curr on `v` itself: need_resched. A task computing in user mode is preempted as
   * soon as the interrupt or wake-up path that set it returns (its compute chunk is cut there);
   * one in a kernel operation gives way when the operation returns.
   */
  private resched(v: Vcpu): void {
    const t = this.rqs[v.index]!.curr;
    if (t === null) return;
    this.needResched[v.index] = 1;
    if (t.chunkLevel >= 0) {
      t.chunk -= v.truncateWork(t.chunkLevel);
      t.chunkLevel = -1;
    }
  }

  /** The guest's tick on `v` (scheduler_tick -> task_tick_fair): a slice used up while others wait preempts. */
  private tick(v: Vcpu): void {
    const rq = this.rqs[v.index]!;
    if (rq.curr === null || this.needResched[v.index] === 1) return;
    if (rq.tick(this.guestNs(v))) {
      this.tickPreemptions++;
      this.resched(v);
    }
  }

  /** Starts the next task on `v` if it is free (called on the vCPU's own behalf). */
  private kick(v: Vcpu): void {
    const rq = this.rqs[v.index]!;
    if (rq.curr !== null) return;
    const next = rq.pick(this.guestNs(v));
    if (next === null) {
      // The idle task runs: enter_lazy_tlb.
      this.kernel.enterLazyTlb(v);
      return;
    }
    next.state = 'running';
    next.vcpu = v.index;
    v.pushWork(this.costs.contextSwitch, switchInStage, next);
    // Out of idle to run a task: the tick restarts first (a no-op if it runs).
    this.kernel.tickRestart(v);
  }

  /**
   * @internal The context switch to `t` is done: its address space is loaded before it runs
   * again (context_switch -> switch_mm_irqs_off in kernel/sched/core.c, arch/x86/mm/tlb.c), so
   * a task switched back in, or moved to another vCPU, accesses its own memory, not the memory
   * of whichever task ran there last.
   */
  switchIn(t: Task): void {
    const v = this.vm.vcpus[t.vcpu]!;
    if (t.loadMm === undefined) {
      // A kernel thread borrows whatever is loaded: enter_lazy_tlb.
      this.kernel.enterLazyTlb(v);
      this.advance(v, t);
      return;
    }
    this.loadMm(v, t, t.loadMm);
  }

  /** Loads the task's address space on `v`, paying for any flush the switch needs (switch_mm_irqs_off), then runs it on. */
  private loadMm(v: Vcpu, t: Task, load: (vcpu: Vcpu) => number | void): void {
    const cost = load(v);
    if (typeof cost === 'number' && cost > 0) v.pushWork(cost, advanceStage, t);
    else this.advance(v, t);
  }

  /**
   * Guest-mode ns `v` has run: the guest's clock_task, which leaves out time the vCPU spent in
   * exits, preempted by the host (steal time) or halted.
   */
  guestNs(v: Vcpu): number {
    return v.timeIn['in-guest'] + (v.state === 'in-guest' ? this.hv.sim.now - v.since : 0);
  }

  /** Preempts the running task `t`: it waits on `v`'s queue again, and the pick runs. */
  private preempt(v: Vcpu, t: Task): void {
    t.state = 'runnable';
    this.release(v, true);
  }

  /** @internal The running task's next step, on the vCPU it runs on (a running task's `vcpu`). */
  step(t: Task): void {
    this.advance(this.vm.vcpus[t.vcpu]!, t);
  }

  /**
   * @internal The task's `op` has finished with `value`. Its return is a preemption point (the
   * return to user mode checks need_resched): a task due to give way yields here, and takes
   * `value` when it next runs.
   */
  resumeOp(t: Task, value: unknown): void {
    t.inOp = false;
    t.resumeWith = value;
    const v = this.vm.vcpus[t.vcpu]!;
    if (this.needResched[v.index] === 1) {
      this.preempt(v, t);
      return;
    }
    this.advance(v, t);
  }

  private advance(v: Vcpu, t: Task): void {
    if (t.remaining > 0) {
      this.runChunk(v, t);
      return;
    }
    const step = t.gen.next(t.resumeWith);
    t.resumeWith = undefined;
    if (step.done) {
      t.state = 'done';
      this.release(v, false);
      return;
    }
    const cmd = step.value;
    switch (cmd.kind) {
      case 'compute':
        if (!(cmd.ns >= 0 && Number.isFinite(cmd.ns))) throw new InvalidParameterError(`task ${t.name}: compute`, cmd.ns, 'a non-negative, finite number of ns');
        t.remaining = cmd.ns;
        this.runChunk(v, t);
        return;
      case 'block':
        if (t.pendingWake) {
          t.pendingWake = false;
          v.pushWork(0, advanceStage, t);
          return;
        }
        t.state = 'blocked';
        this.release(v, false);
        return;
      case 'sleep':
        if (!(cmd.ns >= 0 && Number.isFinite(cmd.ns))) throw new InvalidParameterError(`task ${t.name}: sleep`, cmd.ns, 'a non-negative, finite number of ns');
        t.state = 'blocked';
        this.kernel.timer(v, Math.round(cmd.ns), (on) => this.wake(t, on, () => undefined));
        this.release(v, false);
        return;
      case 'op':
        t.inOp = true;
        cmd.run(v, t.resume);
        return;
      case 'switch-mm':
        t.loadMm = cmd.load;
        this.loadMm(v, t, cmd.load);
        return;
    }
  }

  /**
   * Computes the rest of the task's compute command as one chunk; a preemption (at the tick, or
   * by a wake-up) cuts it short where it happens. Beside a busy SMT sibling the chunk's work
   * takes longer.
   */
  private runChunk(v: Vcpu, t: Task): void {
    if (this.needResched[v.index] === 1) {
      this.preempt(v, t);
      return;
    }
    t.chunk = t.remaining;
    t.chunkLevel = v.workDepth;
    v.pushUserWork(t.chunk, chunkStage, t);
  }

  /** @internal A chunk of CPU time has run (all of it, or until a preemption cut it). */
  chunkDone(t: Task): void {
    const v = this.vm.vcpus[t.vcpu]!;
    t.chunkLevel = -1;
    t.remaining = Math.max(0, t.remaining - t.chunk);
    if (this.needResched[v.index] === 1) this.preempt(v, t);
    else this.advance(v, t);
    // Balancing last: work it pushes (the reschedule IPI) lands on top and runs next, instead
    // of under the task's next chunk.
    if (this.balance) this.pushBalance(v);
  }

  /** The running task leaves `v` (blocked, done, or preempted when `runnable`); the next one starts. */
  private release(v: Vcpu, runnable: boolean): void {
    this.needResched[v.index] = 0;
    this.rqs[v.index]!.putPrev(this.guestNs(v), runnable);
    this.kick(v);
  }

  /** Balancing when a task of `v` gives way: the balancer picks at most one waiting task to move; the move is made here. */
  private pushBalance(v: Vcpu): void {
    const rq = this.rqs[v.index]!;
    if (rq.nrQueued === 0) return;
    const move = this.balancer.balance(this.view, v.index);
    if (move === null) return;
    const candidate = move.task as Task;
    const best = move.to;
    // A plugin's answer is checked before it moves anything: a wrong one names the balancer.
    let waiting = false;
    for (let i = 0; i < rq.nrQueued && !waiting; i++) waiting = rq.queuedAt(i) === candidate;
    if (!waiting || candidate.pinned || best === v.index || !Number.isSafeInteger(best) || best < 0 || best >= this.rqs.length || !candidate.allowedOn(best)) {
      throw new Error(`guest load balancer ${JSON.stringify(this.balancer.name)} moved ${waiting ? 'a task' : 'a task not waiting on the vCPU'} to vCPU ${String(best)}, which it may not`);
    }
    rq.remove(candidate, this.guestNs(v));
    candidate.vcpu = best;
    candidate.migrations++;
    candidate.remaining += this.costs.migrationPenalty;
    this.migrations++;
    // The balancer moves the task under both run-queue locks (detach_task/attach_task) and
    // kicks an idle target with a reschedule IPI (resched_curr), a busy one only if preempted.
    this.activate(candidate, best, v, () => undefined, 'migrated', false);
  }
}
