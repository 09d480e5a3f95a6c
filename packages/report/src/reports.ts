import { figureWithUnit, seedsText, incompleteOfCompare, incompleteOfRun, incompleteOfSweep, ranOnSummaryText, total, type CompareOutput, type Estimate, type RunOutput, type SweepOutput } from '@ipilab/scenario';
import type { TopLevelSpec } from 'vega-lite';
import { esc, figure, num, page, table, type Chart } from './html';
import { FULL_LEGEND, OKABE_ITO, scaleFor } from './palette';
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
          return s.count === 0 ? [] : (['p50', 'p90', 'p99', 'p999', 'max'] as const).map((q) => ({ vm, kind, quantile: q === 'p999' ? 'p99.9' : q, us: (s[q] as number) / 1000 }));
        }),
  );
  if (values.length === 0) return undefined;
  return chart('Latency distributions', 'For each VM: IPI send-to-handler, whole cross-call and TLB shootdown latency at the 50th, 90th, 99th and 99.9th percentiles and the maximum (µs, log scale).', {
    data: { values },
    mark: { type: 'line', point: { size: 60 } },
    width: 180,
    height: 160,
    encoding: {
      column: { field: 'kind', type: 'nominal', title: null },
      x: { field: 'quantile', type: 'ordinal', sort: ['p50', 'p90', 'p99', 'p99.9', 'max'], title: null },
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
  // A row per VM and picked figure (run.metrics).
  const rows = Object.entries(out.vms).flatMap(([name, v]) =>
    v.metrics.map((m) => [
      name,
      figureWithUnit(m),
      m.incomplete === true ? 'incomplete' : num(m.value),
      slowText(m.slowdownVsAlone),
      slowText(m.slowdownVsBareMetal),
      total(v.ipi.sent),
      total(v.ipi.exits),
      v.ipi.shootdowns,
    ]),
  );
  return page(`ipilab run: ${out.scenario}`, `seed ${out.seed}, ${(out.simulatedNs / 1e6).toFixed(3)} ms simulated, ${out.events} events${incompleteNote(incompleteOfRun(out).length)}`, [
    table(['VM', 'figure of merit', 'value', 'slowdown vs alone', 'slowdown vs bare metal', 'IPIs sent', 'exits', 'shootdowns'], rows),
    ...charts.map(figure),
    ...ranOn,
    ...provenanceSection(out.meta),
  ]);
}


/** A slowdown: '-' when not asked for, 'incomplete' when the figure was not produced. */
const slowText = (x: number | undefined): string => (x === undefined ? '-' : Number.isFinite(x) ? `${num(x)}x` : 'incomplete');

/** An estimate's cells: the mean ('incomplete' when no replication produced it, with how many did not) and the interval. */
const estCells = (e: Estimate, incomplete: number | undefined): [string, string] => [
  e.n === 0 ? 'incomplete' : `${num(e.mean)}${incomplete === undefined ? '' : ` (${incomplete} incomplete)`}`,
  e.n < 2 ? '-' : `${num(e.ci95[0])} – ${num(e.ci95[1])}`,
];

const slowEst = (e: Estimate | undefined): string => (e === undefined ? '-' : e.n === 0 ? 'incomplete' : `${num(e.mean)}x`);

/** ", 2 incomplete" for a report's summary line. */
const incompleteNote = (n: number): string => (n === 0 ? '' : `, ${n} incomplete figure(s) (see the tables)`);

const lo = (e: { mean: number; ci95: readonly [number, number] }): number => (Number.isNaN(e.ci95[0]) ? e.mean : e.ci95[0]);
const hi = (e: { mean: number; ci95: readonly [number, number] }): number => (Number.isNaN(e.ci95[1]) ? e.mean : e.ci95[1]);

/**
 * Small multiples: one panel per VM and figure (a row each; `facet` with a layered spec inside,
 * as a `column` channel in a layer's encoding is dropped and stacks the VMs), each with its own
 * y scale so ns and /s never share an axis. Values carry `panel` (the VM, and the figure when a
 * VM has several) and `title` (the y axis: the figure with its unit).
 */
/** A panel's layer; `x: false` for one drawn across the panel (a reference line). */
type Layer = { x?: false; mark: unknown; encoding: object };
type Panelled = { readonly panel: string; readonly title: string };

function panels(values: readonly Panelled[], title: (t: string) => string, layer: Layer[], x: object, yValues: (panel: string) => number[], width = 320): TopLevelSpec {
  const names = [...new Set(values.map((v) => v.panel))];
  return {
    vconcat: names.map((panel) => {
      const mine = values.filter((v) => v.panel === panel);
      return {
        title: { text: panel, anchor: 'start' },
        data: { values: mine },
        width,
        height: 160,
        encoding: { y: { type: 'quantitative', title: title(mine[0]!.title), scale: scaleFor(yValues(panel)) } },
        layer: layer.map(({ x: own, ...l }) => (own === false ? l : { ...l, encoding: { x, ...l.encoding } })),
      };
    }),
    resolve: { scale: { y: 'independent', color: 'shared' } },
    config: { legend: FULL_LEGEND },
  } as unknown as TopLevelSpec;
}

/** A panel's name: the VM, and the figure when the VM is judged by more than one. */
const panelName = (vm: string, figure: string, several: boolean): string => (several ? `${vm} — ${figure}` : vm);

/** A paragraph naming the panels left out of the charts because no run produced their figure. */
function missingNote(missing: readonly string[]): string[] {
  if (missing.length === 0) return [];
  return [`<p class="meta">${esc(`Not charted, as no run produced the figure (incomplete; see the warnings and the table): ${missing.join('; ')}.`)}</p>`];
}

/** A self-contained HTML report of a comparison. */
export async function compareReportHtml(out: CompareOutput): Promise<string> {
  const order = out.variants.map((v) => String(v.value));
  const names = [...new Set(out.variants.flatMap((v) => Object.keys(v.vms)))];
  const rowsOf = names.flatMap((vm) => {
    const metrics = out.variants.find((v) => v.vms[vm] !== undefined)!.vms[vm]!.metrics;
    return metrics.map((m0) => ({ vm, metric: m0.metric, panel: panelName(vm, figureWithUnit(m0), metrics.length > 1), title: figureWithUnit(m0) }));
  });
  // Only what some replication produced is drawn: an all-incomplete figure has no extent to scale.
  const values = rowsOf.flatMap((r) =>
    out.variants.flatMap((v) => {
      const m = v.vms[r.vm]?.metrics.find((x) => x.metric === r.metric);
      if (m === undefined || m.estimate.n === 0) return [];
      const ratio = m.ratio.n > 0 ? { ratio: m.ratio.mean, rlo: lo(m.ratio), rhi: hi(m.ratio) } : {};
      return [{ panel: r.panel, title: r.title, vm: r.vm, variant: String(v.value), mean: m.estimate.mean, lo: lo(m.estimate), hi: hi(m.estimate), ...ratio }];
    }),
  );
  const missing = rowsOf.filter((r) => !values.some((v) => v.panel === r.panel)).map((r) => r.panel);
  const of = (panel: string): typeof values => values.filter((v) => v.panel === panel);
  const x = { field: 'variant', type: 'nominal', title: out.vary, sort: order, axis: { labelAngle: 0, labelLimit: 0 } };
  const color = { field: 'variant', type: 'nominal', sort: order, scale: { range: [...OKABE_ITO] }, legend: null };
  const bars = (y: string, l: string, h: string): Layer[] => [
    { mark: 'bar', encoding: { y: { field: y }, color } },
    { mark: { type: 'errorbar', ticks: true, color: '#222' }, encoding: { y: { field: l, type: 'quantitative' }, y2: { field: h } } },
  ];
  const charts: Chart[] = [];
  if (values.length > 0) {
    charts.push(
      await chart('Figure of merit per VM', 'One panel per VM and figure, in the figure\'s unit: each variant\'s mean with its 95 % confidence interval (error bar). Log scale when the values span more than two decades.',
        panels(values, (t) => t, bars('mean', 'lo', 'hi'), x, (p) => of(p).flatMap((v) => [v.mean, v.lo, v.hi]))),
    );
    const ratios = values.filter((v) => 'ratio' in v) as (typeof values[number] & { ratio: number; rlo: number; rhi: number })[];
    if (ratios.length > 0) {
      charts.push(
        await chart(`Figure of merit relative to ${out.vary} = ${String(out.variants[0]!.value)}`, 'One panel per VM and figure: each variant\'s figure divided by the first variant\'s (paired by seed), with its 95 % confidence interval (error bar); 1 means no change.',
          panels(ratios, (t) => `${t.replace(/ \(.*\)$/, '')} ratio to first (x)`, [...bars('ratio', 'rlo', 'rhi'), { x: false, mark: { type: 'rule', strokeDash: [4, 3], color: '#666' }, encoding: { y: { datum: 1 } } }], x, (p) => [1, ...ratios.filter((v) => v.panel === p).flatMap((v) => [v.ratio, v.rlo, v.rhi])])),
      );
    }
  }
  const rows = rowsOf.flatMap((r) =>
    out.variants.flatMap((v) => {
      const f = v.vms[r.vm];
      const m = f?.metrics.find((x) => x.metric === r.metric);
      if (f === undefined || m === undefined) return [];
      return [[r.vm, String(v.value), `${figureWithUnit(m)}, ${m.higherIsBetter ? 'higher' : 'lower'} is better`, ...estCells(m.estimate, m.incomplete), m.ratio.n === 0 ? 'incomplete' : num(m.ratio.mean), slowEst(m.slowdownVsAlone), slowEst(m.slowdownVsBareMetal), ranOnSummaryText(f.ranOn, f.pcpusUsed)]];
    }),
  );
  return page(`ipilab compare: ${out.scenario}`, `${out.variants.length} variants of ${out.vary}, ${out.replications} replication(s), ${seedsText(out)}${incompleteNote(incompleteOfCompare(out).length)}`, [
    table(['VM', out.vary, 'figure', 'mean', '95% CI', 'ratio to first', 'slowdown vs alone', 'slowdown vs bare metal', 'ran on: pCPUs (socket share)'], rows),
    ...charts.map(figure),
    ...missingNote(missing),
    ...provenanceSection(out.meta),
  ]);
}

/** A self-contained HTML report of a sweep: curves with confidence bands, and Amdahl beside measurement. */
export async function sweepReportHtml(out: SweepOutput): Promise<string> {
  const [first = '', ...rest] = out.grid.map((a) => a.path);
  const numeric = out.grid[0]!.values.every((v) => Number.isFinite(Number(v)));
  const series = (p: Record<string, string>): string => (rest.length === 0 ? 'all' : rest.length === 1 ? String(p[rest[0]!]) : rest.map((k) => `${k}=${p[k]}`).join(', '));
  const xOf = (p: Record<string, string>): number | string => (numeric ? Number(p[first]) : p[first]!);
  // Panels: per VM, per picked figure (several figures of a VM each get one).
  const several = new Map<string, number>();
  for (const p of out.points) for (const [vm, v] of Object.entries(p.vms)) several.set(vm, Math.max(several.get(vm) ?? 0, v.metrics.length));
  const all = out.points.flatMap((p) =>
    Object.entries(p.vms).flatMap(([vm, v]) =>
      v.metrics.map((m) => ({
        panel: panelName(vm, figureWithUnit(m), (several.get(vm) ?? 1) > 1),
        title: figureWithUnit(m),
        vm,
        x: xOf(p.params),
        series: series(p.params),
        n: m.estimate.n,
        mean: m.estimate.mean,
        lo: lo(m.estimate),
        hi: hi(m.estimate),
      })),
    ),
  );
  // Only what some replication produced is drawn (never a NaN on an axis or a label).
  const values = all.filter((v) => v.n > 0).map(({ n: _n, ...v }) => v);
  const missing = [...new Set(all.map((v) => v.panel))].filter((panel) => !values.some((v) => v.panel === panel));
  const xs = values.map((v) => v.x);
  // Numbers on a numeric axis (never text order: 1, 16, 2, ...); log when they span two decades.
  const x: object = numeric
    ? { field: 'x', type: 'quantitative', title: first, scale: scaleFor(xs as number[]), axis: { values: [...new Set(xs as number[])].sort((a, b) => a - b) } }
    : { field: 'x', type: 'ordinal', title: first, sort: out.grid[0]!.values.map(String), axis: { labelLimit: 0 } };
  const color = { field: 'series', type: 'nominal', title: rest.join(', ') || null, scale: { range: [...OKABE_ITO] }, legend: FULL_LEGEND };
  const charts: Chart[] = [];
  if (values.length > 0) {
    charts.push(
      await chart(`Figure of merit over ${first}`, 'One panel per VM and figure, in the figure\'s unit: the mean at each grid point, one line per combination of the other axes, with its 95 % confidence interval (error bars). Log scales when values span more than two decades.',
        panels(values, (t) => t, [
          { mark: { type: 'errorbar', ticks: true }, encoding: { y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color } },
          { mark: { type: 'line', point: true }, encoding: { y: { field: 'mean', type: 'quantitative' }, color } },
        ], x, (panel) => values.filter((v) => v.panel === panel).flatMap((v) => [v.mean, v.lo, v.hi]))),
    );
  }
  // Amdahl, on each VM's own figure (the workload's, as without run.metrics): speedup is the
  // figure's ratio to the smallest point's, inverted for a time (lower is better).
  const own = out.points.flatMap((p) =>
    Object.entries(p.vms)
      .filter(([, v]) => v.estimate.n > 0 && v.estimate.mean > 0)
      .map(([vm, v]) => ({ vm, x: xOf(p.params), series: series(p.params), mean: v.estimate.mean, higherIsBetter: v.higherIsBetter, serial: v.serialFraction.mean })),
  );
  if (numeric && own.length > 0) {
    const amdahl = own.flatMap((r) => {
      const base = own.filter((b) => b.vm === r.vm && b.series === r.series).sort((a, b) => (a.x as number) - (b.x as number))[0]!;
      const s = Math.min(1, Math.max(0, Number.isFinite(base.serial) ? base.serial : 0));
      const sp = (n: number): number => 1 / (s + (1 - s) / n);
      const n = r.x as number;
      const n0 = base.x as number;
      return [
        { vm: r.vm, series: r.series, x: n, kind: 'measured', speedup: r.higherIsBetter ? r.mean / base.mean : base.mean / r.mean },
        { vm: r.vm, series: r.series, x: n, kind: 'Amdahl prediction', speedup: sp(n) / sp(n0) },
      ];
    });
    charts.push(
      await chart('Amdahl\'s law beside measurement', `Speedup relative to the smallest ${first}: measured (each VM's own figure of merit, its ratio to the smallest point's, inverted for a time) and predicted by Amdahl's law from the serial fraction measured there (shootdown waiting over busy time).`, {
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
  const rows = out.points.flatMap((p) =>
    Object.entries(p.vms).flatMap(([vm, v]) =>
      v.metrics.map((m) => [...out.grid.map((a) => p.params[a.path]), vm, figureWithUnit(m), ...estCells(m.estimate, m.incomplete), num(v.serialFraction.mean), slowEst(m.slowdownVsAlone), ranOnSummaryText(v.ranOn, v.pcpusUsed), p.errors.length]),
    ),
  );
  return page(`ipilab sweep: ${out.scenario}`, `${out.points.length} points x ${out.replications} replication(s), ${seedsText(out)}, ${out.workers} worker(s)${incompleteNote(incompleteOfSweep(out).length)}`, [
    table([...out.grid.map((a) => a.path), 'VM', 'figure', 'mean', '95% CI', 'serial fraction', 'slowdown vs alone', 'ran on: pCPUs (socket share)', 'failed runs'], rows),
    ...charts.map(figure),
    ...missingNote(missing),
    ...provenanceSection(out.meta),
  ]);
}
