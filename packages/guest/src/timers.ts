import { InvalidParameterError, type EventHandle } from '@ipilab/core';
import type { Hypervisor, Vm } from '@ipilab/hypervisor';
import { VECTORS, type Vcpu } from '@ipilab/vcpu';

/** How the timers claim the local APIC timer's vector: `GuestKernel.onDevice`. */
export type DeviceRegistration = (vector: number, handler: (v: Vcpu) => void) => void;

/**
 * The guest's default tick rate: CONFIG_HZ=250, the default of kernel/Kconfig.hz (Debian's and
 * many cloud images' kernels; RHEL's and Fedora's use 1000: `vms[].hz`).
 */
export const DEFAULT_GUEST_HZ = 250;

const NO_EVENT = -1 as EventHandle;

/** What the tick asks of the guest's scheduler. */
export interface TickClient {
  /** scheduler_tick on `v`, from the tick's handler. */
  tick(v: Vcpu): void;
}

// Stages as plain functions of the vCPU's Timers entry, so pushing work allocates no closure.
interface TickSlot {
  readonly timers: Timers;
  readonly v: Vcpu;
}
const tickWorkStage = (s: unknown): void => (s as TickSlot).timers.tickWorkDone((s as TickSlot).v);
const programStage = (s: unknown): void => (s as TickSlot).timers.programNow((s as TickSlot).v);

/**
 * The guest's local APIC timer in TSC-deadline mode, as Linux drives it under KVM:
 * - **hrtimers** (`timer`): one-shot timers; the clock event is reprogrammed when one is due
 *   before what is programmed (lapic_next_deadline: a WRMSR to MSR_IA32_TSC_DEADLINE);
 * - **the tick** (kernel/time/tick-sched.c): every 1/HZ while the vCPU runs tasks, on a grid
 *   common to all vCPUs (no skew_tick, the default); its handler does the tick's bookkeeping
 *   and scheduler_tick, then reprograms the deadline. NOHZ idle: the tick stops when the vCPU
 *   enters idle — always for a guest without a cpuidle driver (cpuidle_idle_call ->
 *   tick_nohz_idle_stop_tick) and for cpuidle-haltpoll when it halts, never under idle=poll
 *   (do_idle restarts it for cpu_idle_force_poll) or while haltpoll polls (haltpoll_select
 *   clears stop_tick) — and restarts when the vCPU leaves idle to run a task
 *   (tick_nohz_idle_exit). Stopping and restarting each reprogram the deadline;
 * - **KVM's side**: each deadline write is an MSR-write exit (handled in KVM's fastpath,
 *   handle_fastpath_set_msr_irqoff); an expiry while the vCPU is in guest mode is an exit of
 *   its own — the VMX preemption timer's (Intel, handle_fastpath_preemption_timer) or the
 *   host hrtimer's interrupt (AMD, an external-interrupt exit) — and the timer interrupt is
 *   injected on re-entry; an expiry while the vCPU is out of guest mode pends (or wakes a
 *   halted vCPU, as any interrupt does). On bare metal none of this exits.
 */
export class Timers {
  /** Armed one-shot timers per vCPU, in the order they were armed. */
  private readonly armed: { at: number; fn: (on: Vcpu) => void }[][];
  /** The local-timer vector is claimed on first use, so a guest without timers or ticks has no handler. */
  private claimed = false;
  readonly hz: number;
  readonly tickNs: number;
  /** 1 while the vCPU's tick runs. */
  private readonly ticking: Uint8Array;
  /** 1 when a tick is due in the next local-timer handler. */
  private readonly tickDue: Uint8Array;
  /** The pending tick event per vCPU. */
  private readonly tickEvent: EventHandle[];
  private readonly slots: TickSlot[];
  private client: TickClient | null = null;
  private readonly fireTickCb = (v: Vcpu): void => this.fireTick(v);
  private readonly fireCb = (v: Vcpu): void => this.fire(v);
  /** Ticks taken, per vCPU. */
  readonly ticks: Float64Array;
  /** TSC-deadline writes (each an exit under KVM). */
  deadlineWrites = 0;

  constructor(
    private readonly hv: Hypervisor,
    vm: Vm,
    private readonly onDevice: DeviceRegistration,
  ) {
    const n = vm.vcpus.length;
    this.armed = vm.vcpus.map(() => []);
    this.hz = vm.spec.hz ?? DEFAULT_GUEST_HZ;
    if (!(Number.isSafeInteger(this.hz) && this.hz >= 1 && this.hz <= 10_000)) throw new InvalidParameterError(`vms[${vm.index}].hz`, this.hz, 'an integer tick rate in Hz in [1, 10000]');
    this.tickNs = Math.round(1e9 / this.hz);
    this.ticking = new Uint8Array(n);
    this.tickDue = new Uint8Array(n);
    this.tickEvent = new Array<EventHandle>(n).fill(NO_EVENT);
    this.slots = vm.vcpus.map((v) => ({ timers: this, v }));
    this.ticks = new Float64Array(n);
  }

  /**
   * The scheduler the tick drives; the tick runs only for a guest with one. Every vCPU boots
   * with its tick running (the first tick one period in); an idle vCPU stops it when it first
   * enters idle, a busy one — a task, or kernel work such as a benchmark module's loop — keeps it.
   */
  attach(client: TickClient): void {
    this.client = client;
    this.claim();
    for (const s of this.slots) {
      this.ticking[s.v.index] = 1;
      this.tickEvent[s.v.index] = this.hv.sim.schedule(this.tickNs, this.fireTickCb, s.v);
    }
  }

  private claim(): void {
    if (this.claimed) return;
    this.claimed = true;
    this.onDevice(VECTORS.localTimer, (on) => this.expire(on));
  }

  /** See `GuestKernel.timer`. */
  timer(v: Vcpu, ns: number, fn: (on: Vcpu) => void): void {
    this.claim();
    const at = this.hv.sim.now + ns;
    const earlier = at < this.programmed(v);
    this.armed[v.index]!.push({ at, fn });
    this.hv.sim.schedule(ns, this.fireCb, v);
    // hrtimer_start of a timer due before the programmed event: the clock event is reprogrammed.
    if (earlier) this.program(v);
  }

  /** When the clock event of `v` is programmed to fire next (Infinity: not armed). */
  private programmed(v: Vcpu): number {
    return Math.min(this.ticking[v.index] === 1 ? this.nextTickAt() : Infinity, this.programmedOneShot(v));
  }

  /** The next point of the tick grid after now. */
  private nextTickAt(): number {
    const now = this.hv.sim.now;
    return (Math.floor(now / this.tickNs) + 1) * this.tickNs;
  }

  /**
   * A WRMSR to MSR_IA32_TSC_DEADLINE by guest code on `v`: an MSR-write exit under KVM (none on
   * bare metal). Only from guest mode; elsewhere (the VM not started yet) it is free.
   */
  private program(v: Vcpu): void {
    this.deadlineWrites++;
    const hv = this.hv;
    if (hv.bareMetal !== null || v.state !== 'in-guest') return;
    hv.exit(v, 'msr-write', hv.costs.tscDeadlineWrite, null, null);
  }

  /** @internal A deadline write pushed as guest work (see `restartTick`). */
  programNow(v: Vcpu): void {
    this.program(v);
  }

  /** The clock event of `v` fires: the local-timer interrupt reaches the vCPU. */
  private fire(v: Vcpu): void {
    const hv = this.hv;
    if (hv.bareMetal !== null || v.state !== 'in-guest') {
      // Out of guest mode the expiry pends (KVM injects it on entry) or wakes a halted vCPU.
      hv.deliver(null, v, VECTORS.localTimer, hv.newIpiId());
      return;
    }
    const pt = hv.config.lapicTimer === 'preemption-timer';
    hv.exit(
      v,
      pt ? 'preemption-timer' : 'external-interrupt',
      pt ? hv.costs.preemptionTimerExit : hv.costs.externalInterruptExit,
      (reenter) => {
        v.apic.request(VECTORS.localTimer);
        reenter();
      },
      null,
    );
  }

  // ---- the tick ------------------------------------------------------------------------------

  /** 1 while `v`'s tick runs. */
  tickRunning(v: Vcpu): boolean {
    return this.ticking[v.index] === 1;
  }

  /**
   * The vCPU leaves idle to run a task (tick_nohz_idle_exit): the tick restarts on the grid and
   * the deadline is reprogrammed — pushed as guest work so the write runs as guest code.
   */
  restartTick(v: Vcpu): void {
    if (this.client === null || this.ticking[v.index] === 1) return;
    this.claim();
    this.ticking[v.index] = 1;
    this.tickEvent[v.index] = this.hv.sim.schedule(this.nextTickAt() - this.hv.sim.now, this.fireTickCb, v);
    if (this.nextTickAt() < this.programmedOneShot(v)) v.pushWork(0, programStage, this.slots[v.index]);
  }

  /**
   * The vCPU enters idle and its idle path stops the tick (tick_nohz_idle_stop_tick): the clock
   * event is reprogrammed to the next one-shot timer, or stopped. Returns true when that raised
   * an exit (the idle loop runs again on re-entry), false when the vCPU may idle at once.
   */
  stopTick(v: Vcpu): boolean {
    const i = v.index;
    if (this.ticking[i] === 0) return false;
    this.ticking[i] = 0;
    this.tickDue[i] = 0;
    if (this.tickEvent[i] !== NO_EVENT) {
      this.hv.sim.tryCancel(this.tickEvent[i]!);
      this.tickEvent[i] = NO_EVENT;
    }
    const before = v.state;
    this.program(v);
    return before === 'in-guest' && v.state !== 'in-guest';
  }

  private programmedOneShot(v: Vcpu): number {
    let at = Infinity;
    const a = this.armed[v.index]!;
    for (let i = 0; i < a.length; i++) if (a[i]!.at < at) at = a[i]!.at;
    return at;
  }

  private fireTick(v: Vcpu): void {
    const i = v.index;
    this.tickEvent[i] = this.hv.sim.schedule(this.tickNs, this.fireTickCb, v);
    // A tick missed while the vCPU was out of guest mode merges with the pending one.
    if (this.tickDue[i] === 1) return;
    this.tickDue[i] = 1;
    this.fire(v);
  }

  /** The local-timer interrupt on `on`, after its EOI: runs the timers due there, in arming order, and the tick if due. */
  private expire(on: Vcpu): void {
    const due = this.armed[on.index]!;
    const now = this.hv.sim.now;
    if (due.length > 0) {
      const ready = due.filter((x) => x.at <= now);
      if (ready.length > 0) {
        this.armed[on.index] = due.filter((x) => x.at > now);
        for (const x of ready) x.fn(on);
      }
    }
    if (this.tickDue[on.index] === 1) {
      this.tickDue[on.index] = 0;
      on.pushWork(this.hv.costs.tickHandler, tickWorkStage, this.slots[on.index]);
    }
  }

  /** @internal The tick's work is done on `v`: scheduler_tick, then the next deadline is programmed. */
  tickWorkDone(v: Vcpu): void {
    this.ticks[v.index]!++;
    if (this.ticking[v.index] === 0) return;
    this.program(v);
    this.client?.tick(v);
  }
}
