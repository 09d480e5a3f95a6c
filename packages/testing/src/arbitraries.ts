import fc from 'fast-check';
import { APIC_MODES, HOST_PRESETS, X2APIC_CLUSTER_SIZE, type ApicMode, type TopologySpec } from '@ipilab/host';
import type { Placement } from '@ipilab/hypervisor';

/** The most vCPUs a generated VM has (and the most pCPUs a generated host has): a 2-socket 72-core SMT host. */
export const MAX_VCPUS = 288;

/** An inclusive range of whole numbers an arbitrary draws from. */
export interface Range {
  readonly min?: number;
  readonly max?: number;
}

/**
 * A vCPU count in [min, max] (default 1-288). Small counts are drawn most often; one case in
 * five is 64 or more when the range allows, with the edges where paths change (64, 65, 128,
 * 129, 255, 256, 288: a second x2APIC cluster ID byte, a second PV bitmap window, past xAPIC).
 */
export function vcpuCount(range: Range = {}): fc.Arbitrary<number> {
  const min = Math.max(1, range.min ?? 1);
  const max = Math.min(MAX_VCPUS, range.max ?? MAX_VCPUS);
  if (min > max) throw new Error(`vcpuCount: empty range [${min}, ${max}]`);
  const small = fc.integer({ min, max: Math.min(max, Math.max(min, 12)) });
  const edges = [64, 65, 127, 128, 129, 130, 255, 256, MAX_VCPUS].filter((n) => n >= min && n <= max);
  if (edges.length === 0 || max <= 12) return small;
  return fc.oneof({ weight: 4, arbitrary: small }, { weight: 1, arbitrary: fc.oneof(fc.constantFrom(...edges), fc.integer({ min: Math.max(min, 64), max })) });
}

/** An APIC destination mode that can address `vcpus` vCPUs (xAPIC stops at 255 IDs). */
export function apicModeArbitrary(options: { readonly vcpus?: number } = {}): fc.Arbitrary<ApicMode> {
  const modes = APIC_MODES.filter((m) => m !== 'xapic' || (options.vcpus ?? 0) <= 255);
  return fc.constantFrom(...modes);
}

/** What hosts `hostArbitrary` draws: how many pCPUs, from which presets, how much SMT. */
export interface HostArbitraryOptions {
  /** Fewest logical CPUs the host needs (e.g. a pinned VM's vCPUs). Default 1. */
  readonly minCpus?: number;
  /** Most logical CPUs (default 288). */
  readonly maxCpus?: number;
  /** Draw the named presets too (default true; those within the CPU range). */
  readonly presets?: boolean;
  /** Most SMT threads per core (default 2; the host package accepts up to 8). */
  readonly maxThreadsPerCore?: number;
}

/**
 * A host topology the host package accepts: one of the presets (`HOST_PRESETS`) or a random
 * shape of sockets x cores x SMT threads, with minCpus <= size <= maxCpus.
 */
export function hostArbitrary(options: HostArbitraryOptions = {}): fc.Arbitrary<TopologySpec> {
  const minCpus = Math.max(1, options.minCpus ?? 1);
  const maxCpus = Math.min(MAX_VCPUS, options.maxCpus ?? MAX_VCPUS);
  if (minCpus > maxCpus) throw new Error(`hostArbitrary: empty range [${minCpus}, ${maxCpus}] of CPUs`);
  const maxSmt = Math.max(1, Math.min(8, options.maxThreadsPerCore ?? 2));
  const random = fc
    .record({ sockets: fc.integer({ min: 1, max: 4 }), threadsPerCore: fc.integer({ min: 1, max: maxSmt }), ghz: fc.constantFrom(2.0, 2.5, 3.0) })
    .chain((h) => {
      const per = h.sockets * h.threadsPerCore;
      const lo = Math.max(1, Math.ceil(minCpus / per));
      const hi = Math.floor(maxCpus / per);
      // This shape cannot hold the range: fall back to one socket with as many cores as needed.
      if (lo > hi) return fc.constant<TopologySpec>({ sockets: 1, coresPerSocket: minCpus, threadsPerCore: 1, ghz: h.ghz });
      return fc.integer({ min: lo, max: hi }).map((coresPerSocket): TopologySpec => ({ ...h, coresPerSocket }));
    });
  const presets = Object.values(HOST_PRESETS)
    .filter((p) => {
      const n = p.sockets * p.coresPerSocket * p.threadsPerCore;
      return n >= minCpus && n <= maxCpus;
    })
    .map(({ description: _d, ...spec }) => spec as TopologySpec);
  if (options.presets === false || presets.length === 0) return random;
  return fc.oneof(fc.constantFrom(...presets), random);
}

/** Logical CPUs of a host spec. */
export function hostSize(h: TopologySpec): number {
  return h.sockets * h.coresPerSocket * h.threadsPerCore;
}

/** A VM as generated: its size, mode, placement and, when shared, the pCPUs it time-shares. */
export interface GeneratedVm {
  readonly name: string;
  readonly vcpus: number;
  readonly apicMode: ApicMode;
  readonly placement: Placement;
  /** Shared VMs: the pCPUs they may use (fewer than vCPUs: overcommitted). Pinned VMs: the pCPUs they own. */
  readonly pcpus: readonly number[];
}

/** How many VMs, of what sizes, on a host. */
export interface VmsArbitraryOptions {
  readonly count?: Range;
  readonly vcpus?: Range;
}

/**
 * VMs that fit on `host`: pinned VMs take disjoint pCPUs from the bottom up (a VM that would not
 * fit becomes shared), shared VMs time-share a random non-empty set of pCPUs, overcommitted when
 * it is smaller than the VM. Default 1-3 VMs of 1-288 vCPUs.
 */
export function vmsArbitrary(host: TopologySpec, options: VmsArbitraryOptions = {}): fc.Arbitrary<readonly GeneratedVm[]> {
  const n = hostSize(host);
  const one = vcpuCount(options.vcpus ?? {}).chain((vcpus) =>
    fc.record({
      vcpus: fc.constant(vcpus),
      apicMode: apicModeArbitrary({ vcpus }),
      placement: fc.constantFrom<Placement>('pinned', 'shared'),
      shared: fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { minLength: 1, maxLength: Math.min(n, 16) }),
    }),
  );
  return fc.array(one, { minLength: options.count?.min ?? 1, maxLength: options.count?.max ?? 3 }).map((drawn) => {
    // Pinned VMs first, from the bottom up, keeping one pCPU unpinned so shared VMs always have
    // somewhere to run; then shared VMs keep the unpinned part of their drawn set (all unpinned
    // pCPUs when none of it is left).
    let next = 0;
    const pinned = drawn.map((d) => {
      if (d.placement !== 'pinned' || next + d.vcpus >= n) return null;
      const pcpus = Array.from({ length: d.vcpus }, (_, k) => next + k);
      next += d.vcpus;
      return pcpus;
    });
    const unpinned = Array.from({ length: n - next }, (_, k) => next + k);
    return drawn.map((d, i): GeneratedVm => {
      const own = pinned[i];
      if (own !== null && own !== undefined) return { name: `vm${i}`, vcpus: d.vcpus, apicMode: d.apicMode, placement: 'pinned', pcpus: own };
      const free = d.shared.filter((p) => p >= next).sort((a, b) => a - b);
      return { name: `vm${i}`, vcpus: d.vcpus, apicMode: d.apicMode, placement: 'shared', pcpus: free.length > 0 ? free : unpinned };
    });
  });
}

/** One IPI of a storm: after `gap` ns of work the sender sends to `targets`. */
export interface StormIpi {
  readonly gap: number;
  readonly kind: 'unicast' | 'multicast' | 'broadcast';
  readonly targets: readonly number[];
}

/** A drawn IPI storm: who sends what to whom, and when. */
export interface IpiStorm {
  readonly senders: readonly { readonly sender: number; readonly ipis: readonly StormIpi[] }[];
}

/** What storms `ipiStormArbitrary` draws: vCPUs, senders, IPIs, intervals, targets per IPI. */
export interface IpiStormOptions {
  /** vCPUs of the VM the storm runs in. */
  readonly vcpus: number;
  /** How many vCPUs send (default 1-3). */
  readonly senders?: Range;
  /** IPIs per sender (default 1-5). */
  readonly ipis?: Range;
  /** Work between two sends, in ns (default 0-20,000). */
  readonly intervalNs?: Range;
  /** Largest multicast (default: all vCPUs). */
  readonly maxTargets?: number;
}

/**
 * An IPI storm: senders, each with a list of unicasts, multicasts and broadcasts (all other
 * vCPUs) and the work between them. Targets never include the sender; a one-vCPU VM's storm is
 * empty of senders.
 */
export function ipiStormArbitrary(options: IpiStormOptions): fc.Arbitrary<IpiStorm> {
  const v = options.vcpus;
  if (v < 2) return fc.constant({ senders: [] });
  const ipi = (sender: number): fc.Arbitrary<StormIpi> => {
    const others = Array.from({ length: v }, (_, i) => i).filter((i) => i !== sender);
    const gap = fc.integer({ min: options.intervalNs?.min ?? 0, max: options.intervalNs?.max ?? 20_000 });
    const maxTargets = Math.min(v - 1, options.maxTargets ?? v - 1);
    return fc.oneof(
      fc.record({ gap, kind: fc.constant('unicast' as const), targets: fc.constantFrom(...others).map((t) => [t]) }),
      fc.record({ gap, kind: fc.constant('multicast' as const), targets: fc.uniqueArray(fc.constantFrom(...others), { minLength: 1, maxLength: maxTargets }).map((t) => [...t].sort((a, b) => a - b)) }),
      fc.record({ gap, kind: fc.constant('broadcast' as const), targets: fc.constant(others) }),
    );
  };
  return fc
    .uniqueArray(fc.integer({ min: 0, max: v - 1 }), { minLength: Math.min(v, options.senders?.min ?? 1), maxLength: Math.min(v, options.senders?.max ?? 3) })
    .chain((senders) =>
      fc.tuple(...senders.map((s) => fc.array(ipi(s), { minLength: options.ipis?.min ?? 1, maxLength: options.ipis?.max ?? 5 }).map((ipis) => ({ sender: s, ipis })))),
    )
    .map((senders) => ({ senders }));
}

/** x2APIC cluster IDs a VM of `vcpus` spans (16 CPUs per cluster): past 4 clusters means past APIC ID 64. */
export function x2apicClusters(vcpus: number): number {
  return Math.ceil(vcpus / X2APIC_CLUSTER_SIZE);
}

/** What scenarios `scenarioArbitrary` draws. */
export interface ScenarioArbitraryOptions {
  readonly maxCpus?: number;
  readonly vms?: VmsArbitraryOptions;
  /** Backends to draw (default trap, pv, posted). */
  readonly backends?: readonly string[];
  /** Host schedulers to draw (default eevdf, cfs, fifo). */
  readonly hostSchedulers?: readonly string[];
  /** Shootdown strategies to draw (default sync, invlpgb, invlpgb-all, batched). */
  readonly strategies?: readonly string[];
}

/**
 * A whole scenario as the plain object a scenario file holds (docs/scenarios.md): a host (a
 * preset or an explicit topology), a backend, a host scheduler, several VMs with placements,
 * APIC modes and shootdown strategies, each running ipi-bench or ebizzy, and a short run. The
 * testing package sits below `@ipilab/scenario`, so it does not validate it: the scenario
 * package's specs load it (`scenario/src/generated-scenarios.spec.ts`).
 */
export function scenarioArbitrary(options: ScenarioArbitraryOptions = {}): fc.Arbitrary<Record<string, unknown>> {
  return hostArbitrary({ maxCpus: options.maxCpus ?? MAX_VCPUS })
    .chain((host) =>
      fc.record({
        host: fc.constant(host),
        vms: vmsArbitrary(host, { count: { min: 1, max: 3 }, vcpus: { min: 1, max: Math.min(options.vms?.vcpus?.max ?? 32, hostSize(host) * 2) }, ...(options.vms?.count === undefined ? {} : { count: options.vms.count }) }),
        backend: fc.constantFrom(...(options.backends ?? ['trap', 'pv', 'posted'])),
        scheduler: fc.constantFrom(...(options.hostSchedulers ?? ['eevdf', 'cfs', 'fifo'])),
        strategies: fc.array(fc.constantFrom(...(options.strategies ?? ['sync', 'invlpgb', 'invlpgb-all', 'batched'])), { minLength: 3, maxLength: 3 }),
        workloads: fc.array(fc.constantFrom('ipi-bench', 'ebizzy'), { minLength: 3, maxLength: 3 }),
        seed: fc.integer({ min: 1, max: 1_000_000 }),
        presetByName: fc.boolean(),
      }),
    )
    .map((d) => {
      const preset = Object.values(HOST_PRESETS).find((p) => p.name === d.host.name);
      const host = preset !== undefined && d.presetByName ? { preset: preset.name } : { sockets: d.host.sockets, coresPerSocket: d.host.coresPerSocket, threadsPerCore: d.host.threadsPerCore, ghz: d.host.ghz };
      return {
        name: 'generated',
        host,
        hypervisor: { backend: d.backend, scheduler: { policy: d.scheduler } },
        vms: d.vms.map((vm, i) => ({
          name: vm.name,
          vcpus: vm.vcpus,
          placement: vm.placement,
          pcpus: [...vm.pcpus],
          apicMode: vm.apicMode,
          shootdownStrategy: d.strategies[i]!,
          // ipi-bench needs a second vCPU to send to.
          workload: { kind: vm.vcpus < 2 ? 'ebizzy' : d.workloads[i]! },
        })),
        run: { duration: '200us', seed: d.seed },
      };
    });
}
