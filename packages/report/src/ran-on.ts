import type { RanOn, RunOutput } from '@ipilab/scenario';
import type { TopLevelSpec } from 'vega-lite';

/**
 * Which socket each pCPU of the host is on. A `HostTopology` (@ipilab/host) is one. The run
 * output names pCPUs and sockets but not which pCPU is on which socket (Linux numbers SMT
 * siblings after all first threads, so sockets are not contiguous ranges).
 */
export interface HostLayout {
  readonly pcpus: readonly { readonly id: number; readonly socket: number }[];
}

/** One cell of the VM x pCPU heat map. */
export interface RanOnCell {
  readonly vm: string;
  readonly pcpu: number;
  /** null when no host layout was given. */
  readonly socket: number | null;
  /** The facet the pCPU is drawn in: "socket 0", …, or "pCPUs" without a layout. */
  readonly group: string;
  readonly ns: number;
  readonly ms: number;
  /** This VM's part of the time any VM held the pCPU (0 when none did). */
  readonly pcpuShare: number;
  /** The part of this VM's pCPU time spent on this pCPU. */
  readonly vmShare: number;
  /** The cell's tooltip. */
  readonly tip: string;
}

const sum = (r: Readonly<Record<string, number>>): number => Object.values(r).reduce((a, b) => a + b, 0);
const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;

/**
 * Checks the layout against the run: every pCPU a VM held is on the host, and each VM's ns by
 * socket is its ns by pCPU summed by the layout's sockets. A layout of another host would
 * label the chart wrongly; it is refused instead.
 */
function checkLayout(out: RunOutput, host: HostLayout, socketOf: ReadonlyMap<number, number>): void {
  for (const [vm, v] of Object.entries(out.vms)) {
    const bySocket = new Map<number, number>();
    for (const [p, ns] of Object.entries(v.ranOn.pcpuNs)) {
      const s = socketOf.get(Number(p));
      if (s === undefined) throw new Error(`HTML report: VM ${vm} ran on pCPU ${p}, which the host layout (${host.pcpus.length} pCPUs) does not have`);
      bySocket.set(s, (bySocket.get(s) ?? 0) + ns);
    }
    const sockets = new Set([...bySocket.keys(), ...Object.keys(v.ranOn.socketNs).map(Number)]);
    for (const s of sockets) {
      const want = v.ranOn.socketNs[String(s)] ?? 0;
      const got = bySocket.get(s) ?? 0;
      if (Math.abs(want - got) > 1e-9 * Math.max(1, want)) {
        throw new Error(`HTML report: the host layout does not match the run: VM ${vm} held socket ${s} for ${want} ns, its pCPUs on that socket by the layout add up to ${got} ns`);
      }
    }
  }
}

/**
 * Every VM x pCPU cell: with a host layout, every pCPU of the host (never-held ones show as
 * empty columns); without, the pCPUs some VM held. VMs in output order, pCPUs by socket then id.
 */
export function ranOnCells(out: RunOutput, host?: HostLayout): RanOnCell[] {
  const socketOf = new Map<number, number>(host?.pcpus.map((p) => [p.id, p.socket]));
  if (host !== undefined) checkLayout(out, host, socketOf);
  const vms = Object.entries(out.vms);
  const pcpus =
    host !== undefined
      ? host.pcpus.map((p) => p.id)
      : [...new Set(vms.flatMap(([, v]) => Object.keys(v.ranOn.pcpuNs).map(Number)))];
  pcpus.sort((a, b) => (socketOf.get(a) ?? 0) - (socketOf.get(b) ?? 0) || a - b);
  const heldNs = new Map<number, number>();
  for (const [, v] of vms) for (const [p, ns] of Object.entries(v.ranOn.pcpuNs)) heldNs.set(Number(p), (heldNs.get(Number(p)) ?? 0) + ns);
  return vms.flatMap(([vm, v]) => {
    const vmNs = sum(v.ranOn.pcpuNs);
    return pcpus.map((pcpu) => {
      const ns = v.ranOn.pcpuNs[String(pcpu)] ?? 0;
      const socket = socketOf.get(pcpu) ?? null;
      const held = heldNs.get(pcpu) ?? 0;
      const pcpuShare = held > 0 ? ns / held : 0;
      const vmShare = vmNs > 0 ? ns / vmNs : 0;
      const where = socket === null ? `pCPU ${pcpu}` : `pCPU ${pcpu} (socket ${socket})`;
      const tip = ns === 0 ? `${vm} on ${where}: never held` : `${vm} on ${where}: ${(ns / 1e6).toFixed(3)} ms, ${pct(pcpuShare)} of the time VMs held this pCPU, ${pct(vmShare)} of ${vm}'s pCPU time`;
      return { vm, pcpu, socket, group: socket === null ? 'pCPUs' : `socket ${socket}`, ns, ms: ns / 1e6, pcpuShare, vmShare, tip };
    });
  });
}

/**
 * The VM x pCPU heat map: a row per VM, a column per pCPU, one panel per socket; colour = ms the
 * VM's threads held the pCPU, grey = never. Cells narrow as pCPUs grow so a 2-socket host of 80
 * or 192 threads fits the page; every cell carries its tooltip as its description.
 */
export function ranOnHeatMapSpec(cells: readonly RanOnCell[]): TopLevelSpec {
  const vms = [...new Set(cells.map((c) => c.vm))];
  const groups = [...new Map(cells.map((c) => [c.group, c.socket ?? -1])).entries()].sort((a, b) => a[1] - b[1]).map(([g]) => g);
  const pcpus = new Set(cells.map((c) => c.pcpu)).size;
  // 880 px of cells fit the page beside the VM names and the legend; 4 px is still a visible strip.
  const step = Math.max(4, Math.min(20, Math.floor(880 / Math.max(1, pcpus))));
  return {
    data: { values: cells as unknown as Record<string, unknown>[] },
    facet: { column: { field: 'group', type: 'nominal', title: null, sort: groups, header: { labelFontSize: 12, labelFontWeight: 'bold' } } },
    spacing: 10,
    resolve: { scale: { x: 'independent' } },
    spec: {
      width: { step },
      height: { step: vms.length > 20 ? 12 : 16 },
      mark: { type: 'rect', stroke: '#ffffff', strokeWidth: step >= 10 ? 0.5 : 0 },
      encoding: {
        x: { field: 'pcpu', type: 'ordinal', sort: 'ascending', title: 'pCPU', axis: { labelAngle: -90, labelFontSize: 8, labelOverlap: 'parity', labelPadding: 2, ticks: false } },
        y: { field: 'vm', type: 'nominal', sort: vms, title: null },
        color: {
          field: 'ms',
          type: 'quantitative',
          title: 'ms held',
          scale: { scheme: { name: 'blues', extent: [0.15, 1] }, domainMin: 0 },
          condition: { test: 'datum.ns === 0', value: '#f2f2f2' },
        },
        description: { field: 'tip', type: 'nominal' },
      },
    },
  } as TopLevelSpec;
}

/** Socket ids over the run, numerically: the layout's, or those some VM used. */
export function socketsOf(out: RunOutput, host?: HostLayout): number[] {
  const ids = host !== undefined ? host.pcpus.map((p) => p.socket) : Object.values(out.vms).flatMap((v) => Object.keys(v.ranOn.socketNs).map(Number));
  return [...new Set(ids)].sort((a, b) => a - b);
}
