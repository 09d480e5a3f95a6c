import { InvalidParameterError } from '@ipilab/core';
import type { HostTopology } from '@ipilab/host';
import type { VmSpec } from './vm';

/**
 * Where a VM's vCPU threads may run. `pinned`: one dedicated pCPU each, taken from `pcpus`
 * (or the next free ones) and refused when too few are free. `shared`: every vCPU may run on
 * any pCPU of the set (`pcpus`, or all of them) that is not pinned to a VM — a thread's
 * affinity mask, as libvirt sets it with <vcpu cpuset=...>; the host scheduler decides where
 * within it. Returns each vCPU's allowed pCPUs (a shared VM's in the order given: vCPU i starts on the i-th).
 */
export class VcpuPlacement {
  private readonly pinnedTaken: boolean[];

  constructor(private readonly topology: HostTopology) {
    this.pinnedTaken = topology.pcpus.map(() => false);
  }

  place(field: string, spec: VmSpec): (readonly number[])[] {
    const all = this.topology.pcpus.map((p) => p.id);
    if (spec.pcpus !== undefined) {
      spec.pcpus.forEach((p, i) => {
        if (!Number.isSafeInteger(p) || p < 0 || p >= all.length) {
          throw new InvalidParameterError(`${field}.pcpus[${i}]`, p, `a pCPU number in [0, ${all.length - 1}]`);
        }
      });
    }
    if (spec.placement === 'pinned') {
      const pool = spec.pcpus ?? all.filter((p) => !this.pinnedTaken[p]);
      const free = pool.filter((p) => !this.pinnedTaken[p]);
      if (free.length < spec.vcpus) {
        throw new InvalidParameterError(`${field}.vcpus`, spec.vcpus, `at most ${free.length} pinned vCPUs: only ${free.length} pCPUs are free for pinning`);
      }
      const chosen = free.slice(0, spec.vcpus);
      for (const p of chosen) this.pinnedTaken[p] = true;
      return chosen.map((p) => [p]);
    }
    if (spec.placement !== 'shared') {
      throw new InvalidParameterError(`${field}.placement`, spec.placement, '"pinned" or "shared"');
    }
    const pool = [...new Set(spec.pcpus ?? all)].filter((p) => !this.pinnedTaken[p]);
    if (pool.length === 0) throw new InvalidParameterError(`${field}.pcpus`, spec.pcpus, 'at least one pCPU not pinned to another VM');
    return Array.from({ length: spec.vcpus }, () => pool);
  }
}
