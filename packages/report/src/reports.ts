import { ranOnSummaryText, total, type CompareOutput, type RunOutput, type SweepOutput } from '@ipilab/scenario';
import type { TopLevelSpec } from 'vega-lite';
import { esc, figure, num, page, table, type Chart } from './html';
import { FULL_LEGEND, OKABE_ITO, scaleFor, withUnit } from './palette';
import { provenanceSection } from './provenance';
import { ranOnCells, ranOnHeatMapSpec, socketsOf, type HostLayout } from './ran-on';
import { renderSvg } from './render';

const CATEGORIES = ['guest', 'handlingInterrupts', 'shootdownWait', 'exits', 'serviceQueued', 'hostOther', 'preempted', 'halted', 'offline'] as const;

async function chart(title: string, caption: string, spec: TopLevelSpec): Promise<Chart> {
  return { title, caption, svg: await renderSvg(spec) };
}

function ledgerChart(out: RunOutput): Promise<Chart> {
  const values = Object.entries(out.vms).flatMap(([vm, v]) => {
    const l = v.ledger;
    const exits = total(l.exits);
    const ns: Record<string, number> = { ...l, exits } as unknown as Record<string, number>;
    return CATEGORIES.map((c, order) => ({ vm, category: c, order, share: l.total > 0 ? ns[c]! / l.total : 0 }));
  });
  return chart('Where each VM\'s vCPU time went', 'Each bar is one VM\'s vCPU time (all its vCPUs over the run) split into what the vCPUs were doing; the shares add up to 100 %.', {
    data: { values },
    mark: 'bar',
    width: 640,
    height: { step: 28 },
    encoding: {
      y: { field: 'vm', type: 'nominal', title: null },
      x: { field: 'share', type: 'quantitative', stack: 'normalize', axis: { format: '%' }, title: 'share of vCPU time' },
      color: { field: 'category', type: 'nominal', sort: [...CATEGORIES], scale: { range: [...OKABE_ITO] }, legend: FULL_LEGEND },
      order: { field: 'order' },
      tooltip: [{ field: 'vm' }, { field: 'category' }, { field: 'share', format: '.1%' }],
    },
  });
}

function interferenceChart(out: RunOutput): Promise<Chart> {
  const i = out.interference;
  const values = i.vms.flatMap((victim) => [...i.vms.map((culprit) => ({ victim, culprit, ms: i.behindNs[victim]![culprit]! / 1e6 })), { victim, culprit: 'pCPU switching', ms: i.switchingNs[victim]! / 1e6 }]);
  return chart('Interference: who waited behind whom', 'Row = the VM that waited, column = whose work it waited behind (on a shared pCPU or in the hypervisor service), in ms of vCPU time; darker is more.', {
    data: { values },
    width: 80 * (i.vms.length + 1),
    height: 40 * i.vms.length,
    encoding: { y: { field: 'victim', type: 'nominal', title: 'waited' }, x: { field: 'culprit', type: 'nominal', title: 'behind', sort: [...i.vms, 'pCPU switching'] } },
    layer: [
      { mark: 'rect', encoding: { color: { field: 'ms', type: 'quantitative', scale: { scheme: 'oranges' }, title: 'ms' } } },
      { mark: { type: 'text', baseline: 'middle' }, encoding: { text: { field: 'ms', type: 'quantitative', format: '.2f' } } },
    ],
  });
}

function latencyChart(out: RunOutput): Promise<Chart> | undefined {
  const values = Object.entries(out.vms).flatMap(([vm, v]) =>
    v.ipi.latency === null
      ? []
      : (['ipiSendToHandler', 'wholeCall', 'shootdown'] as const).flatMap((kind) => {
          const s = v.ipi.latency![kind];
          return s.count === 0 ? [] : (['p50', 'p90', 'p99', 'max'] as const).map((q) => ({ vm, kind, quantile: q, us: (s[q] as number) / 1000 }));
        }),
  );
  if (values.length === 0) return undefined;
  return chart('Latency distributions', 'For each VM: IPI send-to-handler, whole cross-call and TLB shootdown latency at the 50th, 90th and 99th percentiles and the maximum (µs, log scale).', {
    data: { values },
    mark: { type: 'line', point: { size: 60 } },
    width: 180,
    height: 160,
    encoding: {
      column: { field: 'kind', type: 'nominal', title: null },
      x: { field: 'quantile', type: 'ordinal', sort: ['p50', 'p90', 'p99', 'max'], title: null },
      y: { field: 'us', type: 'quantitative', scale: { type: 'log' }, title: 'µs' },
      color: { field: 'vm', type: 'nominal', scale: { range: [...OKABE_ITO] }, legend: FULL_LEGEND },
    },
  });
}

/**
 * Where the vCPUs ran: the VM x pCPU heat map (by socket with a host layout), then each VM's
 * share per socket. Nothing when no VM held a pCPU after the warm-up.
 */
async function ranOnSection(out: RunOutput, host: HostLayout | undefined): Promise<string[]> {
  const cells = ranOnCells(out, host);
  if (!cells.some((c) => c.ns > 0)) return [];
  const grouped = host === undefined ? 'The host layout was not given, so pCPUs are not grouped by socket.' : 'One panel per socket.';
  const c: Chart = {
    title: 'Where the vCPUs ran',
    caption: `Row = VM, column = pCPU; colour = ms the VM's vCPU threads held the pCPU after the warm-up (switch-in included), grey = never. ${grouped} Hover a cell for the VM's part of the pCPU's VM time and the pCPU's part of the VM's.`,
    svg: await renderSvg(ranOnHeatMapSpec(cells), { tooltips: true }),
  };
  const sockets = socketsOf(out, host);
  const rows = Object.entries(out.vms).map(([name, v]) => {
    const ns = Object.values(v.ranOn.pcpuNs).reduce((a, b) => a + b, 0);
    return [name, Object.keys(v.ranOn.pcpuNs).length, (ns / 1e6).toFixed(3), ...sockets.map((s) => (ns > 0 ? `${((100 * (v.ranOn.socketNs[String(s)] ?? 0)) / ns).toFixed(1)} %` : '-'))];
  });
  return [
    figure(c),
    `<h3>${esc('Share of each VM\'s pCPU time per socket')}</h3>`,
    table(['VM', 'pCPUs held', 'ms held', ...sockets.map((s) => `socket ${s}`)], rows),
  ];
}

/**
 * A self-contained HTML report of one run. `host` says which socket each pCPU is on (a
 * HostTopology will do); without it the heat map cannot group pCPUs by socket.
 */
export async function runReportHtml(out: RunOutput, host?: HostLayout): Promise<string> {
  const charts = [await ledgerChart(out), await interferenceChart(out)];
  const lat = latencyChart(out);
  if (lat !== undefined) charts.push(await lat);
  const ranOn = await ranOnSection(out, host);
  const rows = Object.entries(out.vms).map(([name, v]) => [
    name,
    v.primary.key,
    num(v.primary.value),
    v.slowdownVsAlone === undefined ? '-' : num(v.slowdownVsAlone),
    v.slowdownVsBareMetal === undefined ? '-' : num(v.slowdownVsBareMetal),
    total(v.ipi.sent),
    total(v.ipi.exits),
    v.ipi.shootdowns,
  ]);
  return page(`ipilab run: ${out.scenario}`, `seed ${out.seed}, ${(out.simulatedNs / 1e6).toFixed(3)} ms simulated, ${out.events} events`, [
    table(['VM', 'figure of merit', 'value', 'slowdown vs alone', 'slowdown vs bare metal', 'IPIs sent', 'exits', 'shootdowns'], rows),
    ...charts.map(figure),
    ...ranOn,
    ...provenanceSection(out.meta),
  ]);
}

const lo = (e: { mean: number; ci95: readonly [number, number] }): number => (Number.isNaN(e.ci95[0]) ? e.mean : e.ci95[0]);
const hi = (e: { mean: number; ci95: readonly [number, number] }): number => (Number.isNaN(e.ci95[1]) ? e.mean : e.ci95[1]);

/**
 * Small multiples: one panel per VM (a row each; `facet` with a layered spec inside, as a
 * `column` channel in a layer's encoding is dropped and stacks the VMs), each with its own y
 * scale so ns and /s never share an axis.
 */
/** A panel's layer; `x: false` for one drawn across the panel (a reference line). */
type Layer = { x?: false; mark: unknown; encoding: object };

function panels(values: readonly object[], title: (vm: string) => string, layer: Layer[], x: object, yValues: (vm: string) => number[], width = 320): TopLevelSpec {
  const vms = [...new Set(values.map((v) => (v as { vm: string }).vm))];
  return {
    vconcat: vms.map((vm) => ({
      title: { text: vm, anchor: 'start' },
      data: { values: values.filter((v) => (v as { vm: string }).vm === vm) },
      width,
      height: 160,
      encoding: { y: { type: 'quantitative', title: title(vm), scale: scaleFor(yValues(vm)) } },
      layer: layer.map(({ x: own, ...l }) => (own === false ? l : { ...l, encoding: { x, ...l.encoding } })),
    })),
    resolve: { scale: { y: 'independent', color: 'shared' } },
    config: { legend: FULL_LEGEND },
  } as unknown as TopLevelSpec;
}

/** A self-contained HTML report of a comparison. */
export async function compareReportHtml(out: CompareOutput): Promise<string> {
  const order = out.variants.map((v) => String(v.value));
  const values = out.variants.flatMap((v) => Object.entries(v.vms).map(([vm, f]) => ({ vm, variant: String(v.value), figure: f.figure, ratio: f.ratio.mean, rlo: lo(f.ratio), rhi: hi(f.ratio), mean: f.estimate.mean, lo: lo(f.estimate), hi: hi(f.estimate) })));
  const figureOf = (vm: string): string => values.find((v) => v.vm === vm)!.figure;
  const of = (vm: string): typeof values => values.filter((v) => v.vm === vm);
  const x = { field: 'variant', type: 'nominal', title: out.vary, sort: order, axis: { labelAngle: 0, labelLimit: 0 } };
  const color = { field: 'variant', type: 'nominal', sort: order, scale: { range: [...OKABE_ITO] }, legend: null };
  const bars = (y: string, l: string, h: string): Layer[] => [
    { mark: 'bar', encoding: { y: { field: y }, color } },
    { mark: { type: 'errorbar', ticks: true, color: '#222' }, encoding: { y: { field: l, type: 'quantitative' }, y2: { field: h } } },
  ];
  const absolute = await chart('Figure of merit per VM', 'One panel per VM, in its figure\'s unit: each variant\'s mean with its 95 % confidence interval (error bar). Log scale when the values span more than two decades.',
    panels(values, (vm) => withUnit(figureOf(vm)), bars('mean', 'lo', 'hi'), x, (vm) => of(vm).flatMap((v) => [v.mean, v.lo, v.hi])));
  const c = await chart(`Figure of merit relative to ${out.vary} = ${String(out.variants[0]!.value)}`, 'One panel per VM: each variant\'s figure of merit divided by the first variant\'s (paired by seed), with its 95 % confidence interval (error bar); 1 means no change.',
    panels(values, (vm) => `${figureOf(vm)} ratio to first (x)`, [...bars('ratio', 'rlo', 'rhi'), { x: false, mark: { type: 'rule', strokeDash: [4, 3], color: '#666' }, encoding: { y: { datum: 1 } } }], x, (vm) => [1, ...of(vm).flatMap((v) => [v.ratio, v.rlo, v.rhi])]));
  const rows = out.variants.flatMap((v) =>
    Object.entries(v.vms).map(([vm, f]) => [
      vm,
      String(v.value),
      f.figure,
      num(f.estimate.mean),
      `${num(f.estimate.ci95[0])} – ${num(f.estimate.ci95[1])}`,
      num(f.ratio.mean),
      f.slowdownVsAlone === undefined ? '-' : num(f.slowdownVsAlone.mean),
      f.slowdownVsBareMetal === undefined ? '-' : num(f.slowdownVsBareMetal.mean),
      ranOnSummaryText(f.ranOn, f.pcpusUsed),
    ]),
  );
  return page(`ipilab compare: ${out.scenario}`, `${out.variants.length} variants of ${out.vary}, ${out.replications} replication(s), seeds ${out.seeds.join(', ')}`, [
    table(['VM', out.vary, 'figure', 'mean', '95% CI', 'ratio to first', 'slowdown vs alone', 'slowdown vs bare metal', 'ran on: pCPUs (socket share)'], rows),
    figure(absolute),
    figure(c),
    ...provenanceSection(out.meta),
  ]);
}

/** A self-contained HTML report of a sweep: curves with confidence bands, and Amdahl beside measurement. */
export async function sweepReportHtml(out: SweepOutput): Promise<string> {
  const [first = '', ...rest] = out.grid.map((a) => a.path);
  const numeric = out.grid[0]!.values.every((v) => Number.isFinite(Number(v)));
  const series = (p: Record<string, string>): string => (rest.length === 0 ? 'all' : rest.length === 1 ? String(p[rest[0]!]) : rest.map((k) => `${k}=${p[k]}`).join(', '));
  const values = out.points.flatMap((p) =>
    Object.entries(p.vms).map(([vm, v]) => ({
      vm,
      x: numeric ? Number(p.params[first]) : p.params[first],
      series: series(p.params),
      mean: v.estimate.mean,
      lo: Number.isNaN(v.estimate.ci95[0]) ? v.estimate.mean : v.estimate.ci95[0],
      hi: Number.isNaN(v.estimate.ci95[1]) ? v.estimate.mean : v.estimate.ci95[1],
      serial: v.serialFraction.mean,
    })),
  );
  const xs = values.map((v) => v.x);
  // Numbers on a numeric axis (never text order: 1, 16, 2, ...); log when they span two decades.
  const x: object = numeric
    ? { field: 'x', type: 'quantitative', title: first, scale: scaleFor(xs as number[]), axis: { values: [...new Set(xs as number[])].sort((a, b) => a - b) } }
    : { field: 'x', type: 'ordinal', title: first, sort: out.grid[0]!.values.map(String), axis: { labelLimit: 0 } };
  const color = { field: 'series', type: 'nominal', title: rest.join(', ') || null, scale: { range: [...OKABE_ITO] }, legend: FULL_LEGEND };
  const figureOf = (vm: string): string => out.points.map((p) => p.vms[vm]?.figure).find((f) => f !== undefined) ?? 'figure of merit';
  const curves = await chart(`Figure of merit over ${first}`, 'One panel per VM, in its figure\'s unit: the mean at each grid point, one line per combination of the other axes, with its 95 % confidence interval (error bars). Log scales when values span more than two decades.',
    panels(values, (vm) => withUnit(figureOf(vm)), [
      { mark: { type: 'errorbar', ticks: true }, encoding: { y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color } },
      { mark: { type: 'line', point: true }, encoding: { y: { field: 'mean', type: 'quantitative' }, color } },
    ], x, (vm) => values.filter((v) => v.vm === vm).flatMap((v) => [v.mean, v.lo, v.hi])));
  const charts = [curves];
  if (numeric) {
    // Amdahl: measured speedup relative to the smallest point beside the prediction from that point's serial fraction.
    const amdahl = values.flatMap((r) => {
      const base = values.filter((b) => b.vm === r.vm && b.series === r.series).sort((a, b) => (a.x as number) - (b.x as number))[0]!;
      const s = Math.min(1, Math.max(0, base.serial));
      const sp = (n: number): number => 1 / (s + (1 - s) / n);
      const n = r.x as number;
      const n0 = base.x as number;
      return [
        { vm: r.vm, series: r.series, x: n, kind: 'measured', speedup: base.mean > 0 ? r.mean / base.mean : NaN },
        { vm: r.vm, series: r.series, x: n, kind: 'Amdahl prediction', speedup: sp(n) / sp(n0) },
      ];
    });
    charts.push(
      await chart('Amdahl\'s law beside measurement', `Speedup relative to the smallest ${first}: measured (figure of merit ratio) and predicted by Amdahl's law from the serial fraction measured there (shootdown waiting over busy time).`, {
        data: { values: amdahl },
        width: 260,
        height: 200,
        mark: { type: 'line', point: true },
        encoding: {
          column: { field: 'vm', type: 'nominal', title: null },
          x: x as never,
          y: { field: 'speedup', type: 'quantitative', title: 'speedup (x)' },
          color: { field: 'kind', type: 'nominal', title: null, scale: { range: [...OKABE_ITO] }, legend: FULL_LEGEND },
          strokeDash: { field: 'series', type: 'nominal', title: rest.join(', ') || null, legend: FULL_LEGEND },
        },
      }),
    );
  }
  const rows = out.points.flatMap((p) => Object.entries(p.vms).map(([vm, v]) => [...out.grid.map((a) => p.params[a.path]), vm, v.figure, num(v.estimate.mean), `${num(v.estimate.ci95[0])} – ${num(v.estimate.ci95[1])}`, num(v.serialFraction.mean), ranOnSummaryText(v.ranOn, v.pcpusUsed), p.errors.length]));
  return page(`ipilab sweep: ${out.scenario}`, `${out.points.length} points x ${out.replications} replication(s), seeds ${out.seeds.join(', ')}, ${out.workers} worker(s)`, [
    table([...out.grid.map((a) => a.path), 'VM', 'figure', 'mean', '95% CI', 'serial fraction', 'ran on: pCPUs (socket share)', 'failed runs'], rows),
    ...charts.map(figure),
    ...provenanceSection(out.meta),
  ]);
}
