import { InvalidParameterError } from '@ipilab/core';

/**
 * APIC destination modes a guest (or host) kernel programs. They decide how many ICR writes a
 * multi-destination IPI takes, which under trap-and-emulate is how many VM exits it costs.
 */
export type ApicMode = 'xapic' | 'x2apic-physical' | 'x2apic-cluster';
/** Every guest APIC mode. */
export const APIC_MODES: readonly ApicMode[] = ['xapic', 'x2apic-physical', 'x2apic-cluster'];

/** CPUs per x2APIC logical cluster (Intel SDM vol. 3, 10.12.10.2: 16-bit cluster ID, 16-bit mask). */
export const X2APIC_CLUSTER_SIZE = 16;

/** The largest APIC ID a destination can name in each mode. */
export function maxApicId(mode: ApicMode): number {
  switch (mode) {
    case 'xapic':
      return 0xfe; // 8-bit IDs; 0xff is the broadcast destination
    case 'x2apic-physical':
      return 0xffff_fffe; // 32-bit IDs; 0xffffffff is broadcast
    case 'x2apic-cluster':
      return 0xf_ffff; // 16-bit cluster x 16 CPUs
  }
}

/** `mode` as an APIC mode, or an error naming `field`. */
export function checkApicMode(field: string, mode: unknown): ApicMode {
  if (typeof mode !== 'string' || !(APIC_MODES as readonly string[]).includes(mode)) {
    throw new InvalidParameterError(field, mode, `one of ${APIC_MODES.map((m) => JSON.stringify(m)).join(', ')}`);
  }
  return mode as ApicMode;
}

/** Refuses APIC IDs the mode cannot address (`maxApicId`: xAPIC 8-bit, x2APIC physical 32-bit, x2APIC cluster a 16-bit cluster of 16 CPUs), naming `field`. */
export function checkApicIds(field: string, mode: ApicMode, ids: readonly number[]): void {
  const max = maxApicId(mode);
  ids.forEach((id, i) => {
    if (!Number.isSafeInteger(id) || id < 0 || id > max) {
      throw new InvalidParameterError(`${field}[${i}]`, id, `an APIC ID in [0, ${max}] for ${mode}`);
    }
  });
}

/**
 * One write of the interrupt command register and the destinations it reaches (APIC IDs, or
 * whatever the caller names them by). In xAPIC mode a send is two register writes (ICR2 holds
 * the destination, then ICR fires), `writes` says so.
 */
export interface IcrWrite<T = number> {
  readonly destinations: readonly T[];
  readonly writes: 1 | 2;
  readonly shorthand: boolean;
}

/**
 * How a kernel sends one IPI to a set of destinations in a given mode, as Linux does:
 * - x2APIC physical: one ICR write per destination (x2apic_phys.c loops over the mask);
 * - x2APIC cluster: one ICR write per cluster of 16, carrying the cluster's bitmask
 *   (x2apic_cluster.c);
 * - xAPIC: physical destination per CPU (beyond 8 CPUs Linux uses physflat), each send being
 *   an ICR2 write then an ICR write.
 * With `shorthand` (all-but-self, used by Linux >= 5.6 when every CPU is online) a broadcast is
 * one write in any mode. Destinations are APIC IDs, or anything `apicIdOf` gives one for (a
 * backend passes its vCPUs and gets them back grouped, with no lookup from ID to vCPU).
 */
export function icrWrites(mode: ApicMode, destinations: readonly number[], shorthand?: boolean): IcrWrite[];
export function icrWrites<T>(mode: ApicMode, destinations: readonly T[], shorthand: boolean, apicIdOf: (d: T) => number): IcrWrite<T>[];
export function icrWrites<T>(mode: ApicMode, destinations: readonly T[], shorthand = false, apicIdOf: (d: T) => number = (d) => d as unknown as number): IcrWrite<T>[] {
  const writes: 1 | 2 = mode === 'xapic' ? 2 : 1;
  if (destinations.length === 0) return [];
  if (shorthand) return [{ destinations: [...destinations], writes, shorthand: true }];
  if (mode === 'x2apic-cluster') {
    // Destinations in cluster order (a kernel's cpumask walk, in APIC ID order): each cluster's
    // run is one write, as they come; no grouping map, no sort.
    const runs = clusterRuns(destinations, apicIdOf, writes);
    if (runs !== undefined) return runs;
    const byCluster = new Map<number, T[]>();
    for (const d of destinations) {
      const c = Math.floor(apicIdOf(d) / X2APIC_CLUSTER_SIZE);
      let list = byCluster.get(c);
      if (list === undefined) byCluster.set(c, (list = []));
      list.push(d);
    }
    return [...byCluster.keys()].sort((a, b) => a - b).map((c) => ({ destinations: byCluster.get(c)!, writes, shorthand: false }));
  }
  return destinations.map((d) => ({ destinations: [d], writes, shorthand: false }));
}

/** The x2APIC cluster writes when `destinations` come in non-decreasing cluster order; undefined when they do not. */
function clusterRuns<T>(destinations: readonly T[], apicIdOf: (d: T) => number, writes: 1 | 2): IcrWrite<T>[] | undefined {
  const out: IcrWrite<T>[] = [];
  let start = 0;
  let cluster = Math.floor(apicIdOf(destinations[0]!) / X2APIC_CLUSTER_SIZE);
  for (let i = 1; i < destinations.length; i++) {
    const c = Math.floor(apicIdOf(destinations[i]!) / X2APIC_CLUSTER_SIZE);
    if (c === cluster) continue;
    if (c < cluster) return undefined;
    out.push({ destinations: destinations.slice(start, i), writes, shorthand: false });
    start = i;
    cluster = c;
  }
  out.push({ destinations: destinations.slice(start), writes, shorthand: false });
  return out;
}
