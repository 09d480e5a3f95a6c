import Table from 'cli-table3';
import { csvNum, csvText, figureWithUnit, seedsText, incompleteOfCompare, incompleteOfRun, incompleteOfSweep, ranOnSummaryText, socketShareText, total, type CompareOutput, type Estimate, type RunOutput, type SweepOutput } from '@ipilab/scenario';

const pct = (x: number, total: number): string => (total > 0 ? `${((100 * x) / total).toFixed(1)}%` : '-');
const fmt = (x: number): string => (Number.isNaN(x) ? 'n/a' : Math.abs(x) >= 1e6 ? x.toExponential(3) : Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(3));
const style = { head: [], border: [] };
/** A slowdown ratio, or '-' when it was not asked for; 'incomplete' when a run lacked the figure. */
const times = (x: number | undefined): string => (x === undefined ? '-' : Number.isFinite(x) ? `${x.toFixed(2)}x` : 'incomplete');
/** One line per picked figure, for a cell. */
const lines = <T>(xs: readonly T[], f: (x: T) => string): string => xs.map(f).join('\n');

/** The terminal view of one run: a row per VM, then who waited behind whom. */
export function runTables(out: RunOutput): string {
  const vms = new Table({
    head: ['VM', 'figure of merit', 'value', 'guest', 'handlers', 'shootdown wait', 'exits', 'queued', 'preempted', 'halted', 'IPIs sent', 'exits (n)', 'slowdown vs alone', 'slowdown vs bare metal', 'ran on pCPUs (socket share)'],
    style,
  });
  for (const [name, v] of Object.entries(out.vms)) {
    const l = v.ledger;
    const exitNs = total(l.exits);
    vms.push([
      name,
      lines(v.metrics, figureWithUnit),
      lines(v.metrics, (m) => (m.incomplete === true ? 'incomplete' : fmt(m.value))),
      pct(l.guest, l.total),
      pct(l.handlingInterrupts, l.total),
      pct(l.shootdownWait, l.total),
      pct(exitNs + l.hostOther, l.total),
      pct(l.serviceQueued, l.total),
      pct(l.preempted, l.total),
      pct(l.halted, l.total),
      String(total(v.ipi.sent)),
      String(total(v.ipi.exits)),
      lines(v.metrics, (m) => times(m.slowdownVsAlone)),
      lines(v.metrics, (m) => times(m.slowdownVsBareMetal)),
      ranOnText(v.ranOn),
    ]);
  }
  const names = out.interference.vms;
  const matrix = new Table({ head: ['waited (ms) \\ behind', ...names, 'pCPU switching'], style });
  for (const victim of names) {
    matrix.push([victim, ...names.map((c) => (out.interference.behindNs[victim]![c]! / 1e6).toFixed(3)), (out.interference.switchingNs[victim]! / 1e6).toFixed(3)]);
  }
  return `${out.scenario}: seed ${out.seed}, ${(out.simulatedNs / 1e6).toFixed(3)} ms simulated, ${out.events} events${incompleteNote(incompleteOfRun(out).length)}\n${vms.toString()}\nInterference (time each VM waited behind another's work, on shared pCPUs and in the hypervisor service):\n${matrix.toString()}\n`;
}

/** "pCPUs 0-3,40 (socket 0 100%)": where a VM's threads ran, for the terminal. */
export function ranOnText(r: RunOutput['vms'][string]['ranOn']): string {
  const ids = Object.keys(r.pcpuNs).map(Number).sort((a, b) => a - b);
  if (ids.length === 0) return '-';
  const ranges: string[] = [];
  for (let i = 0; i < ids.length; ) {
    let j = i;
    while (j + 1 < ids.length && ids[j + 1] === ids[j]! + 1) j++;
    ranges.push(i === j ? String(ids[i]) : `${ids[i]}-${ids[j]}`);
    i = j + 1;
  }
  return `${ranges.join(',')} (${socketShareText(r)})`;
}


const ci = (e: { mean: number; ci95: readonly [number, number]; n: number }): string =>
  e.n === 0 ? 'incomplete' : e.n < 2 ? fmt(e.mean) : `${fmt(e.mean)} [${fmt(e.ci95[0])}, ${fmt(e.ci95[1])}]`;

/** A slowdown's estimate with its unit, '-' when not asked for, 'incomplete' when no replication had it. */
const slowCi = (e: Estimate | undefined): string => (e === undefined ? '-' : e.n === 0 ? 'incomplete' : `${ci(e)}x`);

/** A figure's estimate, saying how many replications had no figure (they are left out of it). */
const figureCi = (e: Estimate, incomplete: number | undefined): string => (incomplete === undefined || e.n === 0 ? ci(e) : `${ci(e)} (${incomplete} incomplete)`);

/** ", 2 incomplete" for a summary line: figures some run did not produce. */
const incompleteNote = (n: number): string => (n === 0 ? '' : `, ${n} incomplete`);

/** The terminal view of a comparison: per VM, each variant's figure, ratio to the first, slowdown. */
export function compareTable(out: CompareOutput): string {
  const table = new Table({ head: ['VM', 'figure', out.vary, 'mean [95% CI]', 'ratio to first [95% CI]', 'slowdown vs alone', 'slowdown vs bare metal', 'ran on: pCPUs (socket share)'], style });
  const names = Object.keys(out.variants[0]!.vms);
  // Per VM, per picked figure, a row per variant: the variants of one figure side by side.
  for (const name of names) {
    const metrics = out.variants.find((v) => v.vms[name] !== undefined)!.vms[name]!.metrics.map((m) => m.metric);
    for (const metric of metrics) {
      for (const v of out.variants) {
        const f = v.vms[name];
        const m = f?.metrics.find((x) => x.metric === metric);
        if (f === undefined || m === undefined) continue;
        table.push([
          name,
          `${figureWithUnit(m)}, ${m.higherIsBetter ? 'higher' : 'lower'} is better`,
          String(v.value),
          figureCi(m.estimate, m.incomplete),
          ci(m.ratio),
          slowCi(m.slowdownVsAlone),
          slowCi(m.slowdownVsBareMetal),
          ranOnSummaryText(f.ranOn, f.pcpusUsed),
        ]);
      }
    }
  }
  return `${out.scenario}: ${out.variants.length} variants of ${out.vary}, ${out.replications} replication(s) each (${seedsText(out)}; common random numbers)${incompleteNote(incompleteOfCompare(out).length)}\n${table.toString()}\n`;
}


/** One CSV row per VM: the figure, the ledger (ns) and the counts. */
export function runCsv(out: RunOutput): string {
  // New columns go last: scripts that read columns by position keep working.
  // One row per VM and picked figure (one per VM by default): metric and unit say which.
  const header = ['vm', 'figure', 'value', 'slowdownVsAlone', 'guestNs', 'handlingInterruptsNs', 'shootdownWaitNs', 'exitNs', 'hostOtherNs', 'serviceQueuedNs', 'preemptedNs', 'haltedNs', 'totalNs', 'ipisSent', 'exits', 'hypercalls', 'shootdowns', 'slowdownVsBareMetal', 'incomplete', 'metric', 'unit'];
  const rows = Object.entries(out.vms).flatMap(([name, v]) => v.metrics.map((m) => {
    const l = v.ledger;
    return [
      name,
      m.figure,
      csvNum(m.value),
      csvNum(m.slowdownVsAlone),
      l.guest,
      l.handlingInterrupts,
      l.shootdownWait,
      total(l.exits),
      l.hostOther,
      l.serviceQueued,
      l.preempted,
      l.halted,
      l.total,
      total(v.ipi.sent),
      total(v.ipi.exits),
      v.ipi.hypercalls,
      v.ipi.shootdowns,
      csvNum(m.slowdownVsBareMetal),
      m.incomplete === true,
      csvText(m.metric),
      m.unit,
    ].join(',');
  }));
  return `${header.join(',')}\n${rows.join('\n')}\n`;
}

/** The terminal view of a sweep: a row per point and VM. */
export function sweepTable(out: SweepOutput): string {
  const paths = out.grid.map((a) => a.path);
  const table = new Table({ head: [...paths, 'VM', 'figure', 'mean [95% CI]', 'serial fraction', 'slowdown vs alone', 'slowdown vs bare metal', 'ran on: pCPUs (socket share)', 'failed runs'], style });
  for (const p of out.points) {
    const names = Object.keys(p.vms);
    if (names.length === 0) table.push([...paths.map((k) => p.params[k]!), '-', '-', '-', '-', '-', '-', '-', String(p.errors.length)]);
    for (const name of names) {
      const v = p.vms[name]!;
      for (const m of v.metrics) {
        table.push([
          ...paths.map((k) => p.params[k]!),
          name,
          figureWithUnit(m),
          figureCi(m.estimate, m.incomplete),
          fmt(v.serialFraction.mean),
          slowCi(m.slowdownVsAlone),
          slowCi(m.slowdownVsBareMetal),
          ranOnSummaryText(v.ranOn, v.pcpusUsed),
          String(p.errors.length),
        ]);
      }
    }
  }
  const stopped = out.interrupted === undefined ? '' : `, INTERRUPTED after ${out.interrupted.runs} of ${out.interrupted.of} runs`;
  // The heap is a measurement (it differs between two runs of one sweep): said, not tabulated.
  const heaps = out.workerHeap ?? [];
  const heap = heaps.length === 0 ? '' : ` (heap up to ${Math.max(...heaps.map((w) => w.heapMiB)).toFixed(1)} MiB a thread)`;
  return `${out.scenario}: ${out.points.length} points x ${out.replications} replication(s) (${seedsText(out)}), ${out.workers} worker(s)${heap}${incompleteNote(incompleteOfSweep(out).length)}${stopped}\n${table.toString()}\n`;
}
