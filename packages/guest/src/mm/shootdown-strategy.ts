import type { Costs } from '@ipilab/calibration';
import type { PolicyFamily } from '@ipilab/di';
import type { Clock } from '@ipilab/hypervisor';
import type { Vcpu } from '@ipilab/vcpu';
import type { CallWork } from '../cross-calls';
import type { AddressSpace } from './address-space';

/** Pages of one address space whose translations changed and must leave every TLB. */
export interface ShootdownRequest {
  readonly initiator: Vcpu;
  readonly space: AddressSpace;
  readonly vpns: readonly number[];
  /** Model version of the change: TLB entries read before it are stale. */
  readonly version: number;
  /**
   * The change freed page-table pages (munmap's free_pgtables: struct flush_tlb_info's
   * freed_tables). Then even vCPUs in lazy TLB mode take the IPI, lest a speculative walk use
   * what used to be a page table.
   */
  readonly freedTables?: boolean;
  /**
   * What the change does to the pages: `free` (munmap, MADV_DONTNEED: the translations go away
   * and the frames, and the virtual range, are released after the flush) or `in-place` (a
   * permission downgrade, a migration, copy-on-write, a huge-page split: a new translation
   * replaces the old, which every vCPU must have dropped at `done`). Absent: `in-place`.
   * Only a free may be completed lazily (`ShootdownContext.deferRelease`).
   */
  readonly kind?: ShootdownKind;
}

/** Whether a shootdown's change frees its pages or changes them in place (`ShootdownRequest.kind`). */
export type ShootdownKind = 'free' | 'in-place';

/**
 * What a shootdown strategy is given: one VM's memory manager as far as removing stale
 * translations goes (`MemoryManager` implements it; a strategy sees nothing else). Costs are
 * charged by pushing work on vCPUs (`Vcpu.pushWork`, `pushSpin`); IPIs go through `crossCall`.
 */
export interface ShootdownContext {
  /** Per-operation costs in ns. */
  readonly costs: Costs;
  /** The simulated clock. */
  readonly clock: Clock;
  /** The VM's vCPUs, by index. */
  readonly vcpus: readonly Vcpu[];
  /** The guest uses the PV TLB flush (KVM_FEATURE_PV_TLB_FLUSH) and the host supports it. */
  readonly pvTlbFlush: boolean;
  /** Run `fn` after `delayNs` of simulated time (a timer: batching windows). */
  schedule(delayNs: number, fn: () => void): void;
  /** The other vCPUs a flush of `space` by `initiator` must reach: those running it (others are marked to flush when they return). */
  flushTargets(initiator: Vcpu, space: AddressSpace): Vcpu[];
  /**
   * `flushTargets`, writing the vCPUs into `into` from index 0 and returning how many: `into` is
   * the caller's scratch list, reused from one shootdown to the next (entries past the count are
   * left over from earlier uses; its length is not changed, so it keeps its capacity).
   */
  flushTargetsInto(initiator: Vcpu, space: AddressSpace, into: Vcpu[]): number;
  /**
   * `deferPreempted` (when `pvTlbFlush`) then, unless `freedTables`, `skipLazy`, as one pass over
   * the first `n` of `targets`, in place (marking as they do): the vCPUs still to IPI are moved to
   * the front, in order, and their number returned. With `flushTargetsInto`, for strategies that
   * allocate no list the size of the VM (`crossCall` copies its targets, so the list can be reused).
   */
  filterIpiTargets(initiator: Vcpu, space: AddressSpace, targets: Vcpu[], n: number, freedTables: boolean): number;
  /** Drops vCPUs in lazy TLB mode from `targets` (marking them to flush on their next switch to `space`); under `lazyTlb: leave`, keeps them. */
  skipLazy(space: AddressSpace, targets: readonly Vcpu[]): readonly Vcpu[];
  /** Whether `v` is in lazy TLB mode. */
  isLazy(v: Vcpu): boolean;
  /** Which address space each vCPU has loaded (null: none), by vCPU index. */
  readonly current: readonly (AddressSpace | null)[];
  /** The PV TLB flush's side: the preempted vCPUs of `targets` are marked for a host flush on entry; returns the others. */
  deferPreempted(initiator: Vcpu, targets: readonly Vcpu[]): readonly Vcpu[];
  /** A synchronous cross-call (smp_call_function_many): IPIs `targets`, runs `work` in each handler, `done` when the last has acknowledged. */
  crossCall(initiator: Vcpu, targets: readonly Vcpu[], done: () => void, onHandlerStart?: (target: Vcpu, at: number) => void, work?: CallWork): void;
  /** Invalidates `vpns` of `space` in `v`'s TLB now; returns the cost to charge. */
  invalidateOn(v: Vcpu, space: AddressSpace, vpns: readonly number[]): number;
  /** The cost of invalidating `pages` pages in one TLB (page by page, or a full flush above the ceiling). */
  invalidateCost(pages: number): number;
  /** The flush handler on a target (flush_tlb_func): invalidates, and under `lazyTlb: leave` a lazy vCPU leaves the space; returns the cost. */
  flushHandler(v: Vcpu, space: AddressSpace, vpns: readonly number[]): number;
  /** A hardware broadcast invalidation (INVLPGB + TLBSYNC) of `vpns` from every TLB, issued by `initiator`, within the host's outstanding-broadcast slots; `done` when it completed. */
  broadcastInvalidate(initiator: Vcpu, space: AddressSpace, vpns: readonly number[], done: () => void): void;
  /** After an IPI shootdown, Linux's consider_global_asid: `space` may get a global ASID (then it broadcasts). */
  considerGlobalAsid(space: AddressSpace): void;
  /**
   * For a free (`req.kind === 'free'`), called before `done`: separates "the initiator may go
   * on" (`done`) from "the old frames and the virtual range may be reused" (calling the
   * returned function, once). Until then the frames stay off the free list and the range is
   * quarantined: a vCPU may still use a stale translation of it (nothing else can map those
   * frames), and a new mapping of the range is a different virtual range, so it never meets the
   * old entries. Without this call (every built-in) both happen at `done`. Throws for an
   * in-place change, whose old translations must be gone at `done`.
   */
  deferRelease(req: ShootdownRequest): () => void;
  /**
   * Runs `fn` on `v` at its next scheduler tick or context switch, whichever comes first (LATR's
   * sweep points), in `v`'s context; the ns it returns are charged as work on `v`. A vCPU that
   * neither ticks nor switches (idle with its tick stopped) runs it when it next does.
   */
  onNextTickOrSwitch(v: Vcpu, fn: (v: Vcpu) => number): void;
}

/**
 * How stale translations are removed after a page-table change. `done` is called when the
 * initiator may go on: for an in-place change, as if no vCPU could use the old translations; for
 * a free, the frames are released then too unless the strategy deferred that
 * (`ShootdownContext.deferRelease`), releasing them itself once no TLB can hold them.
 */
export interface ShootdownStrategy {
  /** The name a scenario picks it by (`vms[].shootdownStrategy`). */
  readonly name: string;
  /** Remove the translations `req` changed from every TLB that may hold them; `done` when none can be used any more (or, for a deferred free, when the initiator may go on). */
  flush(ctx: ShootdownContext, req: ShootdownRequest, done: () => void): void;
}

/** The DI token of the shootdown-strategy registry. */
export const ShootdownStrategyRegistry: unique symbol = Symbol('ShootdownStrategyRegistry');
/** The DI token a module binds a shootdown-strategy contribution to. */
export const ShootdownStrategyContribution: unique symbol = Symbol('ShootdownStrategyContribution');
/** The shootdown-strategy family: contribute to it with `contributePolicy(options, shootdownStrategies, name, strategy)`. */
export const shootdownStrategies: PolicyFamily<ShootdownStrategy> = {
  registry: ShootdownStrategyRegistry,
  contribution: ShootdownStrategyContribution,
  kind: 'shootdown strategy',
  defaultName: 'sync',
};

/**
 * Linux's flush_tlb_mm_range (arch/x86/mm/tlb.c, 6.6): flush locally, then IPI the other vCPUs
 * that have the address space loaded (`MemoryManager.flushTargets`) — minus the preempted ones
 * PV TLB flush defers to their next entry (kvm_flush_tlb_multi, whatever the backend:
 * GuestKernel.deferPreempted), and, unless the change freed page tables, minus those in lazy TLB
 * mode (native_flush_tlb_multi -> should_flush_tlb), which flush when they next run the space;
 * each target's handler invalidates — page by page, or the whole TLB above the single-page
 * ceiling — and releases its csd; the initiator waits for the last.
 */
export class SynchronousShootdown implements ShootdownStrategy {
  readonly name: string = 'sync';
  /**
   * Scratch lists for the vCPUs with the space loaded, filtered in place to the IPI's targets
   * (up to a VM's size each): one per shootdown between its mask read and its cross-call, reused,
   * so no list is allocated per shootdown (Linux keeps a per-CPU cpumask for this, __pv_cpu_mask).
   */
  private readonly scratch: Vcpu[][] = [];

  flush(mm: ShootdownContext, req: ShootdownRequest, done: () => void): void {
    const { initiator, space, vpns } = req;
    const local = space.cpuMask.has(initiator.index) ? mm.invalidateOn(initiator, space, vpns) : 0;
    initiator.pushWork(local, () => {
      const loaded = this.scratch.pop() ?? [];
      const n = mm.flushTargetsInto(initiator, space, loaded);
      const check = mm.pvTlbFlush ? mm.costs.pvFlushCheck * n : 0;
      initiator.pushWork(check, () => {
        // The survivors, in place; the list's length becomes theirs for the call, which copies them.
        loaded.length = mm.filterIpiTargets(initiator, space, loaded, n, req.freedTables === true);
        mm.crossCall(initiator, loaded, done, undefined, {
          cost: () => mm.invalidateCost(vpns.length),
          run: (t) => void mm.flushHandler(t, space, vpns),
        });
        this.scratch.push(loaded);
      });
    });
  }
}

/** Which processes the `invlpgb` strategy broadcasts for: Linux's rule, or every one. */
export type BroadcastRule = 'linux' | 'always';

/**
 * IPI-free broadcast invalidation (AMD INVLPGB + TLBSYNC, ARM TLBI ...IS): the initiator issues
 * one broadcast per page (one for the whole space above the ceiling) and waits for TLBSYNC;
 * hardware removes the entries from every TLB. No IPI, no exit, no target handler.
 *
 * Each INVLPGB+TLBSYNC sequence holds one of the host's `invlpgbOutstanding` slots
 * (`BroadcastSlots`, shared by all VMs); beyond that, concurrent sequences queue.
 *
 * Rule `linux` (the `invlpgb` strategy), as flush_tlb_mm_range does since Linux 6.15: only a
 * process with a global ASID broadcasts; any other takes the IPI path (`sync`) and, after it,
 * `considerGlobalAsid` may give it one. Rule `always` (`invlpgb-all`) broadcasts for every
 * process, as this strategy did before the rule was modelled.
 */
export class BroadcastInvalidation implements ShootdownStrategy {
  readonly name: string;
  private readonly sync = new SynchronousShootdown();

  constructor(readonly rule: BroadcastRule = 'linux') {
    this.name = rule === 'linux' ? 'invlpgb' : 'invlpgb-all';
  }

  flush(mm: ShootdownContext, req: ShootdownRequest, done: () => void): void {
    const space = req.space;
    if (this.rule === 'linux' && !space.globalAsid) {
      // flush_tlb_mm_range: flush_tlb_multi, then consider_global_asid — only when another CPU is in the mask.
      let remote = false;
      for (const i of space.cpuMask) if (i !== req.initiator.index) remote = true;
      if (!remote) {
        this.sync.flush(mm, req, done);
        return;
      }
      this.sync.flush(mm, req, () => {
        mm.considerGlobalAsid(space);
        done();
      });
      return;
    }
    mm.broadcastInvalidate(req.initiator, space, req.vpns, done);
  }
}

/**
 * Deferred, batched flushing (as Linux batches unmaps in reclaim): requests for one address
 * space accumulate until `batchPages` pages are pending or `windowNs` has passed since the
 * first, then one synchronous shootdown covers them all; every batched request completes then.
 * Fewer IPIs, later completion.
 */
export class BatchedShootdown implements ShootdownStrategy {
  readonly name: string = 'batched';
  private readonly pending = new WeakMap<AddressSpace, { vpns: Set<number>; version: number; freedTables: boolean; dones: (() => void)[]; first: Vcpu; timer: boolean }>();
  private readonly sync = new SynchronousShootdown();

  constructor(
    readonly batchPages = 32,
    readonly windowNs = 50_000,
  ) {}

  flush(mm: ShootdownContext, req: ShootdownRequest, done: () => void): void {
    let b = this.pending.get(req.space);
    if (b === undefined) {
      b = { vpns: new Set(), version: req.version, freedTables: false, dones: [], first: req.initiator, timer: false };
      this.pending.set(req.space, b);
    }
    for (const vpn of req.vpns) b.vpns.add(vpn);
    b.version = Math.max(b.version, req.version);
    if (req.freedTables === true) b.freedTables = true;
    // The requester waits (spinning) until its batch has been flushed.
    const spin = req.initiator.pushSpin(done);
    b.dones.push(() => spin.release());
    if (b.vpns.size >= this.batchPages) {
      this.run(mm, req.space, req.initiator);
    } else if (!b.timer) {
      b.timer = true;
      const first = b.first;
      mm.schedule(this.windowNs, () => {
        if (this.pending.get(req.space) === b) this.run(mm, req.space, first);
      });
    }
  }

  private run(mm: ShootdownContext, space: AddressSpace, on: Vcpu): void {
    const b = this.pending.get(space)!;
    this.pending.delete(space);
    this.sync.flush(mm, { initiator: on, space, vpns: [...b.vpns], version: b.version, freedTables: b.freedTables }, () => {
      for (const d of b.dones) d();
    });
  }
}
