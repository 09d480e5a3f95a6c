import type { AddressSpace } from './address-space';
import type { MemoryManager } from './memory-manager';

/**
 * mm_active_cpus_exceeds (arch/x86/mm/tlb.c, Linux >= 6.15): whether more than `threshold` vCPUs
 * really run `space` now — in its cpumask, with it loaded (cpu_tlbstate.loaded_mm) and not lazy
 * (cpu_tlbstate_shared.is_lazy: an idle vCPU that merely kept the mm loaded).
 */
export function activeVcpusExceed(mm: MemoryManager, space: AddressSpace, threshold: number): boolean {
  // The quick check "should eliminate most single threaded programs".
  if (space.cpuMask.size <= threshold) return false;
  let count = 0;
  for (const i of space.cpuMask) {
    if (mm.current[i] !== space) continue;
    if (mm.isLazy(mm.vm.vcpus[i]!)) continue;
    if (++count > threshold) return true;
  }
  return false;
}

/**
 * consider_global_asid (arch/x86/mm/tlb.c, Rik van Riel's "x86/mm: AMD broadcast TLB
 * invalidation" series, Linux 6.15), called by flush_tlb_mm_range after an IPI shootdown: "check
 * every once in a while" — when (pid & 0x1f) == (jiffies & 0x1f), the address-space id standing
 * in for the pid and jiffies counted at the host's HZ from time 0 — and give the process a global
 * ASID (use_global_asid) if it is active on 4 or more CPUs (mm_active_cpus_exceeds(mm, 3)). From
 * then on its flushes are broadcast; a process never qualifies otherwise keeps using IPIs.
 * Not modelled: running out of global ASIDs (global_asid_available), which needs thousands.
 */
export function considerGlobalAsid(mm: MemoryManager, space: AddressSpace): void {
  if (space.globalAsid) return;
  const jiffies = Math.floor((mm.hv.sim.now * mm.hv.config.hz) / 1e9);
  if ((space.id & 0x1f) !== (jiffies & 0x1f)) return;
  if (activeVcpusExceed(mm, space, 3)) space.globalAsid = true;
}
