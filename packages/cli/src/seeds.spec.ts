import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeSweepWorkers } from '@ipilab/scenario';
import { EXIT } from './main';
import { cli } from '../test/cli-harness';

// Issue 18: a run.seed or run.replications on a --grid/--vary axis sets that point's seeds.

const small = join(__dirname, '..', '..', 'scenario', 'test', 'fixtures', 'small.yaml');


async function json(...argv: string[]): Promise<any> {
  const r = await cli(...argv, '--json');
  expect(r.err).toBe('');
  expect(r.code).toBe(EXIT.ok);
  return JSON.parse(r.out);
}

/** Each VM's figure of merit when `run` runs the scenario with this seed. */
async function runFigures(seed: number): Promise<Record<string, number>> {
  const doc = await json('run', small, '--set', `run.seed=${seed}`);
  return Object.fromEntries(Object.entries(doc.vms as Record<string, { primary: { value: number } }>).map(([vm, v]) => [vm, v.primary.value]));
}

const means = (vms: Record<string, { estimate: { mean: number } }>): Record<string, number> => Object.fromEntries(Object.entries(vms).map(([vm, v]) => [vm, v.estimate.mean]));

afterAll(() => closeSweepWorkers());

describe('seeds on an axis', () => {
  it('sweep --grid run.seed=7,8,9: each point runs its own seed, with the figures run gives for that seed', async () => {
    const doc = await json('sweep', small, '--grid', 'run.seed=7,8,9', '--workers', '1');
    const figures = [await runFigures(7), await runFigures(8), await runFigures(9)];
    // The three seeds do give different figures (else this test could not fail).
    expect(new Set(figures.map((f) => JSON.stringify(f))).size).toBe(3);
    expect(doc.points.map((p: { vms: never }) => means(p.vms))).toEqual(figures);
    // The top-level seeds are the first point's; a point that ran others lists them.
    expect(doc.seeds).toEqual([7]);
    expect(doc.points.map((p: { seeds?: number[] }) => p.seeds)).toEqual([undefined, [8], [9]]);
  }, 60_000);

  it('compare --vary run.seed gives each variant its own figures', async () => {
    const doc = await json('compare', small, '--vary', 'run.seed=7,8');
    const [a, b] = doc.variants;
    expect(means(a.vms)).toEqual(await runFigures(7));
    expect(means(b.vms)).toEqual(await runFigures(8));
    expect(means(a.vms)).not.toEqual(means(b.vms));
    expect([doc.seeds, a.seeds, b.seeds]).toEqual([[7], undefined, [8]]);
    // The tables' summary lines say what each ran, not the first's seeds for all.
    const table = await cli('compare', small, '--vary', 'run.seed=7,8');
    expect(table.out).toContain('1 replication(s) each (seeds per variant: 7: 7; 8: 8; common random numbers)');
    const sweep = await cli('sweep', small, '--grid', 'run.seed=7,8', '--workers', '1');
    expect(sweep.out).toContain("(seeds differ by point (run.seed or run.replications is an axis; each point's are in --json), the first point's 7)");
    expect((await cli('sweep', small, '--grid', 'hypervisor.backend=trap,pv', '--workers', '1')).out).toContain('1 replication(s) (seeds 7), 1 worker(s)');
  }, 60_000);

  it('common random numbers stay across the other axes: points with the same run.seed share their seeds', async () => {
    const doc = await json('sweep', small, '--grid', 'run.seed=7,8', '--grid', 'hypervisor.backend=trap,pv', '--set', 'run.replications=2', '--workers', '1');
    expect(doc.points.map((p: { params: Record<string, string>; seeds?: number[] }) => [p.params['run.seed'], p.params['hypervisor.backend'], p.seeds])).toEqual([
      ['7', 'trap', undefined],
      ['7', 'pv', undefined],
      ['8', 'trap', [8, 9]],
      ['8', 'pv', [8, 9]],
    ]);
  }, 60_000);

  it('run.replications on a --grid axis: each point runs its own count', async () => {
    const doc = await json('sweep', small, '--grid', 'run.replications=1,3', '--set', 'run.duration=200us', '--workers', '1');
    expect(doc.replications).toBe(1);
    expect(doc.points.map((p: { seeds?: number[]; vms: Record<string, { estimate: { n: number } }> }) => [p.seeds, p.vms['churn']!.estimate.n])).toEqual([
      [undefined, 1],
      [[7, 8, 9], 3],
    ]);
  }, 60_000);

  it('run.replications on the --vary axis: ratios pair replication k of each variant with the first\'s, over the replications both ran', async () => {
    const doc = await json('compare', small, '--vary', 'run.replications=2,3,1', '--set', 'run.duration=200us');
    const n = doc.variants.map((v: { vms: Record<string, { estimate: { n: number }; ratio: { n: number }; metrics: { ratio: { n: number } }[] }> }) => [v.vms['churn']!.estimate.n, v.vms['churn']!.ratio.n]);
    // The picked figures (--metric) pair the same way, and nothing counts as incomplete.
    const m = doc.variants.map((v: { vms: Record<string, { incomplete?: number; metrics: { ratio: { n: number }; incomplete?: number }[] }> }) => [v.vms['churn']!.metrics[0]!.ratio.n, v.vms['churn']!.incomplete, v.vms['churn']!.metrics[0]!.incomplete]);
    expect(m).toEqual([
      [2, undefined, undefined],
      [2, undefined, undefined],
      [1, undefined, undefined],
    ]);
    expect(n).toEqual([
      [2, 2],
      [3, 2],
      [1, 1],
    ]);
    // The first two replications of every variant ran the same seeds: paired, the ratio is exactly 1.
    for (const v of doc.variants) expect(v.vms['churn'].ratio.mean).toBe(1);
    expect(doc.variants.map((v: { seeds?: number[] }) => v.seeds)).toEqual([undefined, [7, 8, 9], [7]]);
  }, 60_000);

  it('rerun reproduces a sweep over seeds byte for byte (apart from the times)', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ipilab-seeds-')), 'sweep.json');
    writeFileSync(file, (await cli('sweep', small, '--grid', 'run.seed=7,8', '--set', 'run.duration=200us', '--workers', '1', '--json')).out);
    const r = await cli('rerun', file, '--check');
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContain('reproduced');
  }, 60_000);
});
