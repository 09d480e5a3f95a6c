/** Small pages per huge page (2 MiB / 4 KiB). */
export const PAGES_PER_HUGE = 512;

/** A translation: the frame a virtual page maps to, and whether it may be written. */
export interface Translation {
  readonly frame: number;
  readonly writable: boolean;
  /** True when it comes from a 2 MiB mapping. */
  readonly huge: boolean;
}

/**
 * A process's address space: its page table (small and huge mappings) and the set of vCPUs
 * that may hold its translations in their TLBs (Linux's mm_cpumask). A vCPU joins the set when
 * it runs the address space and stays in it after switching away — lazily — until its TLB no
 * longer holds any of the space's entries.
 */
export class AddressSpace {
  private readonly small = new Map<number, { frame: number; writable: boolean }>();
  private readonly huge = new Map<number, { frame: number; writable: boolean }>();
  /** Small pages mapped per page-table page (PMD index): a PTE page is freed when its count falls to 0. */
  private readonly perPmd = new Map<number, number>();
  /** vCPU indices that may cache this space's translations. */
  readonly cpuMask = new Set<number>();
  /**
   * vCPUs a shootdown skipped because they were in lazy TLB mode or had switched to another
   * space: their TLB may hold entries of this space that are out of date, and they must flush
   * them before they run it again (switch_mm_irqs_off's tlb_gen check; `MemoryManager.switchTo`).
   */
  readonly lazyStale = new Set<number>();
  /**
   * Per virtual page freed by a shootdown whose release a lazy strategy deferred
   * (`ShootdownContext.deferRelease`): the version of that free. Until it is released the range
   * is quarantined: stale entries of it may still sit in TLBs (their frames are held), and a new
   * mapping of the page stands for a different virtual range, as LATR's mmap would hand out.
   */
  readonly quarantined = new Map<number, number>();
  /** Per virtual page: the version of the last change whose shootdown has completed. */
  readonly committed = new Map<number, number>();
  /** Per virtual page: when (ns) that shootdown completed, for the laws' messages. */
  readonly committedAt = new Map<number, number>();
  /**
   * Has a global ASID (Linux >= 6.15 with INVLPGB: use_global_asid): its flushes are broadcast
   * by the `invlpgb` strategy instead of sent as IPIs. See `considerGlobalAsid`.
   */
  globalAsid = false;

  constructor(
    /** Address-space id (PCID) tagging this space's TLB entries. */
    readonly id: number,
    readonly name: string,
  ) {}

  /** The translation of `vpn` now (small or huge page), or undefined when not mapped. */
  translate(vpn: number): Translation | undefined {
    const s = this.small.get(vpn);
    if (s !== undefined) return { frame: s.frame, writable: s.writable, huge: false };
    const h = this.huge.get(Math.floor(vpn / PAGES_PER_HUGE));
    if (h !== undefined) return { frame: h.frame + (vpn % PAGES_PER_HUGE), writable: h.writable, huge: true };
    return undefined;
  }

  /** Map one 4 KiB page to `frame`. */
  mapSmall(vpn: number, frame: number, writable: boolean): void {
    if (!this.small.has(vpn)) {
      const pmd = Math.floor(vpn / PAGES_PER_HUGE);
      this.perPmd.set(pmd, (this.perPmd.get(pmd) ?? 0) + 1);
    }
    this.small.set(vpn, { frame, writable });
  }

  /** Unmaps a small page; returns true when that emptied its page-table page (munmap would free it). */
  unmapSmall(vpn: number): boolean {
    if (!this.small.delete(vpn)) return false;
    const pmd = Math.floor(vpn / PAGES_PER_HUGE);
    const left = (this.perPmd.get(pmd) ?? 1) - 1;
    if (left > 0) {
      this.perPmd.set(pmd, left);
      return false;
    }
    this.perPmd.delete(pmd);
    return true;
  }

  /** Map one 2 MiB page (`hugeVpn` counts huge pages) to the frames from `baseFrame`. */
  mapHuge(hugeVpn: number, baseFrame: number, writable: boolean): void {
    this.huge.set(hugeVpn, { frame: baseFrame, writable });
  }

  /** Remove a 2 MiB mapping. */
  unmapHuge(hugeVpn: number): void {
    this.huge.delete(hugeVpn);
  }

  /** Whether `hugeVpn` is mapped as a 2 MiB page. */
  isHuge(hugeVpn: number): boolean {
    return this.huge.has(hugeVpn);
  }

  /** Mapped small pages, as [vpn, frame, writable]. */
  smallPages(): [number, number, boolean][] {
    return [...this.small].map(([vpn, e]) => [vpn, e.frame, e.writable]);
  }

  /** Mapped huge pages, as [hugeVpn, base frame, writable]. */
  hugePages(): [number, number, boolean][] {
    return [...this.huge].map(([h, e]) => [h, e.frame, e.writable]);
  }

  /** Records that a change (of `version`) to these pages is now, at `at` ns, flushed everywhere. */
  commit(vpns: readonly number[], version: number, at: number): void {
    for (const vpn of vpns) {
      if ((this.committed.get(vpn) ?? -1) < version) {
        this.committed.set(vpn, version);
        this.committedAt.set(vpn, at);
      }
    }
  }
}
