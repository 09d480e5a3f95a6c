import type { Hypervisor } from '@ipilab/hypervisor';
import type { Vcpu } from '@ipilab/vcpu';
import type { LockStats } from './lock-stats';

/**
 * A lock word's cache line: which vCPU last wrote it. An atomic on it from another vCPU first
 * pulls the line over (a coherence miss whose cost the fabric gives by distance between the
 * two vCPUs' current pCPUs); from the same vCPU it is an L1 hit.
 */
export class LockWord {
  private last: Vcpu | null = null;

  constructor(
    private readonly hv: Hypervisor,
    private readonly stats: LockStats,
  ) {}

  /** Cost, on `v`, of one atomic on the word (lockAtomic plus the transfer if the line is elsewhere). */
  touch(v: Vcpu): number {
    const last = this.last;
    this.last = v;
    if (last === null || last === v) return this.hv.costs.lockAtomic;
    this.stats.lineTransfers++;
    return this.hv.costs.lockAtomic + this.hv.fabric.cacheLine(v.pcpu, last.pcpu);
  }
}
