import { EXIT_REASONS } from '@ipilab/events';
import type { Workload } from '@ipilab/guest';
import { didYouMean, suggest, type Problem } from './errors';
import { completeEstimate } from './incomplete';
import type { Estimate } from './statistics';

/**
 * Figures of merit a user picks (`run.metrics`, `--metric`; docs/cli.md, "Figures of merit").
 * A metric is `[VM=]FIGURE`, FIGURE one of:
 * - `default`: the workload's own figure (its `primary`), as without run.metrics;
 * - `throughput`: the workload's work rate, per second (Workload.figures.throughput);
 * - `STAT:LATENCY`: a statistic (mean, p50, p90, p99, p99.9, max) of a named latency distribution:
 *   every VM has `ipiSendToHandler`, `wholeCall` and `shootdown` (the accounting's, ipi.latency),
 *   a workload may add its own (Workload.figures.latencies: irq-pipeline `irq`, ipi-bench each mode);
 * - `exits/s`, `exits/s:REASON`: VM exits per second of measured time, all or of one reason;
 * - `share:CATEGORY`: the share (%) of the VM's vCPU time in one category of its ledger.
 * With `VM=`, the metric judges only that VM (a scenario VM name, or one copy's name `web-2`);
 * without, every VM, and each must have the figure. A VM no metric names keeps `default`.
 */

/** Statistics of a latency, as metric text -> LatencySummary field. */
export const LATENCY_STATS = { mean: 'mean', p50: 'p50', p90: 'p90', p99: 'p99', 'p99.9': 'p999', max: 'max' } as const;
type Stat = keyof typeof LATENCY_STATS;

/** The latencies the accounting records for every VM (`ipi.latency` of the run output). */
export const VM_LATENCIES = ['ipiSendToHandler', 'wholeCall', 'shootdown'] as const;

/** The ledger's categories a `share:` takes (the run report's bars): `exits` is every exit's handling time. */
export const SHARE_CATEGORIES = ['guest', 'handlingInterrupts', 'shootdownWait', 'exits', 'serviceQueued', 'hostOther', 'preempted', 'halted', 'offline'] as const;
type Category = (typeof SHARE_CATEGORIES)[number];

/** What a figure of merit measures (`--metric`, `run.metrics`), parsed. */
export type MetricFigure =
  | { readonly kind: 'default' }
  | { readonly kind: 'throughput' }
  | { readonly kind: 'latency'; readonly stat: Stat; readonly latency: string }
  | { readonly kind: 'exits'; readonly reason?: (typeof EXIT_REASONS)[number] }
  | { readonly kind: 'share'; readonly category: Category };

/** One `--metric` as parsed: its VM (if scoped) and its figure. */
export interface ParsedMetric {
  /** The figure's text as shown in tables and charts (`p99:shootdown`), without the VM. */
  readonly text: string;
  readonly vm?: string;
  readonly figure: MetricFigure;
}

const EXAMPLES = 'default, throughput, p99:shootdown, p99.9:ipiSendToHandler, exits/s, exits/s:hlt or share:guest, optionally after VM= (e.g. web=p99:irq)';

/** Parses a metric's text; an error says what was expected. */
export function parseMetric(text: string): ParsedMetric | { error: string } {
  // Each message is `expected ..., got ...`, as the scenario's other problems.
  const bad = (why: string): { error: string } => ({ error: why });
  const eq = text.indexOf('=');
  const vm = eq < 0 ? undefined : text.slice(0, eq).trim();
  const body = (eq < 0 ? text : text.slice(eq + 1)).trim();
  if (vm === '') return bad(`expected a VM name before "=" (e.g. web=p99:irq), got ${JSON.stringify(text)}`);
  const at = vm === undefined ? {} : { vm };
  if (body === 'default' || body === 'throughput') return { text: body, ...at, figure: { kind: body } };
  const colon = body.indexOf(':');
  const head = colon < 0 ? body : body.slice(0, colon);
  const arg = colon < 0 ? undefined : body.slice(colon + 1);
  if (Object.hasOwn(LATENCY_STATS, head)) {
    if (arg === undefined || arg === '') return bad(`expected a latency after ${JSON.stringify(`${head}:`)} (e.g. ${head}:shootdown), got ${JSON.stringify(body)}`);
    return { text: body, ...at, figure: { kind: 'latency', stat: head as Stat, latency: arg } };
  }
  if (head === 'exits/s') {
    if (arg === undefined) return { text: body, ...at, figure: { kind: 'exits' } };
    const reason = EXIT_REASONS.find((r) => r === arg);
    if (reason === undefined) return { error: `expected an exit reason after "exits/s:": one of ${EXIT_REASONS.map((r) => JSON.stringify(r)).join(', ')}, got ${JSON.stringify(arg)}${didYouMean(arg, EXIT_REASONS)}` };
    return { text: body, ...at, figure: { kind: 'exits', reason } };
  }
  if (head === 'share') {
    const category = SHARE_CATEGORIES.find((c) => c === arg);
    if (category === undefined) return { error: `expected a category after "share:": one of ${SHARE_CATEGORIES.map((c) => JSON.stringify(c)).join(', ')}, got ${JSON.stringify(arg ?? '')}${didYouMean(arg ?? '', SHARE_CATEGORIES)}` };
    return { text: body, ...at, figure: { kind: 'share', category } };
  }
  const words = ['default', 'throughput', ...Object.keys(LATENCY_STATS), 'exits/s', 'share'];
  const near = suggest(head, words);
  return bad(`expected a metric: ${EXAMPLES}, got ${JSON.stringify(text)}${near === undefined ? '' : `; did you mean ${JSON.stringify(colon < 0 ? near : `${near}:${arg}`)}?`}`);
}

/** A metric for one VM: what it shows, where it reads, and which way is better. */
export interface ResolvedMetric {
  /** The metric's text, without the VM (`default`, `p99:shootdown`). */
  readonly metric: string;
  /** The name tables and charts show: the workload's key for `default`, the metric's text otherwise. */
  readonly figure: string;
  /** Where in the VM's run output the value comes from (`workload.recordsPerSecond`, `ipi.latency.shootdown.p99`). */
  readonly key: string;
  /** `/s`, `ns`, `s`, `%`, or '' when unknown. */
  readonly unit: string;
  readonly higherIsBetter: boolean;
  readonly figureOf: MetricFigure;
}

/** A VM as metrics see it: its run name, its scenario spec's name, and its workload. */
export interface MetricVm {
  readonly name: string;
  readonly specName: string;
  readonly workload: Pick<Workload, 'kind' | 'primary' | 'figures'>;
}

/** The unit of a workload figure from its key: `...PerSecond` /s, a segment ending in `Ns` ns, `seconds` s. */
export function unitOfKey(key: string): string {
  const segs = key.split('.');
  if (/PerSecond$/.test(segs[segs.length - 1]!)) return '/s';
  if (segs.some((s) => /Ns$/.test(s))) return 'ns';
  if (segs[segs.length - 1] === 'seconds') return 's';
  return '';
}

/** A figure's name with its unit, as tables and axis titles show it: `p99:shootdown (ns)`, `exits/s` (its name says /s). */
export function figureWithUnit(m: { readonly figure: string; readonly unit: string }): string {
  return m.unit === '' || (m.unit === '/s' && /\/s(:|$)/.test(m.figure)) ? m.figure : `${m.figure} (${m.unit})`;
}

/** The latencies a VM has: the accounting's, then its workload's. */
export function latenciesOf(vm: MetricVm): string[] {
  return [...VM_LATENCIES, ...Object.keys(vm.workload.figures?.latencies ?? {})];
}

/** The metric for one VM, or why the VM has no such figure. */
function resolveFor(p: ParsedMetric, vm: MetricVm): ResolvedMetric | string {
  const f = p.figure;
  const w = vm.workload;
  switch (f.kind) {
    case 'default':
      return { metric: p.text, figure: w.primary.key, key: `workload.${w.primary.key}`, unit: unitOfKey(w.primary.key), higherIsBetter: w.primary.higherIsBetter, figureOf: f };
    case 'throughput': {
      const key = w.figures?.throughput;
      if (key === undefined) return `its workload (${w.kind}) reports no throughput`;
      return { metric: p.text, figure: p.text, key: `workload.${key}`, unit: '/s', higherIsBetter: true, figureOf: f };
    }
    case 'latency': {
      const field = LATENCY_STATS[f.stat];
      if ((VM_LATENCIES as readonly string[]).includes(f.latency)) return { metric: p.text, figure: p.text, key: `ipi.latency.${f.latency}.${field}`, unit: 'ns', higherIsBetter: false, figureOf: f };
      const own = w.figures?.latencies;
      const key = own !== undefined && Object.hasOwn(own, f.latency) ? own[f.latency] : undefined;
      if (key === undefined) return `it has no latency ${JSON.stringify(f.latency)} (its latencies: ${latenciesOf(vm).join(', ')})${didYouMean(f.latency, latenciesOf(vm))}`;
      return { metric: p.text, figure: p.text, key: `workload.${key}.${field}`, unit: 'ns', higherIsBetter: false, figureOf: f };
    }
    case 'exits':
      return { metric: p.text, figure: p.text, key: f.reason === undefined ? 'ipi.exits' : `ipi.exits.${f.reason}`, unit: '/s', higherIsBetter: false, figureOf: f };
    case 'share':
      return { metric: p.text, figure: p.text, key: `ledger.${f.category}`, unit: '%', higherIsBetter: f.category === 'guest', figureOf: f };
  }
}

/**
 * Each VM's metrics, in the order given (`metrics` is `run.metrics`), and every problem with
 * them, keyed `run.metrics[i]`: a metric that does not parse, names no VM of the run, is given
 * twice for a VM, or that a VM it judges does not have. `vms` are the run's VMs; `partial` says
 * the run leaves some of the scenario's VMs out (a VM alone for its slowdown), whose scoped
 * metrics are then not problems. A VM no metric names is judged by `default`.
 */
export function resolveMetrics(metrics: readonly string[], vms: readonly MetricVm[], partial = false): { perVm: ResolvedMetric[][]; problems: Problem[] } {
  const problems: Problem[] = [];
  const perVm: ResolvedMetric[][] = vms.map(() => []);
  const names = [...new Set(vms.flatMap((v) => [v.specName, v.name]))];
  metrics.forEach((text, i) => {
    const key = `run.metrics[${i}]`;
    const p = parseMetric(text);
    if ('error' in p) {
      problems.push({ key, message: p.error });
      return;
    }
    const judged = vms.map((v, k) => [v, k] as const).filter(([v]) => p.vm === undefined || v.name === p.vm || v.specName === p.vm);
    if (p.vm !== undefined && judged.length === 0) {
      if (!partial) problems.push({ key, message: `expected a VM of the scenario before "=": one of ${names.map((n) => JSON.stringify(n)).join(', ')}, got ${JSON.stringify(p.vm)}${didYouMean(p.vm, names)}` });
      return;
    }
    const lacking: string[] = [];
    const twice: string[] = [];
    for (const [v, k] of judged) {
      const r = resolveFor(p, v);
      if (typeof r === 'string') {
        lacking.push(`VM ${v.name}: ${r}`);
        continue;
      }
      if (perVm[k]!.some((m) => m.metric === r.metric)) {
        twice.push(v.name);
        continue;
      }
      perVm[k]!.push(r);
    }
    if (twice.length > 0) problems.push({ key, message: `${JSON.stringify(p.text)} is given twice for VM ${twice.join(', ')}: drop one` });
    if (lacking.length > 0) {
      const scope = p.vm === undefined && lacking.length < judged.length ? `; to judge only the VMs that have it, name each, e.g. ${judged.find(([v]) => !lacking.some((l) => l.startsWith(`VM ${v.name}:`)))![0].specName}=${p.text}` : '';
      problems.push({ key, message: `${JSON.stringify(p.text)}: ${lacking.join('; ')}${scope}` });
    }
  });
  vms.forEach((v, k) => {
    if (perVm[k]!.length === 0) perVm[k]!.push(resolveFor({ text: 'default', figure: { kind: 'default' } }, v) as ResolvedMetric);
  });
  return { perVm, problems };
}

/** What a metric reads from: a VM's run output, and the measured time. */
export interface MetricSource {
  readonly workload: Record<string, unknown>;
  readonly latency: Readonly<Record<string, Readonly<Record<string, number>>>> | null;
  readonly exits: Readonly<Partial<Record<string, number>>>;
  readonly ledger: Readonly<Record<string, unknown>> & { readonly total: number; readonly exits: Readonly<Partial<Record<string, number>>> };
  readonly measuredNs: number;
}

/** `a.b.c` of a nested record, as a number (NaN if absent). */
export function numberAt(obj: unknown, key: string): number {
  let v: unknown = obj;
  for (const k of key.split('.')) v = v !== null && typeof v === 'object' && Object.hasOwn(v, k) ? (v as Record<string, unknown>)[k] : undefined;
  return typeof v === 'number' ? v : NaN;
}

/** The sum of a record of counts or ns (exits by reason, IPIs by kind): absent keys count 0. */
export function total(r: Readonly<Partial<Record<string, number>>>): number {
  let n = 0;
  for (const v of Object.values(r)) n += v ?? 0;
  return n;
}

/** A metric's value for one VM: NaN when the run did not produce it (no sample, unfinished). */
export function metricValue(m: ResolvedMetric, s: MetricSource): number {
  const f = m.figureOf;
  switch (f.kind) {
    case 'default':
    case 'throughput':
      return numberAt(s.workload, m.key.slice('workload.'.length));
    case 'latency': {
      const field = LATENCY_STATS[f.stat];
      if (m.key.startsWith('ipi.latency.')) {
        const d = s.latency?.[f.latency];
        return d === undefined || !(d['count']! > 0) ? NaN : d[field]!;
      }
      return numberAt(s.workload, m.key.slice('workload.'.length));
    }
    case 'exits': {
      const n = f.reason === undefined ? total(s.exits) : (s.exits[f.reason] ?? 0);
      return s.measuredNs > 0 ? n / (s.measuredNs / 1e9) : NaN;
    }
    case 'share': {
      const ns = f.category === 'exits' ? total(s.ledger.exits) : (s.ledger[f.category] as number);
      return s.ledger.total > 0 ? (100 * ns) / s.ledger.total : NaN;
    }
  }
}

/** The VMs of a built run as metrics see them (BuiltRun's names, specOf and workloads). */
export function metricVms(built: { readonly names: readonly string[]; readonly specOf: readonly number[]; readonly workloads: readonly MetricVm['workload'][] }, specNames: readonly string[]): MetricVm[] {
  return built.names.map((name, k) => ({ name, specName: specNames[built.specOf[k]!]!, workload: built.workloads[k]! }));
}

/** A picked figure over replications (compare, sweep): its estimate, and how many runs lacked it. */
export interface MetricEstimate extends Omit<ResolvedMetric, 'figureOf'> {
  readonly estimate: Estimate;
  /** Replications whose run did not produce it (absent when all did); the estimates count only the others. */
  readonly incomplete?: number;
  readonly slowdownVsAlone?: Estimate;
  readonly slowdownVsBareMetal?: Estimate;
}

/** What one replication gives for one metric of one VM (a MetricValue, or its part a sweep worker sends back). */
export interface MetricSample extends Omit<ResolvedMetric, 'figureOf'> {
  readonly value: number;
  readonly slowdownVsAlone?: number;
  readonly slowdownVsBareMetal?: number;
}

/**
 * Each metric of one VM over replications: `runs[r]` is replication r's metric values, all in
 * the same order (one scenario). Incomplete values are left out of every estimate and counted;
 * a slowdown is estimated only when every replication computed one (its run asked for it).
 */
export function metricEstimates(runs: readonly (readonly MetricSample[])[]): MetricEstimate[] {
  const first = runs[0] ?? [];
  return first.map((m, k) => {
    const at = runs.map((r) => r[k]!);
    const own = completeEstimate(at.map((x) => x.value));
    const slow = at.map((x) => x.slowdownVsAlone);
    const native = at.map((x) => x.slowdownVsBareMetal);
    return {
      metric: m.metric,
      figure: m.figure,
      key: m.key,
      unit: m.unit,
      higherIsBetter: m.higherIsBetter,
      estimate: own.estimate,
      ...(own.incomplete > 0 ? { incomplete: own.incomplete } : {}),
      ...(slow.every((x) => x !== undefined) ? { slowdownVsAlone: completeEstimate(slow as number[]).estimate } : {}),
      ...(native.every((x) => x !== undefined) ? { slowdownVsBareMetal: completeEstimate(native as number[]).estimate } : {}),
    };
  });
}
