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

/** "s0 62%, s1 38%": a VM's share of its pCPU time on each socket ("-" if it held none). */
export function socketShareText(r: RanOn): string {
  const all = Object.values(r.socketNs).reduce((a, b) => a + b, 0);
  if (all <= 0) return '-';
  return Object.entries(r.socketNs)
    .sort((a, b) => Number(a[0]) - Number(b[0]))
    .map(([s, ns]) => `s${s} ${Math.round((100 * ns) / all)}%`)
    .join(', ');
}

/**
 * "8 pCPUs (s0 62%, s1 38%)": where a VM ran over the replications of a compare variant or a
 * sweep point — distinct pCPUs per run (mean) and its share per socket — so a row shows whether
 * a change moved the VM across sockets or spread it over more pCPUs. Shared by the terminal and
 * HTML tables.
 */
export function ranOnSummaryText(r: RanOn, pcpusUsed: { readonly mean: number }): string {
  if (Object.keys(r.pcpuNs).length === 0) return '-';
  const n = pcpusUsed.mean;
  return `${Number.isInteger(n) ? n : n.toFixed(1)} pCPUs (${socketShareText(r)})`;
}
