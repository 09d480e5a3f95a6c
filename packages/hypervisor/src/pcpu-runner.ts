import type { EventHandle } from '@ipilab/core';
import type { Vcpu } from '@ipilab/vcpu';
import type { Hypervisor } from './hypervisor';
import type { EnqueueReason, HostRunqueue, HostThread } from './sched/host-scheduler';

const NO_EVENT = -1 as EventHandle;
/** Entry tokens are compared modulo this (a switch-in completes within far fewer entries). */
const TOKEN_SPAN = 2 ** 32;

/**
 * sysctl_sched_migration_cost, 0.5 ms (kernel/sched/fair.c): a pCPU that has been idle for less
 * than this on average does not look for work when it goes idle (newidle balance), and the
 * initial avg_idle is twice it (kernel/sched/core.c sched_init).
 */
export const MIGRATION_COST_NS = 500_000;

/**
 * One pCPU: which vCPU thread it runs, the switch to the next one, and the host scheduler's
 * periodic check. The order of waiting threads, wake-up preemption and slices belong to the
 * policy's run queue (`rq`); this class only carries its decisions out.
 */
export class PcpuRunner {
  current: Vcpu | null = null;
  preemptRequested = false;
  /** When the pCPU last went idle, and the kernel's running average of idle periods (avg_idle). */
  idleSince = 0;
  avgIdleNs = 2 * MIGRATION_COST_NS;
  /** Next periodic balance per domain level (SMT, LLC, NUMA), for the balancer. */
  readonly nextBalance = [0, 0, 0];
  private tickEvent: EventHandle = NO_EVENT;
  /** VM whose thread holds the pCPU (-1: idle) and since when, for occupancy. */
  private occVm = -1;
  private occSince = 0;
  /** ns held per VM, at vm + 1 (index 0: idle), since the start or the last reset. */
  private occNs = new Float64Array(2);
  private readonly onTick = (): void => this.tick();
  private readonly onSwitchedIn = (packed: number): void => this.switchedIn(packed);
  /** A reschedule IPI is on its way here (`reschedule`). */
  private reschedPending = false;
  private readonly onResched = (): void => this.resched();

  constructor(
    private readonly hv: Hypervisor,
    readonly pcpu: number,
    readonly rq: HostRunqueue,
  ) {}

  get queueLength(): number {
    return this.rq.nrQueued;
  }

  /** Nothing runs or waits here. */
  get idle(): boolean {
    return this.current === null && this.rq.nrQueued === 0;
  }

  /**
   * `t` becomes runnable here (`why`): it runs after `latency` if the pCPU is free, else it
   * waits, and the policy decides whether it preempts the running thread.
   */
  wake(t: HostThread, latency: number, why: EnqueueReason): void {
    const v = t.vcpu;
    const now = this.hv.sim.now;
    v.pcpu = this.pcpu;
    this.rq.enqueue(t, now, why);
    this.hv.noteQueued(t, true);
    if (this.current === null) {
      this.dispatch(this.pickNext(now)!, latency);
      return;
    }
    v.setState('preempted');
    const c = this.current;
    if (c.polling && this.hv.policy.pollersYield) {
      // The poll loop leaves once another task is runnable here and the vCPU blocks.
      this.hv.stopPolling(c);
      this.release(c);
      return;
    }
    if (this.rq.wakeupPreempt(t, now)) this.requestPreempt();
    this.armTick();
  }

  /** Prefers `t` (waiting here) to run next and preempts for it if the policy says so (interrupt boost). */
  boost(t: HostThread): void {
    if (this.rq.boost(t, this.hv.sim.now)) this.requestPreempt();
  }

  /** The running thread yields the rest of its turn (a directed yield's yield_task_fair), then schedule(). */
  yieldCurrent(): void {
    if (this.current === null) return;
    this.rq.yieldCurr?.(this.hv.sim.now);
    if (this.rq.nrQueued > 0) this.requestPreempt();
  }

  /**
   * Another pCPU's run queue asked this one to re-pick (resched_curr from a remote CPU): the
   * reschedule IPI arrives after `latency`; if a thread then waits here, the policy chooses
   * again as for a preemption. One reschedule in flight at a time, as TIF_NEED_RESCHED is one flag.
   */
  reschedule(latency: number): void {
    if (this.reschedPending) return;
    this.reschedPending = true;
    this.hv.sim.schedule(latency, this.onResched);
  }

  private resched(): void {
    this.reschedPending = false;
    if (this.current !== null && this.rq.nrQueued > 0) this.requestPreempt();
  }

  /** `v` leaves the pCPU (halted and blocked); the next waiting thread is switched in. */
  release(v: Vcpu): void {
    if (this.current !== v) return;
    const now = this.hv.sim.now;
    this.rq.putPrev(now, false);
    this.current = null;
    this.disarmTick();
    const next = this.pickNext(now);
    if (next !== null) {
      this.dispatch(next, this.hv.costs.vcpuSwitch);
      return;
    }
    this.occupy(-1);
    this.idleSince = now;
    this.hv.balancer?.newIdle(this);
  }

  /**
   * Bare metal: `v` is this CPU for the whole run. It holds the pCPU from now on, halted or not:
   * no run queue, no tick, no switch (bare-metal.ts).
   */
  own(v: Vcpu): void {
    this.current = v;
    v.pcpu = this.pcpu;
    this.occupy(v.vm);
  }

  /** Removes a waiting thread for the balancer. */
  detach(t: HostThread): void {
    this.rq.remove(t, this.hv.sim.now);
    this.hv.noteQueued(t, false);
  }

  /**
   * Preempts the running vCPU now (it is in guest mode, polling, or just re-entering) if the
   * policy gives the pCPU to another; returns whether it was switched out.
   */
  preemptNow(): boolean {
    this.preemptRequested = false;
    const c = this.current;
    if (c === null || this.rq.nrQueued === 0) return false;
    const now = this.hv.sim.now;
    const ct = this.hv.threadOf(c);
    this.rq.putPrev(now, true);
    const next = this.rq.pick(now)!;
    if (next === ct) {
      // The policy keeps it: no switch.
      this.hv.noteQueued(ct, false);
      this.armTick();
      return false;
    }
    this.hv.noteQueued(ct, true);
    this.hv.noteQueued(next, false);
    // kvm_sched_out of a runnable vCPU: preempted, a directed-yield candidate; kvm_arch_vcpu_put
    // notes the guest's privilege level at that moment.
    ct.ready = true;
    ct.preempted = true;
    ct.preemptedInKernel = c.inKernel;
    if (c.state === 'in-guest') c.leaveGuest('preempted');
    else {
      // A polling vCPU gives up the pCPU: it is runnable again (it will find no work and halt).
      if (c.polling) this.hv.stopPolling(c);
      c.setState('preempted');
    }
    this.current = null;
    this.disarmTick();
    this.dispatch(next, this.hv.costs.vcpuSwitch);
    return true;
  }

  private pickNext(now: number): HostThread | null {
    const t = this.rq.pick(now);
    if (t !== null) this.hv.noteQueued(t, false);
    return t;
  }

  private requestPreempt(): void {
    const c = this.current;
    if (c === null) return;
    if (c.state === 'in-guest') this.preemptNow();
    else if (c.state === 'halted' && c.polling) this.preemptNow();
    else this.preemptRequested = true; // exited: preempt when it tries to re-enter
  }

  private dispatch(t: HostThread, latency: number): void {
    const v = t.vcpu;
    const now = this.hv.sim.now;
    if (this.occVm === -1 && now > this.idleSince) {
      // update_avg of the idle period that ends (kernel/sched/core.c ttwu_do_activate), capped at 2x the cost.
      this.avgIdleNs += (now - this.idleSince - this.avgIdleNs) / 8;
      if (this.avgIdleNs > 2 * MIGRATION_COST_NS) this.avgIdleNs = 2 * MIGRATION_COST_NS;
    }
    this.current = v;
    this.occupy(v.vm);
    v.pcpu = this.pcpu;
    if (this.hv.smt !== null) v.setSpeed(this.hv.smt.speedOn(this.pcpu));
    t.lastPcpu = this.pcpu;
    // The switch-in completes after `latency` unless the vCPU was switched out (or entered) meanwhile:
    // the event carries its thread and entry token, packed in one number (no closure per switch).
    this.hv.sim.schedule(latency, this.onSwitchedIn, v.hostId * TOKEN_SPAN + (v.entryToken % TOKEN_SPAN));
  }

  private switchedIn(packed: number): void {
    const v = this.current;
    if (v === null || v.hostId !== Math.floor(packed / TOKEN_SPAN) || v.entryToken % TOKEN_SPAN !== packed % TOKEN_SPAN || v.state === 'in-guest') return;
    const t = this.hv.threadOf(v);
    t.ready = false; // kvm_sched_in
    t.preempted = false;
    this.hv.ple?.schedIn(v);
    this.hv.reenter(v);
    this.armTick();
  }

  private occupy(vm: number): void {
    const now = this.hv.sim.now;
    this.occNs[this.occVm + 1]! += now - this.occSince;
    if (vm + 1 >= this.occNs.length) this.growOccupancy(vm + 2);
    this.occVm = vm;
    this.occSince = now;
    if (this.hv.smt !== null) this.hv.smt.refresh(this.pcpu);
  }

  /** Ends the occupancy interval now (end of a run or of the warm-up) without changing who runs. */
  flushOccupancy(): void {
    this.occupy(this.occVm);
  }

  /** ns VM `vm` held this pCPU (vm -1: ns it was idle), up to the last flush. */
  occupiedNs(vm: number): number {
    return vm + 1 < this.occNs.length ? this.occNs[vm + 1]! : 0;
  }

  /** Starts counting occupancy afresh (after a flush). */
  clearOccupancy(): void {
    this.occNs.fill(0);
  }

  private growOccupancy(n: number): void {
    const a = new Float64Array(Math.max(n, 2 * this.occNs.length));
    a.set(this.occNs);
    this.occNs = a;
  }

  private armTick(): void {
    if (this.tickEvent !== NO_EVENT || this.rq.nrQueued === 0 || this.current === null) return;
    this.tickEvent = this.hv.sim.schedule(this.rq.nextTick(this.hv.sim.now), this.onTick);
  }

  private tick(): void {
    this.tickEvent = NO_EVENT;
    if (this.rq.tick(this.hv.sim.now)) this.requestPreempt();
    this.armTick();
  }

  private disarmTick(): void {
    if (this.tickEvent !== NO_EVENT) this.hv.sim.tryCancel(this.tickEvent);
    this.tickEvent = NO_EVENT;
  }
}
