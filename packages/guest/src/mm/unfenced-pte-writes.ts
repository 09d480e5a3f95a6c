import type { AddressSpace, Translation } from './address-space';

/** One page-table change whose PTE writes are still in its writer's store buffer. */
export interface UnfencedChange {
  /** vCPU index of the writer: it sees its own writes (store forwarding). */
  readonly writer: number;
  /** Model version of the change; what others still see was current just before it. */
  readonly version: number;
  readonly space: AddressSpace;
  /** Per page the change altered: the translation other vCPUs' page walks still find. */
  readonly before: Map<number, Translation>;
}

/**
 * Fault injection `dropIpiFence`: the PTE writes of a page-table change stay in the initiator's
 * store buffer after it sends the shootdown IPI, because nothing orders them before the IPI
 * (Linux's weak_wrmsr_fence before an x2APIC ICR write, arm64's dsb(ishst) in gic_ipi_send_mask
 * are left out). Other vCPUs' page walks of those pages keep finding the old translations until
 * the writes become visible:
 * - at the latest legal point: the initiator's next full ordering point, the end of its
 *   shootdown wait (`MemoryManager.changePtes`, when the strategy calls `done`);
 * - earlier, when another vCPU takes the page-table lock the writer released after writing
 *   (a fault on the page, another change of it): its lock acquisition observes the writer's
 *   unlock and so the writes before it (x86 and arm64 are (other-)multi-copy atomic: then every
 *   vCPU sees them).
 * A not-present old PTE is not hidden: no TLB caches it, and the fault it raises takes the lock.
 */
export class UnfencedPteWrites {
  private readonly pending = new Map<AddressSpace, Map<number, UnfencedChange>>();

  /** The pending change that hides `vpn` of `space` from vCPU `v`, if any. */
  hiding(v: number, space: AddressSpace, vpn: number): UnfencedChange | undefined {
    const c = this.pending.get(space)?.get(vpn);
    return c === undefined || c.writer === v ? undefined : c;
  }

  /**
   * Before `writer` changes `vpns` of `space` (holding their page-table locks): pending writes of
   * those pages by others become visible; returns the translations as they are now.
   */
  snapshot(space: AddressSpace, vpns: readonly number[]): (Translation | undefined)[] {
    const m = this.pending.get(space);
    if (m !== undefined) for (const vpn of vpns) this.drainPage(space, vpn);
    return vpns.map((vpn) => space.translate(vpn));
  }

  /** After the change: records the pages it altered as not yet visible to others. */
  record(writer: number, space: AddressSpace, vpns: readonly number[], before: readonly (Translation | undefined)[], version: number): UnfencedChange | undefined {
    const altered = new Map<number, Translation>();
    vpns.forEach((vpn, i) => {
      const old = before[i];
      if (old === undefined) return;
      const now = space.translate(vpn);
      if (now !== undefined && now.frame === old.frame && now.writable === old.writable && now.huge === old.huge) return;
      altered.set(vpn, old);
    });
    if (altered.size === 0) return undefined;
    const change: UnfencedChange = { writer, version, space, before: altered };
    let m = this.pending.get(space);
    if (m === undefined) {
      m = new Map();
      this.pending.set(space, m);
    }
    for (const vpn of altered.keys()) m.set(vpn, change);
    return change;
  }

  /** The change's writes become visible to every vCPU. */
  drain(change: UnfencedChange): void {
    const m = this.pending.get(change.space);
    if (m === undefined) return;
    for (const vpn of change.before.keys()) if (m.get(vpn) === change) m.delete(vpn);
    if (m.size === 0) this.pending.delete(change.space);
  }

  /** Whatever pending change covers `vpn` becomes visible (someone took its page-table lock). */
  drainPage(space: AddressSpace, vpn: number): void {
    const c = this.pending.get(space)?.get(vpn);
    if (c !== undefined) this.drain(c);
  }

  /** Pages whose writes are not yet visible to all (for tests). */
  get size(): number {
    let n = 0;
    for (const m of this.pending.values()) n += m.size;
    return n;
  }
}
