import type { VmOutput } from './run-scenario';
import { estimate, type Estimate } from './statistics';

/** Where a VM's vCPU threads ran: ns by pCPU and by socket (the run output's `vms.<name>.ranOn`). */
export type RanOn = VmOutput['ranOn'];

/** Where a VM ran over several replications, for compare and sweep outputs. */
export interface RanOnSummary {
  /** Mean ns per replication on each pCPU and socket; a pCPU held in any replication is listed. */
  readonly ranOn: RanOn;
  /** Distinct pCPUs the VM's threads held, per replication. */
  readonly pcpusUsed: Estimate;
}

/** Means over replications (absent keys count 0), keys in numeric order, plus pCPUs used per run. */
export function summarizeRanOn(runs: readonly RanOn[]): RanOnSummary {
  const mean = (records: readonly Record<string, number>[]): Record<string, number> => {
    const sum = new Map<number, number>();
    for (const r of records) for (const [k, ns] of Object.entries(r)) sum.set(Number(k), (sum.get(Number(k)) ?? 0) + ns);
    return Object.fromEntries([...sum].sort((a, b) => a[0] - b[0]).map(([k, ns]) => [String(k), ns / records.length]));
  };
  return {
    ranOn: { pcpuNs: mean(runs.map((r) => r.pcpuNs)), socketNs: mean(runs.map((r) => r.socketNs)) },
    pcpusUsed: estimate(runs.map((r) => Object.keys(r.pcpuNs).length)),
  };
}
