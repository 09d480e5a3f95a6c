import type { EventHandle } from '@ipilab/core';
import type { Hypervisor } from '@ipilab/hypervisor';
import type { SpinTicket, Vcpu } from '@ipilab/vcpu';

/** How an idle guest vCPU waits for work (`vms[].idle`). */
export type GuestIdleMode = 'halt' | 'poll' | 'haltpoll';
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
  private readonly onExpire = (v: Vcpu): void => this.expire(v);
  private readonly afterSpin = (): void => undefined;

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
    if (mode === 'halt') return;
    for (const v of vcpus) {
      v.onIdle = (x) => this.idle(x);
      if (mode === 'haltpoll') v.hostHaltPoll = false;
    }
  }

  /** The vCPU's stack is empty in guest mode: its idle loop runs. */
  private idle(v: Vcpu): void {
    const i = v.index;
    if (this.state[i] === EXPIRED) {
      this.state[i] = HALTING;
      this.hv.halt(v);
      return;
    }
    this.state[i] = POLLING;
    this.since[i] = this.hv.sim.now;
    if (this.mode === 'haltpoll') {
      if (this.limitNs[i] === 0) {
        this.state[i] = HALTING;
        this.hv.halt(v);
        return;
      }
      this.timers[i] = this.hv.sim.schedule(this.limitNs[i]!, this.onExpire, v);
    }
    this.tickets[i] = v.pushSpin(this.afterSpin);
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
