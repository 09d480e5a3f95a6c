import { NICE_0_WEIGHT, type SchedEntity } from '@ipilab/hypervisor';
import type { Vcpu } from '@ipilab/vcpu';
import type { Scheduler } from './scheduler';

/** What a task's code yields to the scheduler. */
export type TaskCommand =
  /** Use the CPU for `ns` (preemptible where its slice ends). */
  | { readonly kind: 'compute'; readonly ns: number }
  /** Sleep until someone wakes this task. */
  | { readonly kind: 'block' }
  /** Sleep for `ns`: the vCPU may halt; a timer interrupt wakes the task. */
  | { readonly kind: 'sleep'; readonly ns: number }
  /** Run an operation as this task on its vCPU (a memory operation, a wake-up); it calls `resume` when done. */
  | {
      readonly kind: 'op';
      /** The operation: runs on `vcpu` and calls `resume` (with the value the task's yield returns) when done. */
      readonly run: (vcpu: Vcpu, resume: (value?: unknown) => void) => void;
    }
  /**
   * From now on the task runs in an address space: `load` makes it current on a vCPU (loads
   * CR3), now and every time the task is switched in there again.
   */
  | {
      readonly kind: 'switch-mm';
      /** Loads the space on `vcpu`; returns what it cost (ns), if anything. */
      readonly load: (vcpu: Vcpu) => number | void;
    };

/** A task's code: a generator yielding what it asks of the scheduler. */
export type TaskBody = (task: Task) => Generator<TaskCommand, void, unknown>;

/** Where a task is in its life. */
export type TaskState = 'runnable' | 'running' | 'blocked' | 'done';

/** Use the CPU for `ns`. */
export const compute = (ns: number): TaskCommand => ({ kind: 'compute', ns });
/** Sleep until woken. */
export const block = (): TaskCommand => ({ kind: 'block' });
/** Sleep for `ns` (a timer wakes the task). */
export const sleep = (ns: number): TaskCommand => ({ kind: 'sleep', ns });
/** Run an operation on the task's vCPU; the task resumes when it calls `resume`. */
export const op = (run: (vcpu: Vcpu, resume: (value?: unknown) => void) => void): TaskCommand => ({ kind: 'op', run });
/** Run in an address space from now on (`load` makes it current on each vCPU the task runs on). */
export const switchMm = (load: (vcpu: Vcpu) => number | void): TaskCommand => ({ kind: 'switch-mm', load });

/**
 * A guest task (thread): its code, where it may run, and where it is. It is a scheduling entity
 * of the guest's fair run queues (the host's EEVDF/CFS code, kernel/sched/fair.c).
 */
export class Task implements SchedEntity {
  state: TaskState = 'runnable';
  /** vCPU it runs on, or whose run queue it waits in, or last ran on. */
  vcpu: number;
  /** CPU time still owed to the current compute command. */
  remaining = 0;
  /** Times it was migrated by the balancer. */
  migrations = 0;
  /** Value to hand the generator on its next step. */
  resumeWith: unknown = undefined;
  /**
   * Loads the task's address space on a vCPU (its `mm`; see `switchMm`), or undefined for a task
   * without one, which runs in whatever the vCPU last loaded (a kernel thread's lazy TLB mode).
   */
  loadMm: ((vcpu: Vcpu) => number | void) | undefined = undefined;
  /** Set while the task waits for an `op` to call back. */
  inOp = false;
  /** Woken while running (before it blocked): the next block returns at once. */
  pendingWake = false;
  readonly gen: Generator<TaskCommand, void, unknown>;
  /** @internal CPU time of the chunk under way. */
  chunk = 0;
  /** @internal Fair-scheduling state (`struct sched_entity`), kept by the vCPU run queues. */
  vruntime = 0;
  /** @internal */
  deadline = 0;
  /** @internal */
  vlag = 0;
  /** @internal */
  sumExec = 0;
  /** @internal */
  prevSumExec = 0;
  /** @internal */
  execStart = 0;
  /** @internal */
  queuedSince = 0;
  /** @internal */
  rq: object | null = null;
  /** Load weight (nice 0). */
  readonly weight = NICE_0_WEIGHT;
  /**
   * @internal While a compute chunk of the task is on its vCPU's work stack: the stack level it
   * was pushed at (-1 otherwise), so a preemption at interrupt exit can cut it short.
   */
  chunkLevel = -1;
  /** @internal What an `op` calls when done; made once per task so a step allocates no closure. */
  readonly resume: (value?: unknown) => void;

  constructor(
    readonly id: number,
    readonly name: string,
    body: TaskBody,
    /** vCPU indices it may run on; undefined = any. */
    readonly affinity: readonly number[] | undefined,
    vcpu: number,
    /** @internal The scheduler that runs it. */
    readonly sched: Scheduler,
  ) {
    this.vcpu = vcpu;
    this.resume = (value) => sched.resumeOp(this, value);
    this.gen = body(this);
  }

  /** Pinned: exactly one allowed vCPU. */
  get pinned(): boolean {
    return this.affinity !== undefined && this.affinity.length === 1;
  }

  /** Whether the task may run on vCPU `vcpu` (its affinity). */
  allowedOn(vcpu: number): boolean {
    return this.affinity === undefined || this.affinity.includes(vcpu);
  }
}
