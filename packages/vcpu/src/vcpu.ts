import { KernelError, type EventHandle, type Simulation } from '@ipilab/core';
import type { EventSink, VcpuRef } from '@ipilab/events';
import { VirtualApic } from './virtual-apic';

/**
 * Where a vCPU is:
 * - `in-guest`: running guest code on its pCPU;
 * - `exited`: on its pCPU, in the hypervisor handling an exit;
 * - `halted`: the guest executed HLT; it may still poll on its pCPU (`polling`) or be blocked off it;
 * - `preempted`: runnable, but its pCPU runs something else; it cannot take interrupts until it runs;
 * - `offline`: not started or unplugged.
 */
export type VcpuState = 'in-guest' | 'exited' | 'halted' | 'preempted' | 'offline';

/** Called when a piece of guest work finishes, with the argument it was pushed with. */
export type WorkDone = (arg: unknown) => void;

const NO_EVENT = -1 as EventHandle;

/** A stack level's numbers in `Vcpu.levels`: how many, and where each is. */
const LEVEL = 3;
const REMAINING = 0;
const SPIN_ID = 1;
const USER_MODE = 2;

/**
 * A virtual CPU: its state, its virtual APIC, and the guest work it is executing. Guest work is
 * a stack: an interrupt handler pushes on top of what it interrupts, and work only progresses
 * while the vCPU is in guest mode — an exit, a preemption or a handler stretches it, which is
 * how one VM's exits and interrupts turn into another activity's lost time.
 *
 * The hypervisor moves a vCPU between states; the guest pushes work. The stack lives in flat
 * arrays so running work allocates nothing.
 */
export class Vcpu {
  state: VcpuState = 'offline';
  /** True while halted and still polling on its pCPU (KVM halt polling). */
  polling = false;
  /**
   * Bumped on every guest entry and exit. The hypervisor stamps its scheduled continuations
   * (injection, poll wake-up, dispatch) with it and drops one whose stamp is stale.
   */
  entryToken = 0;
  /** KVM's per-vCPU adaptive halt-polling window (ns), and when the current halt began. */
  haltPollNs = 0;
  /** KVM may halt-poll this vCPU (MSR_KVM_POLL_CONTROL bit 0; a guest using cpuidle-haltpoll clears it). */
  hostHaltPoll = true;
  haltedAt = 0;
  /** pCPU it runs on or last ran on. */
  pcpu: number;
  /** Index of its host thread in the hypervisor (set when the hypervisor adopts it). */
  hostId = -1;
  readonly apic = new VirtualApic();
  readonly ref: VcpuRef;
  /**
   * Hypervisor hook: what the vCPU does on its hardware thread changed between real work (guest
   * code, host exit handling) and a PAUSE loop (a guest spin, KVM halt polling): `pausing` flipped.
   */
  onActivity: ((vcpu: Vcpu) => void) | null = null;
  /** `pausing` as last reported to `onActivity`. */
  private reportedPausing = false;
  /** Guest-kernel hook, called when the work stack empties in guest mode (typically: HLT). */
  onIdle: (vcpu: Vcpu) => void = () => undefined;
  /** Time of the last state change, and accumulated ns per state (for ledgers). */
  since: number;
  readonly timeIn: Record<VcpuState, number> = { 'in-guest': 0, exited: 0, halted: 0, preempted: 0, offline: 0 };

  /**
   * The stack's numbers, a level's three side by side (one cache line covers a level and more):
   * work left (`REMAINING`, work units; Infinity for an unreleased spin), the id of the spin pushed
   * there (`SPIN_ID`, 0 for plain work, so a stale ticket cannot end a later spin), and 1 for work
   * the guest runs in user mode (`USER_MODE`, CPL 3: a task's computation; 0 for kernel code).
   */
  private levels = new Float64Array(LEVEL * 8);
  private nextSpinId = 1;
  /** Per level, side by side: what runs when its work completes, and its argument. */
  private conts: unknown[] = new Array<unknown>(2 * 8).fill(undefined);
  private depth = 0;
  private progressSince = 0;
  /** Guest work done per ns while in guest mode: 1 alone on a core, less beside a busy SMT sibling. */
  private speed = 1;
  private completion: EventHandle = NO_EVENT;
  private readonly completeTop = (): void => this.onTopComplete();

  constructor(
    private readonly sim: Simulation,
    private readonly sink: EventSink,
    readonly vm: number,
    readonly index: number,
    readonly apicId: number,
    pcpu: number,
  ) {
    this.ref = { vm, vcpu: index };
    this.pcpu = pcpu;
    this.since = sim.now;
  }

  /** Guest work items on the stack (0 = idle). */
  get workDepth(): number {
    return this.depth;
  }

  /** Pushes guest work of `ns` on top of the stack; `done(arg)` runs when it completes. */
  pushWork(ns: number, done: WorkDone, arg?: unknown): void {
    this.push(ns, done, arg, 0, 0);
  }

  /**
   * Pushes guest work the vCPU runs in user mode (CPL 3: a task's own computation, not a system
   * call or an interrupt handler). The hypervisor reads the privilege level when it preempts the
   * vCPU (`inKernel`), as KVM does for directed yield.
   */
  pushUserWork(ns: number, done: WorkDone, arg?: unknown): void {
    this.push(ns, done, arg, 0, 1);
  }

  /**
   * Whether the guest is in kernel mode (CPL 0): no work (the idle loop, HLT), or kernel work on
   * top of the stack (an interrupt handler above a user computation is kernel mode).
   */
  get inKernel(): boolean {
    return this.depth === 0 || this.levels[LEVEL * (this.depth - 1) + USER_MODE] === 0;
  }

  private push(ns: number, done: WorkDone, arg: unknown, spinId: number, user: number): void {
    if (!(ns >= 0)) throw new KernelError(`vCPU ${this.vm}.${this.index}: work of ${ns} ns`);
    if (this.state === 'halted') {
      // A halted vCPU runs nothing until an interrupt wakes it: work handed to it silently would never run.
      throw new KernelError(`vCPU ${this.vm}.${this.index}: work pushed while it is halted; wake it with an interrupt (e.g. GuestKernel.wakeOn)`);
    }
    this.suspend();
    if (LEVEL * this.depth === this.levels.length) this.growStack();
    const l = LEVEL * this.depth;
    this.levels[l + REMAINING] = ns;
    this.levels[l + SPIN_ID] = spinId;
    this.levels[l + USER_MODE] = user;
    this.conts[2 * this.depth] = done;
    this.conts[2 * this.depth + 1] = arg;
    this.depth++;
    this.resume();
    // Plain work on top cannot be a PAUSE loop (and the vCPU is not halted): only a flip from pausing matters.
    if (this.onActivity !== null && (spinId !== 0 || this.reportedPausing)) this.reportActivity();
  }

  /**
   * Pushes a spin (guest busy-waiting, e.g. csd_lock_wait) that lasts until `release()` is
   * called on the returned ticket; a released spin ends as soon as it is on top and running.
   * A finite `budgetNs` bounds it (a loop of so many iterations, as the paravirtual qspinlock's
   * SPIN_THRESHOLD): it also ends once it has run that long in guest mode, frozen like any work
   * while the vCPU is out of guest mode or under an interrupt handler. `done` cannot tell the two
   * endings apart: its owner keeps the state that does.
   */
  pushSpin(done: WorkDone, arg?: unknown, budgetNs = Infinity): SpinTicket {
    const id = this.nextSpinId++;
    this.push(budgetNs, done, arg, id, 0);
    return new SpinTicket(this, this.depth - 1, id);
  }

  /** @internal */
  releaseSpin(level: number, id: number): void {
    if (level >= this.depth || this.levels[LEVEL * level + SPIN_ID] !== id || this.levels[LEVEL * level + REMAINING] === 0) return;
    this.truncateWork(level);
    if (this.onActivity !== null) this.reportActivity();
  }

  /**
   * Ends the work item at stack `level` early (a preemption at interrupt exit cutting short the
   * compute it interrupted): it completes as soon as it is on top and running. Returns the work it
   * had left (work units, as pushed). The caller must know that `level` still holds its item.
   */
  truncateWork(level: number): number {
    if (level >= this.depth) return 0;
    const top = level === this.depth - 1;
    if (top) this.suspend();
    const left = this.levels[LEVEL * level + REMAINING]!;
    this.levels[LEVEL * level + REMAINING] = 0;
    if (top) this.resume();
    return left === Infinity ? 0 : left;
  }

  /**
   * The hardware thread runs a PAUSE loop: a guest spin on top of the stack, or KVM halt
   * polling (a halted vCPU that still holds its pCPU polls until it notices a wake-up or blocks).
   */
  get pausing(): boolean {
    if (this.state === 'halted') return true;
    if (this.state !== 'in-guest' || this.depth === 0) return false;
    const top = this.depth - 1;
    // A spin not yet released (a released one has 0 left and ends at once).
    return this.levels[LEVEL * top + SPIN_ID] !== 0 && this.levels[LEVEL * top + REMAINING] !== 0;
  }

  /** Work per ns now (1 = the speed its costs were calibrated at). */
  get workSpeed(): number {
    return this.speed;
  }

  /**
   * Hypervisor: the speed at which guest work progresses from now on (SMT contention: a busy
   * sibling thread takes part of the core). Work done so far is kept.
   */
  setSpeed(speed: number): void {
    if (speed === this.speed) return;
    if (!(speed > 0 && speed <= 1)) throw new KernelError(`vCPU ${this.vm}.${this.index}: work speed ${speed}, expected (0, 1]`);
    this.suspend();
    this.speed = speed;
    this.resume();
  }

  /** Hypervisor: the vCPU (re)enters guest mode on `pcpu`; pending work resumes. */
  enterGuest(pcpu: number): void {
    this.pcpu = pcpu;
    this.polling = false;
    this.apic.sn = false;
    this.entryToken++;
    this.setState('in-guest');
    if (this.depth > 0) this.resume();
    else this.onIdle(this);
  }

  /** Hypervisor: the vCPU leaves guest mode (exit, halt, preemption); work freezes. */
  leaveGuest(to: Exclude<VcpuState, 'in-guest'>): void {
    this.suspend();
    this.entryToken++;
    if (to !== 'exited') this.apic.sn = true;
    this.setState(to);
  }

  /** Hypervisor: a state change that does not touch guest work (halted -> preempted, ...). */
  setState(to: VcpuState): void {
    const from = this.state;
    if (from === to) return;
    const now = this.sim.now;
    this.timeIn[from] += now - this.since;
    this.since = now;
    this.state = to;
    if (this.onActivity !== null) this.reportActivity();
    if (this.sink.wants['vcpu-state']) this.sink.emit({ type: 'vcpu-state', t: now, vcpu: this.ref, from, to, pcpu: this.pcpu });
  }

  private reportActivity(): void {
    const p = this.pausing;
    if (p === this.reportedPausing) return;
    this.reportedPausing = p;
    this.onActivity!(this);
  }

  private resume(): void {
    if (this.state !== 'in-guest' || this.depth === 0 || this.completion !== NO_EVENT) return;
    const r = this.levels[LEVEL * (this.depth - 1) + REMAINING]!;
    if (r === Infinity) return; // an unreleased spin: nothing to schedule
    this.progressSince = this.sim.now;
    this.completion = this.sim.schedule(Math.ceil(this.speed === 1 ? r : r / this.speed), this.completeTop);
  }

  private suspend(): void {
    if (this.completion === NO_EVENT) return;
    this.sim.cancel(this.completion);
    this.completion = NO_EVENT;
    const top = this.depth - 1;
    const done = this.sim.now - this.progressSince;
    const l = LEVEL * top + REMAINING;
    this.levels[l] = Math.max(0, this.levels[l]! - (this.speed === 1 ? done : done * this.speed));
  }

  private onTopComplete(): void {
    this.completion = NO_EVENT;
    const top = --this.depth;
    const done = this.conts[2 * top] as WorkDone;
    const arg = this.conts[2 * top + 1];
    this.conts[2 * top] = undefined;
    this.conts[2 * top + 1] = undefined;
    done(arg);
    if (this.onActivity !== null) this.reportActivity();
    if (this.state !== 'in-guest' || this.completion !== NO_EVENT) return;
    if (this.depth > 0) this.resume();
    else this.onIdle(this);
  }

  private growStack(): void {
    const levels = new Float64Array(2 * this.levels.length);
    levels.set(this.levels);
    this.levels = levels;
    this.conts.length = 2 * this.conts.length;
  }
}

/** Ends the spin it was issued for (and nothing else: releasing twice, or late, is harmless). */
export class SpinTicket {
  constructor(
    private readonly vcpu: Vcpu,
    private readonly level: number,
    private readonly id: number,
  ) {}
  /** End the spin now. */
  release(): void {
    this.vcpu.releaseSpin(this.level, this.id);
  }
}
