import type { EventHandle } from '@ipilab/core';
import type { Hypervisor } from '@ipilab/hypervisor';
import type { SpinTicket, Vcpu } from '@ipilab/vcpu';

/** How an idle guest vCPU waits for work (`vms[].idle`). */
export type GuestIdleMode = 'halt' | 'poll' | 'haltpoll';
/** Every guest idle mode (`vms[].idle`). */
export const GUEST_IDLE_MODES: readonly GuestIdleMode[] = ['halt', 'poll', 'haltpoll'];

/**
 * cpuidle-haltpoll's tunables (drivers/cpuidle/governors/haltpoll.c module parameters):
 * guest_halt_poll_ns 200000, guest_halt_poll_grow 2, guest_halt_poll_grow_start 50000,
 * guest_halt_poll_shrink 2, guest_halt_poll_allow_shrink true.
 */
export const GUEST_HALT_POLL = { maxNs: 200_000, grow: 2, growStartNs: 50_000, shrink: 2 } as const;

const BUSY = 0;
const POLLING = 1;
/** The poll window ran out; the vCPU executes HLT once its idle loop comes round. */
const EXPIRED = 2;
const HALTING = 3;

const NO_EVENT = -1 as EventHandle;

/** What the idle loop needs of the tick (timers.ts) and of the wake list (wakeups.ts). */
export interface IdleHooks {
  /** Stops the tick on entering idle; true if that raised an exit (the idle loop runs again after it). */
  stopTick(v: Vcpu): boolean;
  /** The idle loop left polling because need_resched was set without an IPI: run the wake list. */
  pollWoken(v: Vcpu): void;
}

/**
 * The guest's idle loop when it does not simply halt (the default, `halt`, is HLT: the
 * hypervisor's halting path):
 * - `poll` (the idle=poll boot option, poll_idle): the vCPU spins in guest mode (a PAUSE loop)
 *   until an interrupt comes; it never executes HLT, so it never exits or blocks, its thread
 *   stays runnable for the host scheduler, and IPIs find it running.
 * - `haltpoll` (cpuidle-haltpoll, drivers/cpuidle/cpuidle-haltpoll.c with the haltpoll governor):
 *   the vCPU polls in guest mode for its window, then executes HLT. The window adapts per vCPU
 *   as adjust_poll_limit does, from how long the vCPU stayed idle (woken within the window's
 *   range grows it, from 50 us, x2, up to 200 us; idle longer than 200 us halves it). The guest
 *   also turns KVM's own halt polling off (MSR_KVM_POLL_CONTROL, arch/x86/kernel/kvm.c
 *   kvm_disable_host_haltpoll), so its HLT blocks at once.
 */
export class GuestIdle {
  private readonly state: Uint8Array;
  private readonly since: Float64Array;
  private readonly limitNs: Float64Array;
  private readonly tickets: (SpinTicket | undefined)[];
  private readonly timers: EventHandle[];
  /** 1 when the poll loop was ended by need_resched (no interrupt): the wake list runs after it. */
  private readonly flagged: Uint8Array;
  private readonly onExpire = (v: Vcpu): void => this.expire(v);
  private readonly afterSpin = (v: unknown): void => this.spinEnded(v as Vcpu);
  private hooks: IdleHooks | null = null;

  constructor(
    private readonly hv: Hypervisor,
    vcpus: readonly Vcpu[],
    readonly mode: GuestIdleMode,
  ) {
    const n = vcpus.length;
    this.state = new Uint8Array(n);
    this.since = new Float64Array(n);
    this.limitNs = new Float64Array(n);
    this.tickets = new Array<SpinTicket | undefined>(n).fill(undefined);
    this.timers = new Array<EventHandle>(n).fill(NO_EVENT);
    this.flagged = new Uint8Array(n);
    for (const v of vcpus) {
      v.onIdle = (x) => this.idle(x);
      if (mode === 'haltpoll') v.hostHaltPoll = false;
    }
  }

  /** Connects the tick and the wake list (the guest kernel does, once both exist). */
  attach(hooks: IdleHooks): void {
    this.hooks = hooks;
  }

  /** The vCPU's stack is empty in guest mode: its idle loop runs. */
  private idle(v: Vcpu): void {
    const i = v.index;
    if (this.mode === 'halt') {
      // No cpuidle driver: the tick stops, then HLT (cpuidle_idle_call -> default_idle_call).
      if (this.hooks?.stopTick(v) === true) return;
      this.hv.halt(v);
      return;
    }
    if (this.state[i] === EXPIRED || this.state[i] === HALTING) {
      // haltpoll chose the halt state: stop_tick stays set, the tick stops before HLT.
      this.state[i] = HALTING;
      if (this.hooks?.stopTick(v) === true) return;
      this.hv.halt(v);
      return;
    }
    this.state[i] = POLLING;
    this.since[i] = this.hv.sim.now;
    if (this.mode === 'haltpoll') {
      if (this.limitNs[i] === 0) {
        this.state[i] = HALTING;
        if (this.hooks?.stopTick(v) === true) return;
        this.hv.halt(v);
        return;
      }
      this.timers[i] = this.hv.sim.schedule(this.limitNs[i]!, this.onExpire, v);
    }
    this.tickets[i] = v.pushSpin(this.afterSpin, v);
  }

  /** The vCPU idles in a polling loop with TIF_POLLING_NRFLAG set: a waker may skip the IPI. */
  polling(v: Vcpu): boolean {
    return this.state[v.index] === POLLING;
  }

  /**
   * need_resched was set on the polling `v` by a waker that sent no IPI: the loop sees it,
   * leaves, and the wake list runs (do_idle -> flush_smp_call_function_queue).
   */
  pollWake(v: Vcpu): void {
    const i = v.index;
    if (this.state[i] !== POLLING) {
      // Already out of the loop (an interrupt came first): its handler or the next idle entry runs the list.
      if (v.state === 'in-guest' || v.state === 'exited' || v.state === 'preempted') this.hooks?.pollWoken(v);
      return;
    }
    this.flagged[i] = 1;
    this.leave(v);
  }

  private spinEnded(v: Vcpu): void {
    if (this.flagged[v.index] === 0) return;
    this.flagged[v.index] = 0;
    this.hooks?.pollWoken(v);
  }

  private expire(v: Vcpu): void {
    const i = v.index;
    this.timers[i] = NO_EVENT;
    if (this.state[i] !== POLLING) return;
    this.state[i] = EXPIRED;
    this.endSpin(i);
  }

  /** The guest takes an interrupt on `v`: an idle vCPU leaves its idle loop (and learns from how long it idled). */
  interrupted(v: Vcpu): void {
    this.leave(v);
  }

  private leave(v: Vcpu): void {
    const i = v.index;
    const s = this.state[i];
    if (s === BUSY) return;
    this.state[i] = BUSY;
    if (s === POLLING) {
      if (this.timers[i] !== NO_EVENT) {
        this.hv.sim.tryCancel(this.timers[i]!);
        this.timers[i] = NO_EVENT;
      }
      this.endSpin(i);
    }
    if (this.mode === 'haltpoll') this.adjust(i, this.hv.sim.now - this.since[i]!);
  }

  /** adjust_poll_limit (drivers/cpuidle/governors/haltpoll.c). */
  private adjust(i: number, idleNs: number): void {
    const g = GUEST_HALT_POLL;
    const limit = this.limitNs[i]!;
    if (idleNs > limit && idleNs <= g.maxNs) {
      this.limitNs[i] = Math.min(g.maxNs, Math.max(g.growStartNs, limit * g.grow));
    } else if (idleNs > g.maxNs) {
      this.limitNs[i] = Math.floor(limit / g.shrink);
    }
  }

  /** The vCPU's current haltpoll window (ns). */
  windowNs(v: Vcpu): number {
    return this.limitNs[v.index]!;
  }

  private endSpin(i: number): void {
    const t = this.tickets[i];
    this.tickets[i] = undefined;
    t?.release();
  }
}
