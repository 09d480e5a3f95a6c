import fc from 'fast-check';
import { HostTopology, type TopologySpec } from '@ipilab/host';
import { PINNED_PLACEMENT, SHARED_PLACEMENT, type PlacementPolicy, type PlacementRequest } from '@ipilab/hypervisor';
import { assertLaw, type LawRunOptions } from '../law-runner';
import { hostArbitrary } from '../arbitraries';

/** The built-in vCPU placements by name, for the laws. */
export const BUILTIN_PLACEMENTS: Readonly<Record<string, PlacementPolicy>> = { pinned: PINNED_PLACEMENT, shared: SHARED_PLACEMENT };

/** One VM asking to be placed in a placement case. */
export interface PlacementAsk {
  readonly vcpus: number;
  /** `vms[].pcpus` (indexes into the host), or undefined. */
  readonly pcpus: readonly number[] | undefined;
}

/** A placement case: a host, and VMs placed one after another as a scenario lists them. */
export interface PlacementScenario {
  readonly host: TopologySpec;
  readonly vms: readonly PlacementAsk[];
  /** pCPUs an earlier exclusive VM holds before the first of `vms` is placed. */
  readonly taken: readonly number[];
}

/** How many cases the placement laws try, and their hosts' size. */
export interface PlacementLawOptions extends LawRunOptions {
  /** Most logical CPUs of a generated host (default 288). */
  readonly maxCpus?: number;
}

/** Random hosts (presets and shapes up to 288 CPUs), pCPUs already pinned, and 1-4 VMs with or without `pcpus`. */
export function placementScenarioArbitrary(options: PlacementLawOptions = {}): fc.Arbitrary<PlacementScenario> {
  return hostArbitrary({ maxCpus: options.maxCpus ?? 288 }).chain((host) => {
    const n = host.sockets * host.coresPerSocket * host.threadsPerCore;
    const ask = fc.record({
      vcpus: fc.oneof(fc.integer({ min: 1, max: Math.min(n, 8) }), fc.integer({ min: 1, max: n + 2 })),
      // A list may name a pCPU twice (a scenario's `pcpus: [3, 3, 0]`).
      pcpus: fc.option(fc.array(fc.integer({ min: 0, max: n - 1 }), { minLength: 1, maxLength: Math.min(n, 64) }), { nil: undefined }),
    });
    return fc.record({ host: fc.constant(host), vms: fc.array(ask, { minLength: 1, maxLength: 4 }), taken: fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { maxLength: Math.min(n - 1, 16) }) });
  });
}

/** The refusal a placement may give: an InvalidParameterError (by shape: `field`, `expected`) naming the VM's field. */
function isRefusal(e: unknown, field: string): boolean {
  if (!(e instanceof Error)) return false;
  const f = (e as { field?: unknown }).field;
  return typeof f === 'string' && typeof (e as { expected?: unknown }).expected === 'string' && (f === field || f.startsWith(`${field}.`));
}

/**
 * Places the case's VMs in order with `policy`, as the hypervisor does (an exclusive VM's pCPUs
 * are taken from every later VM), and throws at the first broken law:
 * - it answers with one non-empty set of host pCPUs per vCPU, no pCPU twice in a set, within
 *   `pcpus` when the VM gave them, and never a pCPU an exclusive VM holds;
 * - an exclusive policy gives each vCPU one pCPU of its own (no two vCPUs share one);
 * - it refuses only with an InvalidParameterError naming the VM's field, and never a VM that
 *   fits (an exclusive VM fits when it has as many free pCPUs as vCPUs; a shared VM when one is free);
 * - it answers the same request the same way (deterministic), and leaves the request unchanged.
 */
export function checkPlacement(policy: PlacementPolicy, s: PlacementScenario): void {
  const topology = new HostTopology(s.host);
  const n = topology.size;
  const taken = new Set(s.taken);
  s.vms.forEach((ask, i) => {
    const field = `vms[${i}]`;
    const pool = [...new Set(ask.pcpus ?? topology.pcpus.map((p) => p.id))].filter((p) => !taken.has(p));
    const fits = policy.exclusive ? pool.length >= ask.vcpus : pool.length > 0;
    const pcpusBefore = ask.pcpus === undefined ? undefined : [...ask.pcpus];
    const req = (): PlacementRequest => ({ field, vcpus: ask.vcpus, pcpus: ask.pcpus, topology, isTaken: (p) => taken.has(p) });
    let sets: (readonly number[])[];
    try {
      sets = policy.place(req());
    } catch (e) {
      if (!isRefusal(e, field)) throw new Error(`${field}: placement threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}, not an InvalidParameterError naming ${field}`);
      if (fits) throw new Error(`${field}: refused ${ask.vcpus} vCPUs with ${pool.length} free pCPUs (${(e as Error).message})`);
      return;
    }
    if (pcpusBefore !== undefined && JSON.stringify(pcpusBefore) !== JSON.stringify(ask.pcpus)) throw new Error(`${field}: the request's pcpus were changed`);
    if (!Array.isArray(sets) || sets.length !== ask.vcpus) throw new Error(`${field}: ${Array.isArray(sets) ? sets.length : typeof sets} pCPU sets for ${ask.vcpus} vCPUs`);
    const allowed = ask.pcpus === undefined ? undefined : new Set(ask.pcpus);
    const owned = new Set<number>();
    sets.forEach((set, v) => {
      if (set.length === 0) throw new Error(`${field}: vCPU ${v} may run nowhere (an empty set)`);
      if (new Set(set).size !== set.length) throw new Error(`${field}: vCPU ${v}'s set lists a pCPU twice: [${set.join(', ')}]`);
      for (const p of set) {
        if (!Number.isSafeInteger(p) || p < 0 || p >= n) throw new Error(`${field}: vCPU ${v} on pCPU ${String(p)}, not one of the host's ${n}`);
        if (taken.has(p)) throw new Error(`${field}: vCPU ${v} on pCPU ${p}, which an exclusive VM holds`);
        if (allowed !== undefined && !allowed.has(p)) throw new Error(`${field}: vCPU ${v} on pCPU ${p}, outside the VM's pcpus`);
      }
      if (policy.exclusive) {
        if (set.length !== 1) throw new Error(`${field}: exclusive, but vCPU ${v} got ${set.length} pCPUs`);
        if (owned.has(set[0]!)) throw new Error(`${field}: exclusive, but pCPU ${set[0]} is given to two vCPUs`);
        owned.add(set[0]!);
      }
    });
    const again = policy.place(req());
    if (JSON.stringify(again) !== JSON.stringify(sets)) throw new Error(`${field}: the same request placed differently the second time`);
    for (const p of owned) taken.add(p);
  });
}

/**
 * The vCPU-placement laws (checkPlacement) over random hosts and VMs, for a placement given by
 * name (a built-in) or as the policy under test. Default 100 cases.
 */
export function assertPlacementLaws(policy: PlacementPolicy | string, options: PlacementLawOptions = {}): void {
  const p = typeof policy === 'string' ? BUILTIN_PLACEMENTS[policy] : policy;
  if (p === undefined) throw new Error(`assertPlacementLaws: no built-in placement ${JSON.stringify(policy)} (${Object.keys(BUILTIN_PLACEMENTS).join(', ')})`);
  assertLaw(`vCPU placement ${JSON.stringify(p.name)}`, placementScenarioArbitrary(options), (s) => checkPlacement(p, s), { numRuns: 100, ...options });
}
