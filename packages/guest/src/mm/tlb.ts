import { PAGES_PER_HUGE } from './address-space';

/** A cached translation and the model version at which it was read from the page table. */
export interface TlbEntry {
  readonly frame: number;
  readonly writable: boolean;
  readonly huge: boolean;
  readonly version: number;
}

const ASID_SCALE = 2 ** 36;
const SMALL_ASIDS = 512;
const SMALL_PAGES = 2 ** 21;

/**
 * The key of (address-space id, page) in a TLB map: a small integer (< 2^30, an unboxed Smi in
 * V8, so a lookup allocates nothing) for ids below 512 and pages below 2^21, else a negative
 * number that no small key can equal. One-to-one (a property test checks it).
 */
export function tlbKey(asid: number, page: number): number {
  return asid < SMALL_ASIDS && page < SMALL_PAGES ? asid * SMALL_PAGES + page : -(asid * ASID_SCALE + page) - 1;
}

/** The address-space id of a `tlbKey`. */
export function asidOfKey(key: number): number {
  return key >= 0 ? Math.floor(key / SMALL_PAGES) : Math.floor((-key - 1) / ASID_SCALE);
}

/**
 * One vCPU's TLB: translations tagged by address-space id, small and huge entries, with a
 * fixed capacity and first-in-first-out replacement. INVLPG of an address drops both the small
 * entry and the huge entry that covers it.
 */
export class Tlb {
  private readonly entries = new Map<number, TlbEntry>();
  private readonly hugeEntries = new Map<number, TlbEntry>();

  /**
   * `counts[at]` is kept equal to the entries held, small and huge. A VM's TLBs share one dense
   * array (`MemoryManager`), so a flush handler sees an empty TLB from one number in a small array
   * instead of reaching the TLB's two hash tables, each a likely cache miss on a large VM.
   */
  constructor(
    readonly capacity: number,
    private readonly counts: Int32Array = new Int32Array(1),
    private readonly at = 0,
  ) {}

  /** Entries held, small and huge. */
  get size(): number {
    return this.counts[this.at]!;
  }

  /** The entry translating `vpn` of address space `asid` (small, or the huge page holding it), if cached. */
  lookup(asid: number, vpn: number): TlbEntry | undefined {
    const e = this.entries.get(tlbKey(asid, vpn));
    // Most TLBs hold no huge entry: then the second probe (a likely cache miss on a large host) is skipped.
    return e !== undefined || this.hugeEntries.size === 0 ? e : this.hugeEntries.get(tlbKey(asid, Math.floor(vpn / PAGES_PER_HUGE)));
  }

  /** Cache a translation (evicting the oldest entry when full). */
  fill(asid: number, vpn: number, entry: TlbEntry): void {
    const map = entry.huge ? this.hugeEntries : this.entries;
    const key = tlbKey(asid, entry.huge ? Math.floor(vpn / PAGES_PER_HUGE) : vpn);
    if (map.delete(key)) this.add(-1);
    if (this.size >= this.capacity) this.evictOldest();
    map.set(key, entry);
    this.add(1);
  }

  /** Drop the entries for one page (INVLPG): its small entry and the huge one holding it. */
  invalidatePage(asid: number, vpn: number): void {
    if (this.entries.delete(tlbKey(asid, vpn))) this.add(-1);
    if (this.hugeEntries.size !== 0 && this.hugeEntries.delete(tlbKey(asid, Math.floor(vpn / PAGES_PER_HUGE)))) this.add(-1);
  }

  /**
   * INVLPG of each page of `vpns` (`invalidatePage` for each). An empty TLB — on a large VM
   * churning shootdowns, most are: each handler flushes what little its vCPU cached — skips
   * the probes.
   */
  invalidatePages(asid: number, vpns: readonly number[]): void {
    if (this.size === 0) return;
    for (let i = 0; i < vpns.length; i++) this.invalidatePage(asid, vpns[i]!);
  }

  /** Drops every entry of one address space (INVPCID single-context). */
  flushAsid(asid: number): void {
    for (const map of [this.entries, this.hugeEntries]) {
      for (const key of map.keys()) if (asidOfKey(key) === asid && map.delete(key)) this.add(-1);
    }
  }

  /** Drop every entry (a full flush: CR3 write without PCID, KVM's flush on entry). */
  flushAll(): void {
    this.entries.clear();
    this.hugeEntries.clear();
    this.counts[this.at] = 0;
  }

  /** Whether any entry of the address space `asid` is cached. */
  holdsAsid(asid: number): boolean {
    for (const map of [this.entries, this.hugeEntries]) {
      for (const key of map.keys()) if (asidOfKey(key) === asid) return true;
    }
    return false;
  }

  private add(d: number): void {
    this.counts[this.at] = this.counts[this.at]! + d;
  }

  private evictOldest(): void {
    const a = this.entries.keys().next();
    if (!a.done) {
      this.entries.delete(a.value);
      this.add(-1);
      return;
    }
    const b = this.hugeEntries.keys().next();
    if (!b.done) {
      this.hugeEntries.delete(b.value);
      this.add(-1);
    }
  }
}
