import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runOutputSchema } from '@ipilab/scenario';
import { EXIT } from './main';
import { cli } from '../test/cli-harness';

const EXAMPLES = join(__dirname, '..', '..', '..', 'examples', 'scenarios');
/** The interrupt pipeline, short: its default figure is the median latency. */
const irq = [join(EXAMPLES, 'numa-irq-pipeline.yaml'), '--set', 'run.duration=4ms', '--set', 'run.replications=2'];


describe('--metric and run.metrics: the figures each VM is judged by', () => {
  it('run: each picked figure in --json (read where its key says), a line each in the table, a row each in the CSV', async () => {
    const metrics = ['--metric', 'p99:irq', '--metric', 'p99.9:irq', '--metric', 'throughput', '--metric', 'share:guest', '--metric', 'exits/s'];
    const json = await cli('run', ...irq, ...metrics, '--json');
    expect(json.code).toBe(EXIT.ok);
    const v = runOutputSchema.parse(JSON.parse(json.out)).vms['nic-app']!;
    const w = v.workload as { latencyNs: { p99: number; p999: number }; eventsPerSecond: number };
    expect(v.metrics.map((m) => [m.metric, m.unit, m.higherIsBetter])).toEqual([
      ['p99:irq', 'ns', false],
      ['p99.9:irq', 'ns', false],
      ['throughput', '/s', true],
      ['share:guest', '%', true],
      ['exits/s', '/s', false],
    ]);
    expect(v.metrics.map((m) => m.value)).toEqual([w.latencyNs.p99, w.latencyNs.p999, w.eventsPerSecond, (100 * v.ledger.guest) / v.ledger.total, Object.values(v.ipi.exits).reduce((a, b) => a + b, 0) / 0.004]);
    expect(w.latencyNs.p999).toBeGreaterThanOrEqual(w.latencyNs.p99);
    // The workload's own figure is still there, as without --metric.
    expect(v.primary.key).toBe('latencyP50Ns');
    const table = await cli('run', ...irq, ...metrics);
    expect(table.out).toMatch(/│ nic-app +│ p99:irq \(ns\) +│ \d+ +│/);
    expect(table.out).toMatch(/│ +│ exits\/s +│ \d+ +│/);
    const csv = (await cli('run', ...irq, ...metrics, '--csv')).out.trim().split('\n');
    expect(csv).toHaveLength(1 + 5);
    expect(csv.slice(1).map((l) => l.split(',').at(-2))).toEqual(['p99:irq', 'p99.9:irq', 'throughput', 'share:guest', 'exits/s']);
  });

  it('without --metric the figure is the workload\'s own, as before: metrics is [default], equal to primary', async () => {
    const v = JSON.parse((await cli('run', ...irq, '--json')).out).vms['nic-app'];
    expect(v.metrics).toEqual([{ metric: 'default', figure: 'latencyP50Ns', key: 'workload.latencyP50Ns', unit: 'ns', higherIsBetter: false, value: v.primary.value }]);
  });

  it('compare: per picked figure, its estimate and ratio to the first variant, in the table and --json; the p99 the median hid', async () => {
    const vary = ['--vary', 'vms[0].workload.processNs=5000,2500'];
    const json = await cli('compare', ...irq, ...vary, '--metric', 'p50:irq', '--metric', 'p99:irq', '--json');
    expect(json.code).toBe(EXIT.ok);
    const doc = JSON.parse(json.out);
    const [a, b] = doc.variants.map((v: { vms: Record<string, { metrics: { metric: string; estimate: { mean: number; n: number }; ratio: { mean: number } }[] }> }) => v.vms['nic-app']!.metrics);
    expect(a.map((m: { metric: string }) => m.metric)).toEqual(['p50:irq', 'p99:irq']);
    expect(a[1].ratio.mean).toBe(1);
    expect(b[1].ratio.mean).toBeCloseTo(b[1].estimate.mean / a[1].estimate.mean, 1);
    // Halving the processing cuts the tail more than the median in ns.
    expect(a[1].estimate.mean - b[1].estimate.mean).toBeGreaterThan(a[0].estimate.mean - b[0].estimate.mean);
    const table = await cli('compare', ...irq, ...vary, '--metric', 'p50:irq', '--metric', 'p99:irq');
    expect(table.out.match(/│ nic-app +│ p99:irq \(ns\), lower is better +│ (5000|2500) +│/g)).toHaveLength(2);
  }, 60_000);

  it('sweep: a CSV row per point, VM and picked figure', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipilab-metric-'));
    const r = await cli('sweep', ...irq, '--grid', 'vms[0].workload.rate=10000,20000', '--metric', 'throughput', '--metric', 'max:irq', '--workers', '1', '--out', dir);
    expect(r.code).toBe(EXIT.ok);
    const rows = readFileSync(join(dir, 'sweep.csv'), 'utf8').trim().split('\n');
    expect(rows.slice(1).map((l) => [l.split(',')[0], l.split(',').at(-2)])).toEqual([
      ['10000', 'throughput'],
      ['10000', 'max:irq'],
      ['20000', 'throughput'],
      ['20000', 'max:irq'],
    ]);
  }, 60_000);

  it('a bad metric is one line naming the --metric, exit 2, nothing on stdout, from validate as from run', async () => {
    for (const cmd of ['validate', 'run']) {
      const r = await cli(cmd, ...irq, '--metric', 'nic-app=p99:irk');
      expect([r.code, r.out]).toEqual([EXIT.usage, '']);
      expect(r.err).toBe('--metric nic-app=p99:irk: run.metrics[0]: "p99:irk": VM nic-app: it has no latency "irk" (its latencies: ipiSendToHandler, wholeCall, shootdown, irq); did you mean "irq"?\n');
    }
    const second = await cli('validate', ...irq, '--metric', 'throughput', '--metric', 'p95:irq');
    expect(second.err).toMatch(/^--metric p95:irq: run\.metrics\[1\]: expected a metric: default, throughput, .*, got "p95:irq"; did you mean "p90:irq"\?\n$/);
  });

  it('run.metrics in a scenario file: a problem points at its line and column', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipilab-metric-'));
    const file = join(dir, 's.yaml');
    writeFileSync(file, `${readFileSync(join(EXAMPLES, 'numa-irq-pipeline.yaml'), 'utf8').replace('run: { duration: 50ms, seed: 1, replications: 3 }', 'run:\n  duration: 2ms\n  metrics: [throughput, nic=p99:irq]')}`);
    const r = await cli('validate', file);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+:\\d+: run\\.metrics\\[1\\]: expected a VM of the scenario before "=": one of "nic-app", got "nic"`));
  });
});
