import type { Hypervisor } from '@ipilab/hypervisor';
import type { SpinTicket, Vcpu } from '@ipilab/vcpu';

/** Per-VM figures of the broadcast invalidations its vCPUs issued. */
export interface BroadcastStats {
  /** INVLPGB+TLBSYNC sequences run. */
  sequences: number;
  /** Sequences that found every host-wide slot taken and waited for one. */
  queued: number;
  /** ns spent waiting for a slot, summed. */
  waitNs: number;
}

export function emptyBroadcastStats(): BroadcastStats {
  return { sequences: 0, queued: 0, waitNs: 0 };
}

interface SlotWaiter {
  v: Vcpu;
  since: number;
  stats: BroadcastStats;
  done: () => void;
  ticket: SpinTicket | null;
}

const slotGrantedStage = (w: unknown): void => (w as SlotWaiter).done();

/**
 * The host's limit on broadcast invalidations in flight (`invlpgbOutstanding`): an
 * INVLPGB+TLBSYNC sequence holds one slot from its first INVLPGB to the end of its TLBSYNC.
 * Shared by every VM on the host — the broadcasts cross one fabric — so it lives beside the
 * hypervisor, one per `Hypervisor`. A sequence that finds every slot taken stalls its vCPU (the
 * instruction does not retire: a busy wait, not a sleep) until one frees, first come first served.
 */
export class BroadcastSlots {
  private inFlight = 0;
  private readonly queue: SlotWaiter[] = [];

  constructor(private readonly hv: Hypervisor) {}

  get limit(): number {
    return Math.max(1, this.hv.costs.invlpgbOutstanding);
  }

  get busy(): number {
    return this.inFlight;
  }

  /** Takes a slot for `v` (waiting in line if none is free); `done` runs on `v` holding it. */
  acquire(v: Vcpu, stats: BroadcastStats, done: () => void): void {
    stats.sequences++;
    if (this.inFlight < this.limit) {
      this.inFlight++;
      done();
      return;
    }
    stats.queued++;
    const w: SlotWaiter = { v, since: this.hv.sim.now, stats, done, ticket: null };
    this.queue.push(w);
    w.ticket = v.pushSpin(slotGrantedStage, w);
  }

  /** The sequence holding a slot completed: the next in line gets it. */
  release(): void {
    const next = this.queue.shift();
    if (next === undefined) {
      this.inFlight--;
      return;
    }
    next.stats.waitNs += this.hv.sim.now - next.since;
    next.ticket!.release();
  }
}

const SLOTS = new WeakMap<Hypervisor, BroadcastSlots>();

/** The host-wide broadcast slots of `hv` (made on first use). */
export function broadcastSlots(hv: Hypervisor): BroadcastSlots {
  let s = SLOTS.get(hv);
  if (s === undefined) {
    s = new BroadcastSlots(hv);
    SLOTS.set(hv, s);
  }
  return s;
}
