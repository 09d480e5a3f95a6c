import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runOutputSchema } from '@ipilab/scenario';
import { EXIT } from './main';
import { cli } from '../test/cli-harness';

const EXAMPLES = join(__dirname, '..', '..', '..', 'examples', 'scenarios');
/** An ipi-bench far too short to complete one sample (200 broadcasts do not fit in 20 us). */
const short = [join(EXAMPLES, 'pv-vs-trap-broadcast.yaml'), '--set', 'run.duration=20us'];


const WARNING = /^ipilab: warning: VM big.*: modes\.broadcast\.totalNs\.mean incomplete: .*give a longer run\.duration/m;

describe('unfinished runs said plainly', () => {
  it('run: a warning naming the VM, the figure and what to change; incomplete in the table, JSON and CSV; never NaN', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipilab-incomplete-'));
    const table = await cli('run', ...short, '--html', join(dir, 'run.html'));
    expect(table.code).toBe(EXIT.ok);
    expect(table.err).toMatch(WARNING);
    expect(table.out).toMatch(/events, 1 incomplete\n/);
    expect(table.out).toMatch(/│ big +│ modes\.broadcast\.totalNs\.mean \(ns\) +│ incomplete +│/);
    const json = await cli('run', ...short, '--json');
    const doc = runOutputSchema.parse(JSON.parse(json.out));
    expect(doc.vms['big']!.primary).toEqual({ key: 'modes.broadcast.totalNs.mean', value: null, higherIsBetter: false, incomplete: true });
    const csv = await cli('run', ...short, '--csv');
    const [header, row] = csv.out.trim().split('\n');
    const cells = Object.fromEntries(header!.split(',').map((k, i) => [k, row!.split(',')[i]]));
    expect([cells['value'], cells['incomplete']]).toEqual(['', 'true']);
    for (const s of [table.out, table.err, json.out, csv.out, readFileSync(join(dir, 'run.html'), 'utf8')]) expect(s).not.toMatch(/NaN/);
  });

  it('a complete run has no warning and no incomplete marker', async () => {
    const r = await cli('run', join(EXAMPLES, 'pv-vs-trap-broadcast.yaml'), '--set', 'run.duration=100ms', '--json');
    expect(r.err).toBe('');
    expect(JSON.parse(r.out).vms.big.primary.incomplete).toBeUndefined();
  });

  it('compare: a warning per variant, the count in the summary, incomplete in --json; never NaN', async () => {
    const vary = ['--vary', 'hypervisor.backend=trap,pv'];
    const dir = mkdtempSync(join(tmpdir(), 'ipilab-incomplete-'));
    // With --html: a figure no run produced is left out of the charts and said so (it once failed with an internal vega error).
    const table = await cli('compare', ...short, ...vary, '--html', join(dir, 'compare.html'));
    expect(table.code).toBe(EXIT.ok);
    expect(table.err.split('\n').filter((l) => WARNING.test(l)).map((l) => l.match(/ at (\S+):/)![1])).toEqual(['hypervisor.backend=trap', 'hypervisor.backend=pv']);
    expect(table.out).toMatch(/common random numbers\), 2 incomplete\n/);
    expect(table.out).not.toMatch(/n\/a/);
    const json = await cli('compare', ...short, ...vary, '--json');
    const v = JSON.parse(json.out).variants[0].vms.big;
    expect([v.incomplete, v.estimate.mean, v.estimate.n]).toEqual([1, null, 0]);
    const html = readFileSync(join(dir, 'compare.html'), 'utf8');
    expect(html).toContain('2 incomplete figure(s)');
    expect(html).toContain('Not charted, as no run produced the figure');
    expect(html).not.toMatch(/n\/a/);
    for (const s of [table.out, table.err, json.out, html]) expect(s).not.toMatch(/NaN/);
  });

  it('sweep: a warning per point, the count in the summary, incomplete in --json and --csv; never NaN', async () => {
    const grid = ['--grid', 'hypervisor.backend=trap,pv', '--workers', '1'];
    const dir = mkdtempSync(join(tmpdir(), 'ipilab-incomplete-'));
    const table = await cli('sweep', ...short, ...grid, '--out', dir, '--html', join(dir, 'sweep.html'));
    expect(table.code).toBe(EXIT.ok);
    expect(table.err.split('\n').filter((l) => WARNING.test(l))).toHaveLength(2);
    expect(table.out).toMatch(/worker\(s\)( \(heap up to [\d.]+ MiB a thread\))?, 2 incomplete\n/);
    const json = await cli('sweep', ...short, ...grid, '--json');
    expect(JSON.parse(json.out).points[0].vms.big.incomplete).toBe(1);
    const csv = readFileSync(join(dir, 'sweep.csv'), 'utf8');
    const [header, row] = csv.split('\n');
    const cells = Object.fromEntries(header!.split(',').map((k, i) => [k, row!.split(',')[i]]));
    expect([cells['incomplete'], cells['mean'], cells['metric']]).toEqual(['1', '', 'default']);
    const html = readFileSync(join(dir, 'sweep.html'), 'utf8');
    expect(html).toContain('Not charted, as no run produced the figure');
    for (const s of [table.out, table.err, json.out, csv, readFileSync(join(dir, 'sweep.json'), 'utf8'), html]) expect(s).not.toMatch(/NaN|n\/a/);
  });
});
