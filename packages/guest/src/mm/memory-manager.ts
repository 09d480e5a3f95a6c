import { InvalidParameterError, KernelError } from '@ipilab/core';
import type { Costs } from '@ipilab/calibration';
import type { Clock, Hypervisor, Vm } from '@ipilab/hypervisor';
import type { Vcpu } from '@ipilab/vcpu';
import type { GuestKernel } from '../guest-kernel';
import { AddressSpace, PAGES_PER_HUGE, type Translation } from './address-space';
import { block, op, type Task, type TaskCommand } from '../sched/task';
import { broadcastSlots, emptyBroadcastStats, type BroadcastStats } from './broadcast-slots';
import type { CallWork } from '../cross-calls';
import { considerGlobalAsid } from './global-asid';
import { emptyLockStats, resetLockStats, type LockStats } from './lock-stats';
import { RwSemaphore, type LockMode } from './rwsem';
import type { ShootdownContext, ShootdownRequest, ShootdownStrategy } from './shootdown-strategy';
import { QueuedSpinLock } from './spinlock';
import { Tlb } from './tlb';
import { UnfencedPteWrites } from './unfenced-pte-writes';

/**
 * Pages per LRU-lock batch: PAGEVEC_SIZE, the folio_batch size, 31 since "mm: increase folio
 * batch size" (Matthew Wilcox, Linux 6.9; 15 before). Freed pages (folios_put_refs) and new
 * pages joining the LRU (folio_batch_add_and_move) take lruvec->lru_lock once per batch.
 */
export const LRU_BATCH = 31;

/** The memory manager's lock figures for a run's output. */
export interface MmLockReport {
  readonly mmapLock: LockStats;
  readonly ptl: LockStats;
  readonly lru: LockStats;
  readonly invlpgb: BroadcastStats;
  /** Address spaces that were given a global ASID (broadcast flushes under `invlpgb`). */
  readonly globalAsids: number;
  /** Under `faults.dropIpiFence` only: TLB hits on translations a completed shootdown should have removed. */
  readonly staleTlbUses?: number;
  /** Lazy TLB mode: shootdown targets skipped while lazy, lazy vCPUs that left a space on a flush IPI, and whole-space flushes at switch-in that caught up on skipped shootdowns. */
  readonly lazyTlb: { readonly skipped: number; readonly left: number; readonly catchUpFlushes: number };
}

/** Who sends a VM's shootdowns: any vCPU for itself (SMP), or one master vCPU for all (AMP). */
export type Coordination = 'smp' | 'amp';

/** How a VM's memory manager removes stale translations: strategy, SMP or AMP coordination, lazy TLB mode, injected faults. */
export interface MemoryManagerOptions {
  readonly strategy: ShootdownStrategy;
  readonly coordination?: Coordination;
  /** The AMP master vCPU (default 0). */
  readonly master?: number;
  /** What a shootdown does with vCPUs in lazy TLB mode (default `skip`; see `LazyTlbMode`). */
  readonly lazyTlb?: LazyTlbMode;
  /** Faults injected into the guest kernel (none by default). */
  readonly faults?: GuestFaults;
}

/** Faults a scenario may inject into the guest kernel, to see what the model's checks make of them. */
export interface GuestFaults {
  /**
   * Leave out the store fence between a shootdown's PTE writes and its IPI (Linux's
   * weak_wrmsr_fence before an x2APIC ICR write): other vCPUs' page walks find the old PTEs
   * until the initiator's shootdown wait ends (`UnfencedPteWrites`).
   */
  readonly dropIpiFence?: boolean;
}

/** Thrown when the guest runs into what an injected fault broke: the model's finding, not its failure. */
export class InjectedFaultError extends KernelError {}

/**
 * How the guest's x86 shootdown treats vCPUs in lazy TLB mode:
 * - `skip` (Linux >= 4.19, Rik van Riel's "x86,tlb: Skip lazy TLB CPUs" series): no IPI unless
 *   the change freed page tables; the vCPU flushes when it next switches to the space;
 * - `leave` (earlier kernels): it gets the IPI, and its handler leaves the space — switches to
 *   init_mm and drops out of the mm_cpumask (flush_tlb_func's leave_mm) — so it gets no further
 *   IPIs until it runs the space again, when it flushes as it loads it.
 */
export type LazyTlbMode = 'skip' | 'leave';
/** Every lazy-TLB mode (`vms[].lazyTlb`). */
export const LAZY_TLB_MODES: readonly LazyTlbMode[] = ['skip', 'leave'];

/** A use of a translation that a completed shootdown should have removed. */
export interface StaleUse {
  readonly vcpu: number;
  readonly space: string;
  readonly vpn: number;
  readonly at: number;
  /** Model version the TLB entry was filled at, and the page's committed version it is older than. */
  readonly version: number;
  readonly committed: number;
}

/** A TLB entry older than its page's last completed shootdown, still there to be used. */
export interface StaleEntry {
  readonly vcpu: number;
  readonly space: string;
  readonly vpn: number;
  /** Model version the entry was filled at, the page's committed one, and when (ns) that was committed. */
  readonly version: number;
  readonly committed: number;
  readonly since: number;
}

/** A free's frames and pages, from its page-table change until they may be reused. */
interface FreeRecord {
  readonly space: AddressSpace;
  readonly vpns: readonly number[];
  /** Frames the free unmapped that nothing else maps: back on the free list at release. */
  readonly frames: number[];
  /** Frames it unmapped that may still be mapped by another process (copy-on-write): held while deferred, never put on the free list (no refcounts here). */
  readonly shared: number[];
  readonly version: number;
  deferred: boolean;
  released: boolean;
}

/** What lazy shootdowns (`ShootdownContext.deferRelease`) did: frees deferred and released, and uses of quarantined ranges. */
export interface LazyFreeStats {
  /** Frees whose release a strategy deferred past `done`. */
  deferred: number;
  /** Of those, released (their frames back on the free list, their range out of quarantine). */
  released: number;
  /** TLB hits on a freed, not yet released page that no mapping had replaced (an access to freed memory; allowed). */
  staleUses: number;
  /** Accesses to a page mapped again while its old range was quarantined: a different range in reality, so the old entry is set aside and the access walks. */
  aliased: number;
}

const nothing = (): void => undefined;

interface AmpRequest {
  readonly req: ShootdownRequest;
  readonly done: () => void;
}

/**
 * The guest's memory management for one VM: address spaces, one TLB per vCPU, accesses that
 * hit or walk, page-table changes followed by a shootdown through the VM's strategy and
 * coordination mode, copy-on-write after fork, and huge-page splits.
 *
 * It also keeps the book the laws check: every TLB entry remembers the model version it was
 * read at, every completed shootdown commits the version of its change, and a hit on an entry
 * older than its page's committed version is recorded as a stale use.
 */
export class MemoryManager implements ShootdownContext {
  readonly costs: Costs;
  /** What a TLB miss costs here: a 2-D walk (guest x EPT/NPT) in a VM, a 1-D walk on bare metal. */
  readonly pageWalkNs: number;
  readonly tlbs: Tlb[];
  /** Address space each vCPU currently runs (its loaded CR3), if any. */
  readonly current: (AddressSpace | null)[];
  readonly spaces: AddressSpace[] = [];
  readonly staleUses: StaleUse[] = [];
  readonly coordination: Coordination;
  readonly master: Vcpu;
  readonly strategy: ShootdownStrategy;
  readonly lazyTlb: LazyTlbMode;
  /** Frame contents, to check that after copy-on-write each process sees its own copy. */
  private readonly data = new Map<number, number>();
  /** `faults.dropIpiFence`: PTE writes not yet visible to other vCPUs; undefined when fenced (the default). */
  readonly unfenced: UnfencedPteWrites | undefined;
  /** Stale uses before the last `resetLockStats` (the warm-up's), left out of the report. */
  private staleUsesBefore = 0;
  private readonly cow = new Map<AddressSpace, Set<number>>();
  private nextFrame = 1;
  /** Released frames, reused (last freed first, as the per-CPU page lists) before fresh ones. */
  private readonly freeFrames: number[] = [];
  /** Frames deferred frees unmapped and have not released, with how many such frees hold each: no new mapping may take them. */
  private readonly heldFrames = new Map<number, number>();
  /** Frees under way, by the version of their change (AMP hands the master a copy of the request). */
  private readonly frees = new Map<number, FreeRecord>();
  /** Lazy frees' figures (all 0 unless a strategy defers a release). */
  readonly lazyFrees: LazyFreeStats = { deferred: 0, released: 0, staleUses: 0, aliased: 0 };
  /** Per vCPU, the work to run at its next tick or context switch (`onNextTickOrSwitch`); null until a strategy asks for any. */
  private sweeps: ((v: Vcpu) => number)[][] | null = null;
  private version = 0;
  private readonly ampQueue: AmpRequest[] = [];
  private ampBusy = false;
  shootdowns = 0;
  /** Targets a shootdown skipped because they were in lazy TLB mode. */
  lazySkips = 0;
  /** Lazy vCPUs that left a space on a flush IPI (`lazyTlb: leave`). */
  lazyLeaves = 0;
  /** Flushes of a whole space at switch-in by a vCPU a shootdown had skipped. */
  catchUpFlushes = 0;
  /** Per vCPU: 1 in lazy TLB mode (idle or a kernel thread, the space still loaded). */
  private readonly lazy: Uint8Array;
  /** Lock figures, one record per kind of lock, shared by every instance in the VM. */
  readonly lockStats = { mmapLock: emptyLockStats(), ptl: emptyLockStats(), lru: emptyLockStats() };
  readonly broadcastStats: BroadcastStats = emptyBroadcastStats();
  /**
   * The LRU lock: lruvec->lru_lock, one per memory cgroup per NUMA node (mm/memcontrol.c
   * folio_lruvec_lock). The guest has one node and runs everything in one cgroup: one per VM.
   */
  readonly lru: QueuedSpinLock;
  /** Per vCPU: new pages in its LRU-add folio batch (cpu_fbatches.lru_add) not yet moved. */
  private readonly lruAddBatch: Int32Array;
  private readonly mmapLocks = new Map<AddressSpace, RwSemaphore>();
  private readonly ptls = new Map<AddressSpace, Map<number, QueuedSpinLock>>();

  constructor(
    readonly hv: Hypervisor,
    readonly vm: Vm,
    readonly kernel: GuestKernel,
    options: MemoryManagerOptions,
  ) {
    this.costs = hv.costs;
    this.pageWalkNs = hv.config.mode === 'bare-metal' ? hv.costs.nativePageWalk : hv.costs.pageWalk;
    this.strategy = options.strategy;
    this.lazyTlb = options.lazyTlb ?? 'skip';
    this.unfenced = options.faults?.dropIpiFence === true ? new UnfencedPteWrites() : undefined;
    if (!LAZY_TLB_MODES.includes(this.lazyTlb)) throw new InvalidParameterError(`vms[${vm.index}].lazyTlb`, this.lazyTlb, '"skip" or "leave"');
    this.coordination = options.coordination ?? 'smp';
    if (this.coordination !== 'smp' && this.coordination !== 'amp') {
      throw new InvalidParameterError(`vms[${vm.index}].coordination`, this.coordination, '"smp" or "amp"');
    }
    const master = options.master ?? 0;
    if (!(Number.isSafeInteger(master) && master >= 0 && master < vm.vcpus.length)) {
      throw new InvalidParameterError(`vms[${vm.index}].master`, master, `a vCPU index in [0, ${vm.vcpus.length - 1}]`);
    }
    this.master = vm.vcpu(master);
    const held = new Int32Array(vm.vcpus.length);
    this.tlbs = vm.vcpus.map((_, i) => new Tlb(this.costs.tlbEntries, held, i));
    this.current = vm.vcpus.map(() => null);
    this.lazy = new Uint8Array(vm.vcpus.length);
    kernel.onEnterLazyTlb((v) => this.enterLazy(v));
    this.lru = new QueuedSpinLock(hv, this.lockStats.lru, kernel.pvSpinlocks);
    this.lruAddBatch = new Int32Array(vm.vcpus.length);
    // KVM_VCPU_FLUSH_TLB: the host flushes a vCPU's whole TLB when it next enters.
    kernel.onHostTlbFlush((v) => this.flushAllOn(v));
  }

  // ---- set-up ----------------------------------------------------------------------------------

  /** A new, empty address space (a process). */
  createSpace(name: string): AddressSpace {
    const s = new AddressSpace(this.spaces.length + 1, name);
    this.spaces.push(s);
    this.cow.set(s, new Set());
    this.mmapLocks.set(s, new RwSemaphore(this.hv, this.lockStats.mmapLock, `${name}.mmap_lock`));
    this.ptls.set(s, new Map());
    return s;
  }

  // ---- locks ---------------------------------------------------------------------------------

  /** The address space's mmap_lock (mm->mmap_lock), a reader-writer semaphore. */
  mmapLock(space: AddressSpace): RwSemaphore {
    const l = this.mmapLocks.get(space);
    if (l === undefined) throw new KernelError(`address space ${space.name} is not this VM's`);
    return l;
  }

  /**
   * The split page-table lock covering `vpn` (USE_SPLIT_PTE_PTLOCKS: one spinlock per page-table
   * page, in its struct ptdesc — include/linux/mm.h ptlock_ptr, pte_lockptr; taken by
   * pte_offset_map_lock in mm/memory.c): one per 512 small pages, i.e. per PMD entry.
   */
  ptl(space: AddressSpace, vpn: number): QueuedSpinLock {
    const pmd = Math.floor(vpn / PAGES_PER_HUGE);
    const m = this.ptls.get(space)!;
    let l = m.get(pmd);
    if (l === undefined) {
      l = new QueuedSpinLock(this.hv, this.lockStats.ptl, this.kernel.pvSpinlocks);
      m.set(pmd, l);
    }
    return l;
  }

  /** Lock and broadcast figures since the start (or the last reset). */
  lockReport(): MmLockReport {
    const copy = (x: LockStats): LockStats => ({ ...x });
    return {
      mmapLock: copy(this.lockStats.mmapLock),
      ptl: copy(this.lockStats.ptl),
      lru: copy(this.lockStats.lru),
      invlpgb: { ...this.broadcastStats },
      globalAsids: this.spaces.filter((s) => s.globalAsid).length,
      lazyTlb: { skipped: this.lazySkips, left: this.lazyLeaves, catchUpFlushes: this.catchUpFlushes },
      // Only under dropIpiFence: with the fence no stale use can happen (the coherence law), and outputs stay as they were.
      ...(this.unfenced === undefined ? {} : { staleTlbUses: this.staleUses.length - this.staleUsesBefore }),
    };
  }

  /** Forgets the lock figures so far (the end of a warm-up). */
  resetLockStats(): void {
    resetLockStats(this.lockStats.mmapLock);
    resetLockStats(this.lockStats.ptl);
    resetLockStats(this.lockStats.lru);
    this.broadcastStats.sequences = 0;
    this.broadcastStats.queued = 0;
    this.broadcastStats.waitNs = 0;
    this.lazySkips = 0;
    this.lazyLeaves = 0;
    this.catchUpFlushes = 0;
    this.staleUsesBefore = this.staleUses.length;
  }

  /**
   * Frees `pages` pages after an unmap (tlb_finish_mmu -> free_pages_and_swap_cache ->
   * folios_put_refs): the LRU lock once per batch of LRU_BATCH, `lruPerPage` per page under it.
   */
  freePages(v: Vcpu, pages: number, done: () => void): void {
    if (pages <= 0) {
      done();
      return;
    }
    const n = Math.min(pages, LRU_BATCH);
    this.lru.acquire(v, () =>
      v.pushWork(this.costs.lruPerPage * n, () => {
        this.lru.release(v, () => this.freePages(v, pages - n, done));
      }),
    );
  }

  /**
   * A new page joins the LRU through `v`'s per-CPU folio batch (folio_add_lru): every
   * LRU_BATCH-th one moves the batch under the LRU lock (folio_batch_move_lru).
   */
  lruAdd(v: Vcpu, done: () => void): void {
    if (++this.lruAddBatch[v.index]! < LRU_BATCH) {
      done();
      return;
    }
    this.lruAddBatch[v.index] = 0;
    this.lru.acquire(v, () =>
      v.pushWork(this.costs.lruPerPage * LRU_BATCH, () => {
        this.lru.release(v, done);
      }),
    );
  }

  /**
   * A first-touch fault on anonymous memory (do_anonymous_page): fault entry, a zeroed page,
   * the PTE set under its page-table lock, the page added to the LRU. `done` once mapped.
   * Caller holds mmap_lock for read (or, Linux >= 6.4, the VMA's lock).
   */
  faultIn(v: Vcpu, space: AddressSpace, vpn: number, done: () => void): void {
    v.pushWork(this.costs.pageFault + this.costs.pageZero, () => {
      const ptl = this.ptl(space, vpn);
      ptl.acquire(v, () =>
        v.pushWork(this.costs.pteWrite, () => {
          // The lock orders this after any earlier writer of the page: its writes are visible now.
          this.unfenced?.drainPage(space, vpn);
          // Re-checked under the page-table lock: another thread may have faulted it in.
          if (space.translate(vpn) === undefined) space.mapSmall(vpn, this.allocFrame(), true);
          ptl.release(v, () => this.lruAdd(v, done));
        }),
      );
    });
  }

  // ---- task-level operations (may sleep on mmap_lock) -------------------------------------

  /**
   * mmap_read_lock / mmap_write_lock as task code (`yield* mm.lockMmap(task, space, mode)`):
   * returns once `task` holds `space`'s mmap_lock; a contended wait may spin (writers) or block
   * the task until the releaser wakes it.
   */
  *lockMmap(task: Task, space: AddressSpace, mode: LockMode): Generator<TaskCommand, void, unknown> {
    const lock = this.mmapLock(space);
    const got = (yield op((v, resume) => lock.acquire(task, v, mode, resume))) as boolean;
    if (got) return;
    yield block();
    yield op((v, resume) => lock.woken(v, resume));
  }

  /** mmap_read_unlock / mmap_write_unlock, as a task command. */
  unlockMmap(space: AddressSpace, mode: LockMode): TaskCommand {
    const lock = this.mmapLock(space);
    return op((v, resume) => lock.release(v, mode, resume));
  }

  /** mmap(2) of fresh anonymous memory: the VMA is made under mmap_lock for write; no PTE yet. */
  *mmapTask(task: Task, space: AddressSpace): Generator<TaskCommand, void, unknown> {
    yield* this.lockMmap(task, space, 'write');
    yield op((v, resume) => v.pushWork(this.costs.vmaChange, resume));
    yield this.unlockMmap(space, 'write');
  }

  /** mmap_write_downgrade, as a task command: the writer goes on holding it for read. */
  downgradeMmap(space: AddressSpace): TaskCommand {
    const lock = this.mmapLock(space);
    return op((v, resume) => lock.downgrade(v, resume));
  }

  /**
   * munmap(2): the VMA is detached under mmap_lock for write, then the lock is downgraded to
   * read for the page-table teardown, the TLB shootdown and the freeing of the pages
   * (do_vmi_align_munmap -> mmap_write_downgrade -> unmap_region -> tlb_finish_mmu, mm/mmap.c
   * and mm/vma.c; "mm: mmap: zap pages with read mmap_sem in munmap", Linux 4.20): threads that
   * fault meanwhile go on, threads that map or unmap wait the whole flush out.
   */
  *munmapTask(task: Task, space: AddressSpace, vpns: readonly number[]): Generator<TaskCommand, void, unknown> {
    yield* this.lockMmap(task, space, 'write');
    yield op((v, resume) => v.pushWork(this.costs.vmaChange, resume));
    yield this.downgradeMmap(space);
    // Nothing was ever mapped (mmap then munmap untouched): no PTE to clear, no flush (the
    // mmu_gather gathered no range: tlb_flush_mmu_tlbonly returns early), no page to free.
    if (vpns.some((vpn) => space.translate(vpn) !== undefined)) yield op((v, resume) => this.unmap(v, space, vpns, resume));
    yield this.unlockMmap(space, 'read');
  }

  /**
   * madvise(MADV_DONTNEED): the pages are zapped and shot down under mmap_lock for read
   * (madvise_need_mmap_write is false for it), and no page table is freed (zap_page_range_single
   * leaves them); the range stays mapped as a VMA, its pages fault in again on the next touch.
   */
  *madviseDontneedTask(task: Task, space: AddressSpace, vpns: readonly number[]): Generator<TaskCommand, void, unknown> {
    yield* this.lockMmap(task, space, 'read');
    if (vpns.some((vpn) => space.translate(vpn) !== undefined)) yield op((v, resume) => this.unmap(v, space, vpns, resume, false));
    yield this.unlockMmap(space, 'read');
  }

  /** First touch of every page of `vpns` not mapped, as task code: anonymous faults under mmap_lock for read. */
  *faultInTask(task: Task, space: AddressSpace, vpns: readonly number[]): Generator<TaskCommand, void, unknown> {
    yield* this.lockMmap(task, space, 'read');
    yield op((v, resume) => {
      const next = (i: number): void => {
        while (i < vpns.length && space.translate(vpns[i]!) !== undefined) i++;
        if (i === vpns.length) resume();
        else this.faultIn(v, space, vpns[i]!, () => next(i + 1));
      };
      next(0);
    });
    yield this.unlockMmap(space, 'read');
  }

  /** fork(): dup_mmap holds the parent's mmap_lock for write across the copy and flush_tlb_mm. */
  *forkTask(task: Task, parent: AddressSpace, childName: string): Generator<TaskCommand, AddressSpace, unknown> {
    yield* this.lockMmap(task, parent, 'write');
    const child = (yield op((v, resume) => this.fork(v, parent, childName, resume))) as AddressSpace;
    yield this.unlockMmap(parent, 'write');
    return child;
  }

  /**
   * A write by task code: a TLB hit or walk needs no lock; a fault (copy-on-write) is handled
   * under mmap_lock for read (handle_mm_fault under mmap_read_lock; see docs/model.md on per-VMA
   * locks).
   */
  *writeTask(task: Task, space: AddressSpace, vpn: number, value: number, perVmaLock = false): Generator<TaskCommand, void, unknown> {
    const hit = (yield op((v, resume) => {
      if (this.current[v.index] !== space) throw new KernelError(`task ${task.name} writes ${space.name} without running in it`);
      if (this.touch(v, vpn, true) < 0) {
        resume(false);
        return;
      }
      this.write(v, vpn, value, () => resume(true));
    })) as boolean;
    if (hit) return;
    if (!perVmaLock) yield* this.lockMmap(task, space, 'read');
    yield op((v, resume) => this.write(v, vpn, value, resume));
    if (!perVmaLock) yield this.unlockMmap(space, 'read');
  }

  /**
   * Touches `vpn` from task code: a first touch faults it in (`faultIn`) under mmap_lock for read
   * (or the VMA lock when `perVmaLock`), then the access walks the page table.
   */
  *touchTask(task: Task, space: AddressSpace, vpn: number, write: boolean, perVmaLock = false): Generator<TaskCommand, void, unknown> {
    if (space.translate(vpn) === undefined) {
      if (!perVmaLock) yield* this.lockMmap(task, space, 'read');
      yield op((v, resume) => this.faultIn(v, space, vpn, resume));
      if (!perVmaLock) yield this.unlockMmap(space, 'read');
    }
    yield op((v, resume) => {
      const attempt = (): void => {
        const cost = this.touch(v, vpn, write);
        if (cost < 0 && this.unfenced?.hiding(v.index, space, vpn) !== undefined) this.spuriousFault(v, space, vpn, attempt);
        else if (cost < 0) throw new KernelError(`task ${task.name}: ${space.name} page ${vpn} still faults after being faulted in`);
        else v.pushWork(cost, resume);
      };
      attempt();
    });
  }

  /** Maps fresh frames (writable) for pages [first, first + count), no flush needed. */
  populate(space: AddressSpace, first: number, count: number): void {
    for (let vpn = first; vpn < first + count; vpn++) space.mapSmall(vpn, this.allocFrame(), true);
  }

  /** Maps fresh 2 MiB pages at huge indexes [first, first + count). */
  populateHuge(space: AddressSpace, firstHuge: number, count: number): void {
    for (let h = firstHuge; h < firstHuge + count; h++) {
      space.mapHuge(h, this.nextFrame, true);
      this.nextFrame += PAGES_PER_HUGE;
    }
  }

  /**
   * Context switch: `v` now runs `space` (PCID-tagged: no flush), and leaves lazy TLB mode. As
   * switch_mm_irqs_off does (arch/x86/mm/tlb.c), a vCPU that a shootdown of `space` skipped — it
   * was lazy, or ran another space — finds the space's tlb_gen ahead of its own and flushes the
   * space's entries first. Returns that flush's cost (0 when none was needed).
   */
  switchTo(v: Vcpu, space: AddressSpace): number {
    const i = v.index;
    // A context switch: lazy shootdowns' sweeps run first (onNextTickOrSwitch).
    const swept = this.sweeps === null ? 0 : this.runSweeps(v);
    this.current[i] = space;
    this.lazy[i] = 0;
    space.cpuMask.add(i);
    if (!space.lazyStale.delete(i)) return swept;
    this.tlbs[i]!.flushAsid(space.id);
    this.catchUpFlushes++;
    return swept + this.costs.tlbFullFlush;
  }

  /**
   * enter_lazy_tlb: `v` goes idle or runs a kernel thread; its address space stays loaded (no
   * CR3 write) but it runs no user code of it. Until it switches back, a shootdown that frees no
   * page tables skips it (should_flush_tlb: cpu_tlbstate_shared.is_lazy).
   */
  enterLazy(v: Vcpu): void {
    if (this.current[v.index] !== null) this.lazy[v.index] = 1;
    // A context switch too (to idle or a kernel thread): lazy shootdowns' sweeps run here.
    if (this.sweeps !== null) {
      const cost = this.runSweeps(v);
      if (cost > 0) v.pushWork(cost, nothing);
    }
  }

  /** Whether `v` is in lazy TLB mode. */
  isLazy(v: Vcpu): boolean {
    return this.lazy[v.index] === 1;
  }

  /**
   * Who a shootdown of `space` by `initiator` must interrupt (native_flush_tlb_multi, Linux 6.6):
   * the other vCPUs that have the space loaded — a vCPU that switched to another space left its
   * mm_cpumask, and is marked to flush when it comes back — and, unless page tables were freed,
   * only those not in lazy TLB mode (lazy ones are marked likewise).
   */
  flushTargets(initiator: Vcpu, space: AddressSpace): Vcpu[] {
    const out: Vcpu[] = [];
    this.flushTargetsInto(initiator, space, out);
    return out;
  }

  /** `ShootdownContext.flushTargetsInto`. */
  flushTargetsInto(initiator: Vcpu, space: AddressSpace, into: Vcpu[]): number {
    let n = 0;
    for (const i of space.cpuMask) {
      if (i === initiator.index) continue;
      if (this.current[i] === space) into[n++] = this.vm.vcpus[i]!;
      else space.lazyStale.add(i);
    }
    return n;
  }

  /**
   * The flush handler on `v` for `space` (flush_tlb_func): invalidates `vpns`; a vCPU in lazy
   * TLB mode under `leave` then leaves the space (leave_mm: init_mm loaded, out of the cpumask,
   * marked to flush when it loads the space again). Returns the cost of the invalidation.
   */
  flushHandler(v: Vcpu, space: AddressSpace, vpns: readonly number[]): number {
    const cost = this.invalidateOn(v, space, vpns);
    if (this.lazyTlb === 'leave' && this.lazy[v.index] === 1 && this.current[v.index] === space) {
      this.current[v.index] = null;
      this.lazy[v.index] = 0;
      space.lazyStale.add(v.index);
      this.lazyLeaves++;
    }
    return cost;
  }

  /**
   * `ShootdownContext.filterIpiTargets`: `deferPreempted` (with the PV TLB flush) then `skipLazy`
   * (unless `freedTables`) in one pass over the first `n` of `targets`, in place: same marks, and
   * the same survivors in the same order, moved to the front; returns how many. Nothing is
   * allocated (on a 1,024-vCPU VM the lists it replaces were up to 1,023 entries per shootdown).
   */
  filterIpiTargets(initiator: Vcpu, space: AddressSpace, targets: Vcpu[], n: number, freedTables: boolean): number {
    const pv = this.pvTlbFlush;
    const skip = !freedTables && this.lazyTlb !== 'leave';
    let m = 0;
    for (let k = 0; k < n; k++) {
      const t = targets[k]!;
      if ((pv && this.kernel.deferIfPreempted(initiator, t)) || (skip && this.skipIfLazy(space, t))) continue;
      targets[m++] = t;
    }
    return m;
  }

  /** Drops the lazy vCPUs from `targets` (a flush that freed no page tables), marking them to catch up; under `leave`, keeps them. */
  skipLazy(space: AddressSpace, targets: readonly Vcpu[]): readonly Vcpu[] {
    if (this.lazyTlb === 'leave') return targets;
    return targets.filter((t) => !this.skipIfLazy(space, t));
  }

  /** `skipLazy` for one target: whether it is lazy, and so marked to flush at its next switch to `space` instead of IPIed. */
  private skipIfLazy(space: AddressSpace, t: Vcpu): boolean {
    if (this.lazy[t.index] !== 1) return false;
    space.lazyStale.add(t.index);
    this.lazySkips++;
    return true;
  }

  /** `v`'s TLB. */
  tlb(v: Vcpu): Tlb {
    return this.tlbs[v.index]!;
  }

  // ---- accesses --------------------------------------------------------------------------------

  /**
   * One access by `v` to `vpn` of the space it runs. Returns its cost (0 on a TLB hit, a page
   * walk on a miss) or -1 when it faults (not present, or a write to a read-only page).
   */
  touch(v: Vcpu, vpn: number, write: boolean): number {
    const space = this.current[v.index];
    if (space === null || space === undefined) throw new KernelError(`vCPU ${v.index} accesses memory with no address space loaded`);
    const tlb = this.tlbs[v.index]!;
    const e = tlb.lookup(space.id, vpn);
    if (e !== undefined) {
      const committed = space.committed.get(vpn);
      if (committed === undefined || e.version >= committed) return write && !e.writable ? -1 : 0;
      if (!this.quarantinedUse(space, vpn, e.version, e.frame)) {
        this.staleUse(v, space, vpn, e.version, committed);
        return write && !e.writable ? -1 : 0;
      }
      // A stale entry of a freed, still quarantined range. The page is not mapped again: a use of
      // freed memory, whose frame nothing else has (LATR's window, allowed).
      if (space.translate(vpn) === undefined) {
        this.lazyFrees.staleUses++;
        return write && !e.writable ? -1 : 0;
      }
      // Mapped again: in reality another virtual range (LATR's mmap skips quarantined ones), which
      // this entry does not translate: the model sets it aside and the access walks.
      this.lazyFrees.aliased++;
      tlb.invalidatePage(space.id, vpn);
    }
    let t: Translation | undefined;
    let version = this.version;
    const hidden = this.unfenced?.hiding(v.index, space, vpn);
    if (hidden === undefined) t = space.translate(vpn);
    else {
      // dropIpiFence: the walk finds the PTE as it was before the change still in the writer's store buffer.
      t = hidden.before.get(vpn);
      version = hidden.version - 1;
    }
    if (t === undefined || (write && !t.writable)) return -1;
    tlb.fill(space.id, vpn, { frame: t.frame, writable: t.writable, huge: t.huge, version });
    space.cpuMask.add(v.index);
    return this.pageWalkNs;
  }

  /**
   * Whether a stale entry (filled at `version`, translating to `frame`) belongs to a free whose
   * release is deferred: the page is quarantined by a free after the entry was filled, and the
   * frame is still held (not released, so not reused). Any other stale use breaks coherence.
   */
  private quarantinedUse(space: AddressSpace, vpn: number, version: number, frame: number): boolean {
    const q = space.quarantined.get(vpn);
    return q !== undefined && version < q && this.heldFrames.has(frame);
  }

  /** Records a TLB hit on an entry older than its page's last completed shootdown. */
  private staleUse(v: Vcpu, space: AddressSpace, vpn: number, version: number, committed: number): void {
    const at = this.hv.sim.now;
    this.staleUses.push({ vcpu: v.index, space: space.name, vpn, at, version, committed });
    const sink = this.hv.sink;
    if (sink.wants['stale-tlb-use']) sink.emit({ type: 'stale-tlb-use', t: at, vcpu: v.ref, space: space.name, page: vpn, version, committed });
  }

  /**
   * The frame an access by `v` to `vpn` reaches: the page table's, or under dropIpiFence the one a
   * pending write still hides from `v` (the page may already be unmapped in the page table).
   */
  private frameSeen(v: Vcpu, space: AddressSpace, vpn: number): number {
    const hidden = this.unfenced?.hiding(v.index, space, vpn);
    if (hidden !== undefined) return hidden.before.get(vpn)!.frame;
    // A freed page used through its quarantined entry (LATR's window): the old, held frame.
    return space.translate(vpn)?.frame ?? this.tlbs[v.index]!.lookup(space.id, vpn)?.frame ?? NaN;
  }

  /** Reads `vpn` as guest work on `v`; `done(value)` with the value its frame holds. */
  read(v: Vcpu, vpn: number, done: (value: number) => void): void {
    const cost = this.touch(v, vpn, false);
    if (cost < 0) throw new KernelError(`vCPU ${v.index} read unmapped page ${vpn} of ${this.current[v.index]!.name}`);
    const space = this.current[v.index]!;
    v.pushWork(cost, () => done(this.data.get(this.frameSeen(v, space, vpn)) ?? 0));
  }

  /** Writes `value` to `vpn`, taking a copy-on-write fault first if the page is shared. */
  write(v: Vcpu, vpn: number, value: number, done: () => void): void {
    const space = this.current[v.index]!;
    const cost = this.touch(v, vpn, true);
    if (cost >= 0) {
      v.pushWork(cost, () => {
        this.data.set(this.frameSeen(v, space, vpn), value);
        done();
      });
      return;
    }
    if (this.unfenced?.hiding(v.index, space, vpn) !== undefined) {
      this.spuriousFault(v, space, vpn, () => this.write(v, vpn, value, done));
      return;
    }
    // Not present (unmapped since the caller faulted it in): do_anonymous_page, then the write again.
    if (space.translate(vpn) === undefined) {
      this.faultIn(v, space, vpn, () => this.write(v, vpn, value, done));
      return;
    }
    if (!this.cow.get(space)!.has(vpn) && !this.isHugeCow(space, vpn)) {
      const last = this.staleUses[this.staleUses.length - 1];
      if (last !== undefined && last.vcpu === v.index && last.vpn === vpn && last.at === this.hv.sim.now) {
        const message = `vCPU ${v.index} used a stale translation of ${space.name} page ${vpn} at ${last.at} ns: a write through a read-only entry a completed shootdown should have removed`;
        if (this.unfenced !== undefined) {
          throw new InjectedFaultError(`${message} (vms[${this.vm.index}].faults.dropIpiFence: the fence between the page-table write and the shootdown IPI was dropped by fault injection, so the vCPU refilled its TLB from the old page table after its flush)`);
        }
        throw new KernelError(message);
      }
      throw new KernelError(`vCPU ${v.index} wrote read-only page ${vpn} of ${space.name}`);
    }
    this.cowFault(v, space, vpn, () => this.write(v, vpn, value, done));
  }

  /**
   * dropIpiFence: a write fault on a PTE whose change another vCPU's store buffer still hides. The
   * fault (x86 drops the faulting TLB entry on a #PF) takes the page-table lock, which orders it
   * after the writer's unlock and so makes the change visible, finds the PTE already changed and
   * returns (a spurious fault); `retry` repeats the access.
   */
  private spuriousFault(v: Vcpu, space: AddressSpace, vpn: number, retry: () => void): void {
    this.tlbs[v.index]!.invalidatePage(space.id, vpn);
    v.pushWork(this.costs.pageFault, () => {
      const ptl = this.ptl(space, vpn);
      ptl.acquire(v, () => {
        this.unfenced?.drainPage(space, vpn);
        ptl.release(v, retry);
      });
    });
  }

  // ---- page-table changes ---------------------------------------------------------------------

  /**
   * Changes PTEs of `space` as guest work on `initiator` (`mutate` applies them), then removes
   * the old translations from every TLB with the VM's strategy and coordination. `done` once
   * the shootdown completed: from then on no vCPU may use an old translation.
   *
   * With the fence (the default, as Linux) the writes are visible to every vCPU before the IPI
   * goes out. Under `faults.dropIpiFence` they become visible to others only when the
   * initiator's shootdown wait ends — when the strategy calls `done`, the one point every
   * strategy and coordination shares (sync: the last acknowledgement; invlpgb: TLBSYNC; batched:
   * its batch's flush; AMP: the master's report) — or earlier when another vCPU takes a lock the
   * initiator released after them (`UnfencedPteWrites`).
   */
  changePtes(initiator: Vcpu, space: AddressSpace, vpns: readonly number[], mutate: () => boolean | void, done: () => void, holdPtlAcrossFlush = false, freed?: { readonly frames: number[]; readonly shared: number[] }): void {
    // The PTEs are written under the page-table lock of each page-table page they are in.
    const groups = pmdGroups(vpns);
    const flush = (after: () => void): void => {
      const unfenced = this.unfenced;
      const before = unfenced?.snapshot(space, vpns);
      // `mutate` says whether it emptied a page-table page (munmap frees it: freed_tables).
      const freedTables = mutate() === true;
      const version = ++this.version;
      const pending = before === undefined ? undefined : unfenced!.record(initiator.index, space, vpns, before, version);
      if (freed !== undefined) this.frees.set(version, { space, vpns, frames: freed.frames, shared: freed.shared, version, deferred: false, released: false });
      this.shootdown({ initiator, space, vpns, version, freedTables, kind: freed === undefined ? 'in-place' : 'free' }, () => {
        // The end of the shootdown wait: the initiator's next full ordering point.
        if (pending !== undefined) unfenced!.drain(pending);
        space.commit(vpns, version, this.hv.sim.now);
        if (freed !== undefined) {
          const rec = this.frees.get(version)!;
          this.frees.delete(version);
          // Not deferred (every built-in): the frames may be reused from now on.
          if (!rec.deferred) this.release(rec);
        }
        after();
      });
    };
    if (holdPtlAcrossFlush && groups.length === 1) {
      // wp_page_copy: ptep_clear_flush runs the shootdown with the PTE lock held.
      const ptl = this.ptl(space, groups[0]![0] * PAGES_PER_HUGE);
      ptl.acquire(initiator, () =>
        initiator.pushWork(this.costs.pteWrite * vpns.length, () =>
          flush(() => {
            ptl.release(initiator, done);
          }),
        ),
      );
      return;
    }
    const next = (i: number): void => {
      if (i >= groups.length) {
        flush(done);
        return;
      }
      const [pmd, count] = groups[i]!;
      const ptl = this.ptl(space, pmd * PAGES_PER_HUGE);
      ptl.acquire(initiator, () =>
        initiator.pushWork(this.costs.pteWrite * count, () => {
          ptl.release(initiator, () => next(i + 1));
        }),
      );
    };
    next(0);
  }

  /** Remaps each page to a fresh frame (as munmap + mmap, or page migration would). */
  remap(initiator: Vcpu, space: AddressSpace, vpns: readonly number[], done: () => void): void {
    this.changePtes(initiator, space, vpns, () => {
      for (const vpn of vpns) {
        const t = space.translate(vpn);
        space.mapSmall(vpn, this.allocFrame(), t?.writable ?? true);
      }
    }, done);
  }

  /**
   * Unmaps pages (munmap's zap and flush): a free (`ShootdownRequest.kind`). Their frames may be
   * reused once the shootdown is done, or, when the strategy deferred that
   * (`ShootdownContext.deferRelease`), once it releases them. The initiator pays for freeing the
   * pages that were mapped after the shootdown, under the LRU lock (`freePages`).
   */
  unmap(initiator: Vcpu, space: AddressSpace, vpns: readonly number[], done: () => void, freeTables = true): void {
    let mapped = 0;
    const freed = { frames: [] as number[], shared: [] as number[] };
    const cow = this.cow.get(space)!;
    this.changePtes(initiator, space, vpns, () => {
      let tables = false;
      for (const vpn of vpns) {
        const t = space.translate(vpn);
        if (t !== undefined) mapped++;
        // A copy-on-write page's frame may still be mapped by the other process: not freed.
        if (t !== undefined && !t.huge) (cow.delete(vpn) ? freed.shared : freed.frames).push(t.frame);
        if (space.unmapSmall(vpn)) tables = true;
      }
      return tables && freeTables;
    }, () => this.freePages(initiator, mapped, done), false, freed);
  }

  /** A frame for a new mapping: the last released one, else a fresh one (zeroed either way). */
  private allocFrame(): number {
    const f = this.freeFrames.pop();
    if (f === undefined) return this.nextFrame++;
    this.data.delete(f);
    return f;
  }

  /** A free's frames go back on the free list and its range leaves quarantine (unless a later free of a page took it over). */
  private release(rec: FreeRecord): void {
    rec.released = true;
    if (rec.deferred) {
      this.lazyFrees.released++;
      for (const f of rec.frames) this.unhold(f);
      for (const f of rec.shared) this.unhold(f);
    }
    for (const f of rec.frames) this.freeFrames.push(f);
    if (!rec.deferred) return;
    for (const vpn of rec.vpns) if (rec.space.quarantined.get(vpn) === rec.version) rec.space.quarantined.delete(vpn);
  }

  /**
   * fork(): the child shares every frame read-only; the parent's entries are write-protected
   * too (copy_page_range), and the parent's TLBs flushed (dup_mmap's flush_tlb_mm).
   */
  fork(initiator: Vcpu, parent: AddressSpace, childName: string, done: (child: AddressSpace) => void): void {
    const child = this.createSpace(childName);
    const small = parent.smallPages();
    const huge = parent.hugePages();
    const vpns = [...small.map(([vpn]) => vpn), ...huge.flatMap(([h]) => Array.from({ length: PAGES_PER_HUGE }, (_, i) => h * PAGES_PER_HUGE + i))];
    // Copying a PTE and write-protecting the parent's: two PTE writes per mapping.
    initiator.pushWork(this.costs.pteWrite * (small.length + huge.length), () =>
      this.changePtes(initiator, parent, vpns, () => {
        for (const [vpn, frame] of small) {
          parent.mapSmall(vpn, frame, false);
          child.mapSmall(vpn, frame, false);
          this.cow.get(parent)!.add(vpn);
          this.cow.get(child)!.add(vpn);
        }
        for (const [h, frame] of huge) {
          parent.mapHuge(h, frame, false);
          child.mapHuge(h, frame, false);
          this.cow.get(parent)!.add(-1 - h);
          this.cow.get(child)!.add(-1 - h);
        }
      }, () => done(child)),
    );
  }

  /**
   * A write to a shared page: fault, copy the page into a fresh frame, remap the writer's page
   * writable and shoot down the old read-only entry wherever the writer's space is cached.
   * A shared huge page is split first.
   */
  private cowFault(v: Vcpu, space: AddressSpace, vpn: number, retry: () => void): void {
    const h = Math.floor(vpn / PAGES_PER_HUGE);
    if (space.isHuge(h)) {
      this.splitHuge(v, space, h, () => retry());
      return;
    }
    v.pushWork(this.costs.pageFault + this.costs.pageCopy, () => {
      const old = space.translate(vpn);
      // A racing munmap took the page meanwhile: the fault finds no PTE, and the retry faults a new one in.
      if (old === undefined) {
        this.faultIn(v, space, vpn, retry);
        return;
      }
      const frame = this.allocFrame();
      this.data.set(frame, this.data.get(old.frame) ?? 0);
      this.changePtes(v, space, [vpn], () => {
        // Re-checked under the page-table lock: a racing fault may have copied it already.
        if (!this.cow.get(space)!.has(vpn)) return;
        space.mapSmall(vpn, frame, true);
        this.cow.get(space)!.delete(vpn);
      }, () => this.lruAdd(v, retry), true);
    });
  }

  private isHugeCow(space: AddressSpace, vpn: number): boolean {
    return this.cow.get(space)!.has(-1 - Math.floor(vpn / PAGES_PER_HUGE));
  }

  /**
   * Splits a 2 MiB mapping into 512 small ones (same frames, same permission; a shared huge
   * page's small pages stay copy-on-write), then shoots down the huge entry everywhere.
   */
  splitHuge(initiator: Vcpu, space: AddressSpace, hugeVpn: number, done: () => void): void {
    if (!space.isHuge(hugeVpn)) throw new InvalidParameterError('hugeVpn', hugeVpn, `a huge mapping of ${space.name}`);
    const vpns = Array.from({ length: PAGES_PER_HUGE }, (_, i) => hugeVpn * PAGES_PER_HUGE + i);
    initiator.pushWork(this.costs.hugeSplit, () =>
      this.changePtes(initiator, space, vpns, () => {
        // Re-checked under the page-table lock: another vCPU may have split it meanwhile.
        if (!space.isHuge(hugeVpn)) return;
        const t = space.translate(vpns[0]!)!;
        const cow = this.cow.get(space)!;
        const wasCow = cow.delete(-1 - hugeVpn);
        space.unmapHuge(hugeVpn);
        vpns.forEach((vpn, i) => {
          space.mapSmall(vpn, t.frame + i, t.writable);
          if (wasCow) cow.add(vpn);
        });
      }, done),
    );
  }

  // ---- shootdowns ------------------------------------------------------------------------------

  /** Runs a shootdown per the VM's coordination: directly (SMP) or through the master (AMP). */
  shootdown(req: ShootdownRequest, finished: () => void): void {
    const id = this.shootdowns++;
    const sink = this.hv.sink;
    const start = this.hv.sim.now;
    let done = finished;
    if (sink.wants['shootdown-begin']) sink.emit({ type: 'shootdown-begin', t: start, id, vcpu: req.initiator.ref, pages: req.vpns.length, strategy: this.strategy.name });
    if (sink.wants['shootdown-end']) {
      done = () => {
        sink.emit({ type: 'shootdown-end', t: this.hv.sim.now, id, vcpu: req.initiator.ref, duration: this.hv.sim.now - start });
        finished();
      };
    }
    if (this.coordination === 'smp' || req.initiator === this.master) {
      this.strategy.flush(this, req, done);
      return;
    }
    // AMP: hand the request to the master with an IPI, then spin until the master reports.
    const requester = req.initiator;
    let reported = false;
    let spin: { release(): void } | undefined;
    const report = (): void => {
      reported = true;
      spin?.release();
    };
    this.kernel.crossCall(requester, [this.master], () => {
      if (reported) {
        requester.pushWork(this.hv.fabric.cacheLine(requester.pcpu, this.master.pcpu), done);
        return;
      }
      spin = requester.pushSpin(() => requester.pushWork(this.hv.fabric.cacheLine(requester.pcpu, this.master.pcpu), done));
    }, undefined, {
      cost: () => this.costs.handlerBody,
      run: () => this.ampQueue.push({ req: { ...req, initiator: this.master }, done: report }),
      after: () => this.ampProcess(),
    });
  }

  /** AMP: the master has a flush under way or queued. */
  get ampPending(): boolean {
    return this.ampBusy || this.ampQueue.length > 0;
  }

  /** The master works through queued requests one at a time: the serial bottleneck of AMP. */
  private ampProcess(): void {
    if (this.ampBusy) return;
    const next = this.ampQueue.shift();
    if (next === undefined) return;
    this.ampBusy = true;
    this.master.pushWork(0, () =>
      this.strategy.flush(this, next.req, () => {
        next.done();
        this.ampBusy = false;
        this.ampProcess();
      }),
    );
  }

  // ---- the shootdown context (ShootdownContext: what a strategy is given) -------------------------

  /** `ShootdownContext.clock`: the simulation. */
  get clock(): Clock {
    return this.hv.sim;
  }

  /** `ShootdownContext.vcpus`: the VM's vCPUs. */
  get vcpus(): readonly Vcpu[] {
    return this.vm.vcpus;
  }

  /** `ShootdownContext.pvTlbFlush`: the guest's PV TLB flush is on. */
  get pvTlbFlush(): boolean {
    return this.kernel.pvTlbFlush;
  }

  /** `ShootdownContext.schedule`: a timer. */
  schedule(delayNs: number, fn: () => void): void {
    this.hv.sim.schedule(delayNs, fn);
  }

  /** `ShootdownContext.deferPreempted`: the guest kernel's PV TLB flush deferral. */
  deferPreempted(initiator: Vcpu, targets: readonly Vcpu[]): readonly Vcpu[] {
    return this.kernel.deferPreempted(initiator, targets);
  }

  /** `ShootdownContext.crossCall`: the guest kernel's smp_call_function_many. */
  crossCall(initiator: Vcpu, targets: readonly Vcpu[], done: () => void, onHandlerStart?: (target: Vcpu, at: number) => void, work?: CallWork): void {
    this.kernel.crossCall(initiator, targets, done, onHandlerStart, work);
  }

  /**
   * `ShootdownContext.broadcastInvalidate`: INVLPGB per page (one for the whole space above the
   * single-page ceiling) and TLBSYNC, within the host's outstanding-broadcast slots (shared by
   * all VMs: broadcast-slots.ts); the entries leave every TLB of the VM when it completes.
   */
  broadcastInvalidate(initiator: Vcpu, space: AddressSpace, vpns: readonly number[], done: () => void): void {
    const c = this.costs;
    const broadcasts = vpns.length > c.tlbSinglePageFlushCeiling ? 1 : vpns.length;
    const slots = broadcastSlots(this.hv);
    slots.acquire(initiator, this.broadcastStats, () =>
      initiator.pushWork(broadcasts * c.invlpgbPerPage + c.tlbSync, () => {
        for (const t of this.vm.vcpus) this.invalidateOn(t, space, vpns);
        slots.release();
        done();
      }),
    );
  }

  /** `ShootdownContext.considerGlobalAsid` (global-asid.ts). */
  considerGlobalAsid(space: AddressSpace): void {
    considerGlobalAsid(this, space);
  }

  /** `ShootdownContext.deferRelease`: holds the free's frames and quarantines its range until the returned function is called. */
  deferRelease(req: ShootdownRequest): () => void {
    const rec = this.frees.get(req.version);
    if (req.kind !== 'free' || rec === undefined) throw new KernelError(`deferRelease: the shootdown of ${req.space.name} (change ${req.version}) is not a free under way, so its old translations must be gone at done`);
    if (rec.deferred) throw new KernelError(`deferRelease: the release of change ${req.version} is already deferred`);
    rec.deferred = true;
    this.lazyFrees.deferred++;
    for (const vpn of rec.vpns) rec.space.quarantined.set(vpn, rec.version);
    for (const f of rec.frames) this.heldFrames.set(f, (this.heldFrames.get(f) ?? 0) + 1);
    for (const f of rec.shared) this.heldFrames.set(f, (this.heldFrames.get(f) ?? 0) + 1);
    return () => {
      if (rec.released) throw new KernelError(`a strategy released the frames of change ${rec.version} twice`);
      this.release(rec);
    };
  }

  private unhold(frame: number): void {
    const n = this.heldFrames.get(frame)!;
    if (n > 1) this.heldFrames.set(frame, n - 1);
    else this.heldFrames.delete(frame);
  }

  /** `ShootdownContext.onNextTickOrSwitch`: queued per vCPU, run from `switchTo`, `enterLazy` or the tick. */
  onNextTickOrSwitch(v: Vcpu, fn: (v: Vcpu) => number): void {
    if (this.sweeps === null) {
      this.sweeps = this.vm.vcpus.map(() => []);
      this.kernel.onTick((t) => {
        const cost = this.runSweeps(t);
        if (cost > 0) t.pushWork(cost, nothing);
      });
    }
    this.sweeps[v.index]!.push(fn);
  }

  /** Runs what waits for `v`'s next tick or context switch; returns the ns to charge on `v`. */
  private runSweeps(v: Vcpu): number {
    const q = this.sweeps![v.index]!;
    if (q.length === 0) return 0;
    let cost = 0;
    for (const fn of q.splice(0)) cost += fn(v);
    return cost;
  }

  /** Cost of invalidating `pages` pages in one TLB: page by page, or a full flush above the ceiling. */
  invalidateCost(pages: number): number {
    return pages > this.costs.tlbSinglePageFlushCeiling ? this.costs.tlbFullFlush : this.costs.invlpg * pages;
  }

  /** Invalidates `vpns` of `space` in `v`'s TLB now; returns the cost to charge. */
  invalidateOn(v: Vcpu, space: AddressSpace, vpns: readonly number[]): number {
    const tlb = this.tlbs[v.index]!;
    if (vpns.length > this.costs.tlbSinglePageFlushCeiling) {
      tlb.flushAsid(space.id);
      // Nothing of the space is cached here any more: leave its cpumask unless running it.
      if (this.current[v.index] !== space) space.cpuMask.delete(v.index);
    } else {
      tlb.invalidatePages(space.id, vpns);
    }
    return this.invalidateCost(vpns.length);
  }

  private flushAllOn(v: Vcpu): void {
    this.tlbs[v.index]!.flushAll();
    for (const s of this.spaces) if (this.current[v.index] !== s) s.cpuMask.delete(v.index);
  }

  /**
   * Entries, anywhere, that a completed shootdown should have removed and that a vCPU could
   * still use: none may exist except on vCPUs whose flush is deferred to their next entry, or
   * to their next switch to the space (skipped while lazy or away: `AddressSpace.lazyStale`),
   * and entries of a lazily freed range whose frames are still held (`deferRelease`).
   */
  staleEntries(): StaleEntry[] {
    const out: StaleEntry[] = [];
    for (const v of this.vm.vcpus) {
      if (this.hv.hasFlushOnEntry(v)) continue;
      for (const s of this.spaces) {
        // Skipped lazily: it flushes the space before it runs it again (switchTo).
        if (s.lazyStale.has(v.index)) continue;
        for (const [vpn, committed] of s.committed) {
          const e = this.tlbs[v.index]!.lookup(s.id, vpn);
          // Of a free whose release is deferred: swept at the vCPU's next tick or switch.
          if (e !== undefined && e.version < committed && !this.quarantinedUse(s, vpn, e.version, e.frame)) out.push({ vcpu: v.index, space: s.name, vpn, version: e.version, committed, since: s.committedAt.get(vpn)! });
        }
      }
    }
    return out;
  }

  /** The value `space` sees at `vpn` (for checks; no cost, no TLB). */
  peek(space: AddressSpace, vpn: number): number {
    const t = space.translate(vpn);
    return t === undefined ? NaN : (this.data.get(t.frame) ?? 0);
  }
}

/** Pages grouped by page-table page (PMD index), in first-seen order: [pmd, pages]. */
function pmdGroups(vpns: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  let last = NaN;
  for (const vpn of vpns) {
    const pmd = Math.floor(vpn / PAGES_PER_HUGE);
    if (pmd === last) {
      out[out.length - 1]![1]++;
      continue;
    }
    const g = out.find((x) => x[0] === pmd);
    if (g !== undefined) g[1]++;
    else out.push([pmd, 1]);
    last = pmd;
  }
  return out;
}
