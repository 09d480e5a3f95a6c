import fc from 'fast-check';
import { LATENCY_STATS, metricEstimates, metricValue, parseMetric, resolveMetrics, SHARE_CATEGORIES, unitOfKey, type MetricSource, type MetricVm } from './metrics';

const ebizzy: MetricVm['workload'] = { kind: 'ebizzy', primary: { key: 'recordsPerSecond', higherIsBetter: true }, figures: { throughput: 'recordsPerSecond' } };
const irq: MetricVm['workload'] = { kind: 'irq-pipeline', primary: { key: 'latencyP50Ns', higherIsBetter: false }, figures: { throughput: 'eventsPerSecond', latencies: { irq: 'latencyNs' } } };
const bench: MetricVm['workload'] = { kind: 'ipi-bench', primary: { key: 'modes.unicast.totalNs.mean', higherIsBetter: false }, figures: { latencies: { unicast: 'modes.unicast.totalNs' } } };
const vms: MetricVm[] = [
  { name: 'web', specName: 'web', workload: irq },
  { name: 'batch-1', specName: 'batch', workload: ebizzy },
  { name: 'batch-2', specName: 'batch', workload: ebizzy },
];

describe('parseMetric', () => {
  it('reads every form: default, throughput, STAT:LATENCY, exits/s[:REASON], share:CATEGORY, each optionally after VM=', () => {
    expect(parseMetric('default')).toEqual({ text: 'default', figure: { kind: 'default' } });
    expect(parseMetric('web=throughput')).toEqual({ text: 'throughput', vm: 'web', figure: { kind: 'throughput' } });
    expect(parseMetric('p99.9:shootdown')).toEqual({ text: 'p99.9:shootdown', figure: { kind: 'latency', stat: 'p99.9', latency: 'shootdown' } });
    expect(parseMetric('exits/s:hlt')).toEqual({ text: 'exits/s:hlt', figure: { kind: 'exits', reason: 'hlt' } });
    expect(parseMetric('exits/s')).toEqual({ text: 'exits/s', figure: { kind: 'exits' } });
    expect(parseMetric('share:shootdownWait')).toEqual({ text: 'share:shootdownWait', figure: { kind: 'share', category: 'shootdownWait' } });
    // A latency's name may hold dots (ipi-bench's unicast.sendToHandler).
    expect(parseMetric('max:unicast.sendToHandler')).toMatchObject({ figure: { kind: 'latency', stat: 'max', latency: 'unicast.sendToHandler' } });
  });

  it('refuses what is not a metric, saying what is, with "did you mean" when close', () => {
    expect(parseMetric('p95:shootdown')).toEqual({ error: expect.stringMatching(/^expected a metric: .*, got "p95:shootdown"; did you mean "p90:shootdown"\?$/) });
    expect(parseMetric('throughpt')).toEqual({ error: expect.stringContaining('did you mean "throughput"') });
    expect(parseMetric('fastest')).toEqual({ error: expect.not.stringContaining('did you mean') });
    expect(parseMetric('p99')).toEqual({ error: expect.stringContaining('expected a latency after "p99:"') });
    expect(parseMetric('=p99:shootdown')).toEqual({ error: expect.stringContaining('expected a VM name before "="') });
    expect(parseMetric('share:gest')).toEqual({ error: expect.stringContaining('did you mean "guest"') });
    expect(parseMetric('exits/s:ipi')).toEqual({ error: expect.stringContaining('expected an exit reason') });
  });
});

describe('resolveMetrics', () => {
  it('gives each VM the metrics that judge it, in order; a VM none names keeps default', () => {
    const r = resolveMetrics(['web=p99:irq', 'batch=throughput', 'p50:shootdown'], vms);
    expect(r.problems).toEqual([]);
    expect(r.perVm.map((ms) => ms.map((m) => m.metric))).toEqual([['p99:irq', 'p50:shootdown'], ['throughput', 'p50:shootdown'], ['throughput', 'p50:shootdown']]);
    expect(r.perVm[0]![0]).toMatchObject({ key: 'workload.latencyNs.p99', unit: 'ns', higherIsBetter: false });
    expect(r.perVm[1]![1]).toMatchObject({ key: 'ipi.latency.shootdown.p50', unit: 'ns' });
    const d = resolveMetrics(['web-1=share:guest'], [{ name: 'web-1', specName: 'web', workload: ebizzy }, { name: 'web-2', specName: 'web', workload: ebizzy }]);
    expect(d.perVm.map((ms) => ms.map((m) => m.figure))).toEqual([['share:guest'], ['recordsPerSecond']]);
  });

  it('names the VMs that lack an unscoped figure and how to scope it', () => {
    const r = resolveMetrics(['p99:irq'], vms);
    expect(r.problems).toEqual([{ key: 'run.metrics[0]', message: expect.stringMatching(/VM batch-1: it has no latency "irq".*VM batch-2.*name each, e.g. web=p99:irq$/) }]);
    expect(resolveMetrics(['throughput'], [{ name: 'b', specName: 'b', workload: bench }]).problems[0]!.message).toContain('its workload (ipi-bench) reports no throughput');
  });

  it('refuses an unknown VM (with "did you mean"), a metric given twice for a VM, and says which item', () => {
    const r = resolveMetrics(['throughput', 'wbe=p99:irq', 'batch=throughput'], vms);
    expect(r.problems).toEqual([
      { key: 'run.metrics[1]', message: expect.stringContaining('got "wbe"; did you mean "web"?') },
      { key: 'run.metrics[2]', message: '"throughput" is given twice for VM batch-1, batch-2: drop one' },
    ]);
  });

  it('in a run of some VMs only (a VM alone), a metric for another VM is no problem', () => {
    expect(resolveMetrics(['web=p99:irq'], vms.slice(1), true).problems).toEqual([]);
    expect(resolveMetrics(['web=p99:irq'], vms.slice(1), false).problems).toHaveLength(1);
  });
});

describe('metricValue', () => {
  const source = (o: Partial<MetricSource> = {}): MetricSource => ({
    workload: { recordsPerSecond: 1_234, latencyNs: { count: 3, p99: 70 } },
    latency: { shootdown: { count: 2, p50: 10, p99: 20, p999: 21, mean: 15, max: 22 }, wholeCall: { count: 0, p50: NaN } },
    exits: { hlt: 30, 'apic-write': 10 },
    ledger: { total: 1_000, guest: 600, exits: { hlt: 100, 'apic-write': 50 }, halted: 250 },
    measuredNs: 2e9,
    ...o,
  });
  const value = (metric: string, vm: MetricVm = vms[1]!, s = source()): number => metricValue(resolveMetrics([metric], [vm]).perVm[0]![0]!, s);

  it('reads each figure where its key says', () => {
    expect(value('default')).toBe(1_234);
    expect(value('throughput')).toBe(1_234);
    expect(value('p99.9:shootdown')).toBe(21);
    expect(value('p99:irq', vms[0]!)).toBe(70);
    expect(value('exits/s')).toBe(20);
    expect(value('exits/s:hlt')).toBe(15);
    expect(value('exits/s:io')).toBe(0);
    expect(value('share:guest')).toBe(60);
    expect(value('share:exits')).toBe(15);
  });

  it('is NaN (incomplete) for a latency with no sample or a figure the workload did not produce', () => {
    expect(value('p50:wholeCall')).toBeNaN();
    expect(value('p50:ipiSendToHandler')).toBeNaN();
    expect(value('default', vms[1]!, source({ workload: {} }))).toBeNaN();
    expect(value('p99:shootdown', vms[1]!, source({ latency: null }))).toBeNaN();
  });

  it('shares of every category add up to 100 % of the vCPU time (law)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 1e9 }), { minLength: SHARE_CATEGORIES.length + 1, maxLength: SHARE_CATEGORIES.length + 1 }), (ns) => {
        const [exitA, ...rest] = ns;
        const ledger: Record<string, unknown> = { exits: { hlt: exitA!, io: rest[3]! } };
        let total = exitA! + rest[3]!;
        SHARE_CATEGORIES.forEach((c, i) => {
          if (c === 'exits') return;
          ledger[c] = rest[i]!;
          total += rest[i]!;
        });
        fc.pre(total > 0);
        const s = source({ ledger: { ...ledger, total } as MetricSource['ledger'] });
        const sum = SHARE_CATEGORIES.reduce((a, c) => a + value(`share:${c}`, vms[1]!, s), 0);
        expect(sum).toBeCloseTo(100, 9);
      }),
    );
  });
});

describe('metricEstimates', () => {
  it('estimates each metric over the replications that produced it, counting the others, slowdowns likewise', () => {
    const m = { metric: 'p99:shootdown', figure: 'p99:shootdown', key: 'ipi.latency.shootdown.p99', unit: 'ns', higherIsBetter: false };
    const e = metricEstimates([[{ ...m, value: 10, slowdownVsAlone: 2 }], [{ ...m, value: NaN, slowdownVsAlone: NaN }], [{ ...m, value: 20, slowdownVsAlone: 4 }]]);
    expect(e).toHaveLength(1);
    expect(e[0]).toMatchObject({ metric: 'p99:shootdown', incomplete: 1, estimate: { mean: 15, n: 2 }, slowdownVsAlone: { mean: 3, n: 2 } });
    expect(e[0]!.slowdownVsBareMetal).toBeUndefined();
  });
});

describe('unitOfKey and LATENCY_STATS', () => {
  it('units from keys: /s, ns (a segment ending in Ns), s', () => {
    expect([unitOfKey('recordsPerSecond'), unitOfKey('modes.unicast.totalNs.mean'), unitOfKey('seconds'), unitOfKey('records')]).toEqual(['/s', 'ns', 's', '']);
  });
  it('p99.9 reads the summary field p999', () => {
    expect(LATENCY_STATS['p99.9']).toBe('p999');
  });
});
