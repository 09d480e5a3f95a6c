import { InvalidParameterError, KernelError } from '@ipilab/core';
import type { Costs } from '@ipilab/calibration';
import type { Hypervisor, Vm } from '@ipilab/hypervisor';
import type { Vcpu } from '@ipilab/vcpu';
import type { GuestKernel } from '../guest-kernel';
import { Task, type TaskBody } from './task';

export interface SchedulerOptions {
  /**
   * CPU time a task runs, from when it is switched in, before the next runnable one on its vCPU
   * gets a turn (default 3 ms: EEVDF's sysctl_sched_base_slice, 0.75 ms x (1 + ilog2(8)) on 8 or
   * more CPUs).
   */
  readonly sliceNs?: number;
  /**
   * Push a task to a shorter queue only if the wait it saves beats this (ns). Default: derived
   * from the calibrated cost of the reschedule IPI the move may need, plus the migration penalty.
   */
  readonly migrationThresholdNs?: number;
  /** Turn the push balancer off. */
  readonly balance?: boolean;
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

/**
 * The guest's scheduler: a run queue per vCPU, tasks with affinity (pinned when it names one
 * vCPU), slice-based round robin on each vCPU, wake-ups that send a reschedule IPI when the
 * chosen vCPU is idle, and a push balancer that moves an unpinned task to a shorter queue only
 * when the queue-length difference is worth more than the IPI and the migration cost.
 *
 * A slice is CPU time since the task was switched in, however it was spent: computing, in
 * operations (system calls, faults, shootdown waits) or under interrupts. A task that keeps
 * running — many short computes and operations, never blocking — is preempted once it has
 * used its slice while another waits, at the end of a compute chunk or when an operation
 * returns (the tick's need_resched, acted on at the next preemption point).
 */
export class Scheduler {
  readonly tasks: Task[] = [];
  private readonly queues: Task[][];
  private readonly running: (Task | null)[];
  /** Tasks on their way to each vCPU (a reschedule IPI in flight). */
  private readonly inbound: number[];
  readonly sliceNs: number;
  readonly migrationThresholdNs: number;
  readonly balance: boolean;
  readonly costs: Costs;
  migrations = 0;
  wakeIpis = 0;

  constructor(
    readonly hv: Hypervisor,
    readonly vm: Vm,
    readonly kernel: GuestKernel,
    options: SchedulerOptions = {},
  ) {
    this.costs = hv.costs;
    this.queues = vm.vcpus.map(() => []);
    this.running = vm.vcpus.map(() => null);
    this.inbound = vm.vcpus.map(() => 0);
    this.sliceNs = options.sliceNs ?? 3_000_000;
    if (!(Number.isSafeInteger(this.sliceNs) && this.sliceNs > 0)) throw new InvalidParameterError('scheduler.sliceNs', this.sliceNs, 'a positive integer number of ns');
    this.migrationThresholdNs = options.migrationThresholdNs ?? estimatedMigrationCost(this.costs, hv.config.mode === 'bare-metal');
    if (!(this.migrationThresholdNs >= 0 && Number.isFinite(this.migrationThresholdNs))) {
      throw new InvalidParameterError('scheduler.migrationThresholdNs', this.migrationThresholdNs, 'a non-negative number of ns');
    }
    this.balance = options.balance ?? true;
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
    this.queues[t.vcpu]!.push(t);
    this.kick(this.vm.vcpu(t.vcpu));
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

  queueLength(vcpu: number): number {
    return this.queues[vcpu]!.length + (this.running[vcpu] === null ? 0 : 1) + this.inbound[vcpu]!;
  }

  isIdle(vcpu: number): boolean {
    return this.running[vcpu] === null && this.queues[vcpu]!.length === 0 && this.inbound[vcpu] === 0;
  }

  /**
   * try_to_wake_up(`task`) from code running on `waker`: picks a vCPU (its last one if allowed
   * and idle, else an idle allowed one, else its last allowed one) and queues it there — through
   * a reschedule IPI when that vCPU is idle. `then` runs on the waker afterwards.
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
    this.enqueueWoken(task, this.selectVcpu(task), waker, then);
  }

  /**
   * wake_up_new_task(`task`) from its parent running on `waker` (kernel/sched/core.c): a new
   * task is placed as select_task_rq_fair places a fork (SD_BALANCE_FORK ->
   * sched_balance_find_dst_cpu, find_idlest_cpu in kernel/sched/fair.c) — on the least loaded
   * allowed vCPU, counting tasks running, queued and on their way there, so an idle one if
   * there is one; on a tie the vCPU it was created on (the parent's, as sched_cgroup_fork sets
   * task_cpu), then the lowest index. Not try_to_wake_up's rule: a new task has no cache to go
   * back to, and a fork storm's children would otherwise pile up on one vCPU for the balancer
   * to move one by one. A reschedule IPI is sent when the vCPU chosen is idle.
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
    this.enqueueWoken(task, best, waker, then);
  }

  /** Queues a woken `task` on `target`, through a reschedule IPI when `target` is another, idle vCPU. */
  private enqueueWoken(task: Task, target: number, waker: Vcpu, then: () => void): void {
    task.vcpu = target;
    const tv = this.vm.vcpu(target);
    if (target !== waker.index && this.isIdle(target)) {
      this.wakeIpis++;
      this.inbound[target]!++;
      this.kernel.wakeOn(waker, tv, () => {
        this.inbound[target]!--;
        this.queues[target]!.push(task);
        this.kick(tv);
      }, then);
      return;
    }
    this.queues[target]!.push(task);
    if (target === waker.index) this.kick(tv);
    then();
  }

  private selectVcpu(task: Task): number {
    if (task.allowedOn(task.vcpu) && this.isIdle(task.vcpu)) return task.vcpu;
    const candidates = task.affinity ?? this.vm.vcpus.map((v) => v.index);
    const idle = candidates.find((c) => this.isIdle(c));
    if (idle !== undefined) return idle;
    return task.allowedOn(task.vcpu) ? task.vcpu : candidates[0]!;
  }

  /** Starts the next task on `v` if it is free (called on the vCPU's own behalf). */
  private kick(v: Vcpu): void {
    if (this.running[v.index] !== null) return;
    const next = this.queues[v.index]!.shift();
    if (next === undefined) return;
    this.running[v.index] = next;
    next.state = 'running';
    next.vcpu = v.index;
    v.pushWork(this.costs.contextSwitch, switchInStage, next);
  }

  /**
   * @internal The context switch to `t` is done: its address space is loaded before it runs
   * again (context_switch -> switch_mm_irqs_off in kernel/sched/core.c, arch/x86/mm/tlb.c), so
   * a task switched back in, or moved to another vCPU, accesses its own memory, not the memory
   * of whichever task ran there last.
   */
  switchIn(t: Task): void {
    const v = this.vm.vcpus[t.vcpu]!;
    t.loadMm?.(v);
    // set_next_entity: prev_sum_exec_runtime = sum_exec_runtime, the slice starts now.
    t.sliceStart = this.guestNs(v);
    this.advance(v, t);
  }

  /**
   * Guest-mode ns `v` has run: the guest's clock_task, which leaves out time the vCPU spent in
   * exits, preempted by the host (steal time) or halted.
   */
  private guestNs(v: Vcpu): number {
    return v.timeIn['in-guest'] + (v.state === 'in-guest' ? this.hv.sim.now - v.since : 0);
  }

  /**
   * The tick's check on the running task (kernel/sched/fair.c: task_tick_fair -> update_curr ->
   * update_deadline; check_preempt_tick before EEVDF): once `t` has used its slice since it was
   * switched in, it is due to be preempted if another task waits on `v`; if none does, it gets
   * a new slice and runs on. Counted in CPU time, not per compute command: a task looping over
   * short computes and operations is preempted like one long compute.
   */
  private sliceOver(v: Vcpu, t: Task): boolean {
    const used = this.guestNs(v) - t.sliceStart;
    if (used < this.sliceNs) return false;
    if (this.queues[v.index]!.length > 0) return true;
    t.sliceStart += Math.floor(used / this.sliceNs) * this.sliceNs;
    return false;
  }

  /** Preempts the running task `t`: to the tail of `v`'s queue, and the next one starts. */
  private preempt(v: Vcpu, t: Task): void {
    t.state = 'runnable';
    this.queues[v.index]!.push(t);
    this.release(v);
  }

  /** @internal The running task's next step, on the vCPU it runs on (a running task's `vcpu`). */
  step(t: Task): void {
    this.advance(this.vm.vcpus[t.vcpu]!, t);
  }

  /**
   * @internal The task's `op` has finished with `value`. Its return is a preemption point (the
   * return to user mode checks need_resched): a task whose slice is over yields here to one
   * waiting, and takes `value` when it next runs.
   */
  resumeOp(t: Task, value: unknown): void {
    t.inOp = false;
    t.resumeWith = value;
    const v = this.vm.vcpus[t.vcpu]!;
    if (this.sliceOver(v, t)) {
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
      this.release(v);
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
        this.release(v);
        return;
      case 'sleep':
        if (!(cmd.ns >= 0 && Number.isFinite(cmd.ns))) throw new InvalidParameterError(`task ${t.name}: sleep`, cmd.ns, 'a non-negative, finite number of ns');
        t.state = 'blocked';
        this.kernel.timer(v, Math.round(cmd.ns), (on) => this.wake(t, on, () => undefined));
        this.release(v);
        return;
      case 'op':
        t.inOp = true;
        cmd.run(v, t.resume);
        return;
      case 'switch-mm':
        t.loadMm = cmd.load;
        cmd.load(v);
        this.advance(v, t);
        return;
    }
  }

  /**
   * Computes up to the end of the task's slice (the tick that ends it), or to the end of the
   * command. The slice is guest time and the chunk work: beside a busy SMT sibling less work
   * fits in what is left of the slice.
   */
  private runChunk(v: Vcpu, t: Task): void {
    const left = Math.max(0, this.sliceNs - (this.guestNs(v) - t.sliceStart));
    t.chunk = Math.min(t.remaining, left * v.workSpeed);
    v.pushWork(t.chunk, chunkStage, t);
  }

  /** @internal A chunk of CPU time has run: rotate if the slice is over and someone waits, else go on. */
  chunkDone(t: Task): void {
    const v = this.vm.vcpus[t.vcpu]!;
    t.remaining -= t.chunk;
    if (this.sliceOver(v, t)) this.preempt(v, t);
    else this.advance(v, t);
    // Balancing last: work it pushes (the reschedule IPI) lands on top and runs next, instead
    // of under the task's next chunk.
    if (this.balance) this.pushBalance(v);
  }

  /** The running task leaves `v` (blocked, done or rotated out); the next one starts. */
  private release(v: Vcpu): void {
    this.running[v.index] = null;
    this.kick(v);
  }

  /**
   * Push balancing at a slice boundary of `v`: move one unpinned waiting task to the vCPU
   * with the shortest queue when (queue difference - 1) x slice exceeds the threshold.
   */
  private pushBalance(v: Vcpu): void {
    const q = this.queues[v.index]!;
    if (q.length === 0) return;
    const mine = this.queueLength(v.index);
    const candidate = q.find((t) => !t.pinned);
    if (candidate === undefined) return;
    let best = -1;
    let bestLen = Infinity;
    for (const w of this.vm.vcpus) {
      if (w.index === v.index || !candidate.allowedOn(w.index)) continue;
      const len = this.queueLength(w.index);
      if (len < bestLen) {
        bestLen = len;
        best = w.index;
      }
    }
    if (best < 0) return;
    const saved = (mine - bestLen - 1) * this.sliceNs;
    if (saved <= this.migrationThresholdNs) return;
    q.splice(q.indexOf(candidate), 1);
    candidate.vcpu = best;
    candidate.migrations++;
    candidate.remaining += this.costs.migrationPenalty;
    this.migrations++;
    const target = this.vm.vcpu(best);
    if (this.isIdle(best)) {
      this.wakeIpis++;
      this.inbound[best]!++;
      this.kernel.wakeOn(v, target, () => {
        this.inbound[best]!--;
        this.queues[best]!.push(candidate);
        this.kick(target);
      });
    } else {
      this.queues[best]!.push(candidate);
    }
  }
}
