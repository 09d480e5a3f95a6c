import { InvalidParameterError } from '@ipilab/core';
import type { HostTopology } from '@ipilab/host';
import type { PlacementPolicy, PlacementRequest } from './placement-policy';
import type { Placement, VmSpec } from './vm';

/** `pinned`: one dedicated pCPU each, taken from `pcpus` (a pCPU listed twice counts once) or the next free ones, refused when too few are free. */
export const PINNED_PLACEMENT: PlacementPolicy = {
  name: 'pinned',
  exclusive: true,
  place(req: PlacementRequest): (readonly number[])[] {
    // A pCPU listed twice is one pCPU (as for shared): two vCPUs must never be pinned to it.
    const pool = [...new Set(req.pcpus ?? req.topology.pcpus.map((p) => p.id))];
    const free = pool.filter((p) => !req.isTaken(p));
    if (free.length < req.vcpus) {
      throw new InvalidParameterError(`${req.field}.vcpus`, req.vcpus, `at most ${free.length} pinned vCPUs: only ${free.length} pCPUs are free for pinning`);
    }
    return free.slice(0, req.vcpus).map((p) => [p]);
  },
};

/**
 * `shared`: every vCPU may run on any pCPU of the set (`pcpus`, or all of them) that is not
 * pinned to a VM — a thread's affinity mask, as libvirt sets it with <vcpu cpuset=...>; the
 * host scheduler decides where within it.
 */
export const SHARED_PLACEMENT: PlacementPolicy = {
  name: 'shared',
  exclusive: false,
  place(req: PlacementRequest): (readonly number[])[] {
    const pool = [...new Set(req.pcpus ?? req.topology.pcpus.map((p) => p.id))].filter((p) => !req.isTaken(p));
    if (pool.length === 0) throw new InvalidParameterError(`${req.field}.pcpus`, req.pcpus, 'at least one pCPU not pinned to another VM');
    return Array.from({ length: req.vcpus }, () => pool);
  },
};

/** A VmSpec's placement as a policy: the built-ins by name, or the policy itself. */
export function placementPolicy(p: Placement): PlacementPolicy {
  if (typeof p !== 'string') return p;
  if (p === 'pinned') return PINNED_PLACEMENT;
  if (p === 'shared') return SHARED_PLACEMENT;
  throw new InvalidParameterError('placement', p, '"pinned" or "shared"');
}

/**
 * Where a VM's vCPU threads may run: checks the VM's `pcpus`, asks its placement policy, checks
 * what the policy returned, and keeps the pCPUs an exclusive policy took from later VMs.
 */
export class VcpuPlacement {
  private readonly pinnedTaken: boolean[];

  constructor(private readonly topology: HostTopology) {
    this.pinnedTaken = topology.pcpus.map(() => false);
  }

  /** Each vCPU's allowed pCPUs for the VM `spec` (errors name `field`, e.g. `vms[2]`). */
  place(field: string, spec: VmSpec): (readonly number[])[] {
    const n = this.topology.pcpus.length;
    if (spec.pcpus !== undefined) {
      spec.pcpus.forEach((p, i) => {
        if (!Number.isSafeInteger(p) || p < 0 || p >= n) {
          throw new InvalidParameterError(`${field}.pcpus[${i}]`, p, `a pCPU number in [0, ${n - 1}]`);
        }
      });
    }
    if (typeof spec.placement === 'string' && spec.placement !== 'pinned' && spec.placement !== 'shared') {
      throw new InvalidParameterError(`${field}.placement`, spec.placement, '"pinned" or "shared"');
    }
    const policy = placementPolicy(spec.placement);
    const allowed = policy.place({ field, vcpus: spec.vcpus, pcpus: spec.pcpus, topology: this.topology, isTaken: (p) => this.pinnedTaken[p] === true });
    // A plugin's answer is checked here, so a wrong one fails at assembly, naming the policy, not mid-run.
    const wrong = (what: string): Error => new Error(`placement policy ${JSON.stringify(policy.name)} returned ${what} for ${field}`);
    if (allowed.length !== spec.vcpus) throw wrong(`${allowed.length} pCPU sets for ${spec.vcpus} vCPUs`);
    for (const set of allowed) {
      if (set.length === 0) throw wrong('an empty pCPU set');
      for (const p of set) if (!Number.isSafeInteger(p) || p < 0 || p >= n) throw wrong(`pCPU ${String(p)}, not one of the host's`);
    }
    if (policy.exclusive) {
      const mine = new Set<number>();
      for (const set of allowed) {
        if (set.length !== 1 || this.pinnedTaken[set[0]!] === true) throw wrong('a pinned set that is not one free pCPU');
        if (mine.has(set[0]!)) throw wrong(`pCPU ${set[0]} for two vCPUs (an exclusive placement gives each its own)`);
        mine.add(set[0]!);
      }
      for (const p of mine) this.pinnedTaken[p] = true;
    }
    return allowed;
  }
}
