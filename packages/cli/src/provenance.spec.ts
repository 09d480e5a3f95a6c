import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { closeSweepWorkers, loadScenario, provenanceSchema, runOutputSchema, scenarioSha256 } from '@ipilab/scenario';
import { cli, small, withoutTimes } from '../test/run-cli';
import { EXIT } from './main';
import { gitState, gitStateAsync, toolVersion } from './version';

const scratch = (): string => mkdtempSync(join(tmpdir(), 'ipilab-prov-'));
const REPO = join(__dirname, '..', '..', '..');
const git = (args: string[], cwd = REPO): string => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
let hasGit = true;
try {
  git(['--version']);
} catch {
  hasGit = false;
}

/** small.yaml copied to a directory of its own, so a test can delete it. */
function ownCopy(): string {
  const f = join(scratch(), 'small.yaml');
  copyFileSync(small, f);
  return f;
}

/** The page's provenance block, as JSON. */
function htmlMeta(html: string): unknown {
  const m = /<pre id="ipilab-meta">([\s\S]*?)<\/pre>/.exec(html)!;
  return JSON.parse(m[1]!.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&'));
}

afterAll(closeSweepWorkers);

describe('ipilab --version', () => {
  it('prints the package version and, in a git checkout, its commit', async () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
    const r = await cli('--version');
    expect(r.code).toBe(EXIT.ok);
    if (!hasGit) {
      expect(r.out).toBe(`ipilab ${pkg.version}\n`);
      return;
    }
    const head = git(['rev-parse', 'HEAD']);
    const modified = git(['status', '--porcelain', '--untracked-files=no']) !== '';
    expect(r.out).toBe(`ipilab ${pkg.version} (commit ${head}${modified ? ', with uncommitted changes' : ''})\n`);
    expect((await cli('-V')).out).toBe(r.out);
  });

  // The async form (git asked in the background while a run simulates) answers as the sync one.
  for (const [form, state] of [['sync', async (dir: string) => gitState(dir)], ['async', gitStateAsync]] as const) {
    (hasGit ? it : it.skip)(`reports no commit outside ipilab\'s own checkout, never failing (${form})`, async () => {
      expect(await state(scratch())).toEqual({});
      // Installed inside another project's repository: that project's commit is not ipilab's.
      const other = scratch();
      writeFileSync(join(other, 'package.json'), '{"name":"someone-else"}');
      git(['init', '-q'], other);
      expect(await state(other)).toEqual({});
      const named = scratch();
      writeFileSync(join(named, 'package.json'), '{"name":"ipilab"}');
      git(['init', '-q'], named);
      expect(await state(named)).toEqual({}); // no commit yet: HEAD does not resolve
      expect(await state(REPO)).toEqual({ commit: git(['rev-parse', 'HEAD']), modified: git(['status', '--porcelain', '--untracked-files=no']) !== '' });
    });
  }
});

describe('every output says what made it', () => {
  it('run --json: version, commit, Node, OS, the scenario as run with its hash, overrides, seed and times', async () => {
    const before = Date.now();
    const r = await cli('run', small, '--json', '--set', 'run.seed=11');
    expect(r.code).toBe(EXIT.ok);
    const doc = runOutputSchema.parse(JSON.parse(r.out));
    const m = doc.meta!;
    expect(Object.keys(JSON.parse(r.out))).toEqual(['scenario', 'seed', 'simulatedNs', 'events', 'vms', 'interference', 'meta']);
    expect(m.ipilab).toEqual(toolVersion());
    expect(m).toMatchObject({ node: process.version, os: process.platform, arch: process.arch, command: 'run', scenarioFile: small, scenarioDir: dirname(small), resolved: true });
    const scenario = loadScenario(small, ['run.seed=11']).scenario;
    expect(m.scenario).toEqual(JSON.parse(JSON.stringify(scenario)));
    expect(m.scenarioSha256).toBe(scenarioSha256(scenario));
    expect(m.overrides).toEqual({ set: ['run.seed=11'] });
    expect([m.seeds, m.replications]).toEqual([[11], 1]);
    expect(Date.parse(m.startedAt)).toBeGreaterThanOrEqual(before - 1);
    expect(m.wallSeconds).toBeGreaterThan(0);
    expect(m.wallSeconds).toBeLessThanOrEqual(r.ms / 1000 + 0.01);
  });

  it('compare and sweep record their axes, seeds and replications; a trace its window', async () => {
    const cmp = JSON.parse((await cli('compare', small, '--vary', 'hypervisor.backend=trap,pv', '--set', 'run.replications=2', '--json')).out);
    expect(provenanceSchema.parse(cmp.meta)).toMatchObject({ command: 'compare', overrides: { set: ['run.replications=2'], vary: 'hypervisor.backend=trap,pv' }, seeds: [7, 8], replications: 2 });
    expect(cmp.meta.scenario).toEqual(JSON.parse(JSON.stringify(loadScenario(small, ['run.replications=2']).scenario)));
    const sweep = JSON.parse((await cli('sweep', small, '--grid', 'vms[0].vcpus=2,4', '--workers', '1', '--json')).out);
    expect(provenanceSchema.parse(sweep.meta)).toMatchObject({ command: 'sweep', overrides: { set: [], grid: ['vms[0].vcpus=2,4'], workers: 1 }, seeds: [7], replications: 1 });
    const f = join(scratch(), 't.json');
    expect((await cli('trace', small, '--out', f, '--from', '0', '--to', '100us')).code).toBe(EXIT.ok);
    const trace = JSON.parse(readFileSync(f, 'utf8'));
    expect(provenanceSchema.parse(trace.meta)).toMatchObject({ command: 'trace', overrides: { set: [], from: '0', to: '100us' }, seeds: [7] });
  }, 60_000);

  it('--out: the CSV keeps its header first and has its provenance beside it; --html carries the same block as the JSON', async () => {
    const dir = join(scratch(), 'out');
    const html = join(scratch(), 'r.html');
    const r = await cli('run', small, '--json', '--out', dir, '--html', html);
    expect(r.code).toBe(EXIT.ok);
    const meta = JSON.parse(r.out).meta;
    expect(JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')).meta).toEqual(meta);
    expect(readFileSync(join(dir, 'run.csv'), 'utf8').startsWith('vm,figure,value,')).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'run.csv.meta.json'), 'utf8'))).toEqual({ meta });
    expect(htmlMeta(readFileSync(html, 'utf8'))).toEqual(meta);
  });
});

describe('ipilab rerun', () => {
  /** Runs a command with --json into a file, deletes the scenario, reruns from the file alone. */
  async function roundTrip(argv: (scenario: string) => string[]): Promise<{ first: string; again: string; file: string }> {
    const scenario = ownCopy();
    const first = await cli(...argv(scenario), '--json');
    expect(first.code).toBe(EXIT.ok);
    const file = join(scratch(), 'result.json');
    writeFileSync(file, first.out);
    rmSync(dirname(scenario), { recursive: true });
    const again = await cli('rerun', file);
    expect(again.code).toBe(EXIT.ok);
    return { first: first.out, again: again.out, file };
  }

  it('reproduces a run from its JSON alone, byte for byte apart from the times', async () => {
    const { first, again, file } = await roundTrip((s) => ['run', s, '--set', 'hypervisor.backend=trap', '--set', 'run.slowdownVsAlone=true']);
    expect(again).not.toBe(first); // the times moved...
    expect(withoutTimes(again)).toBe(withoutTimes(first)); // ...and nothing else did
    const check = await cli('rerun', file, '--check');
    expect(check.code).toBe(EXIT.ok);
    expect(check.out).toMatch(/: reproduced: run of .*small\.yaml, identical apart from the times\n$/);
  });

  it('reproduces a compare judged by picked figures (--metric), which its meta records', async () => {
    const { first, again } = await roundTrip((s) => ['compare', s, '--vary', 'hypervisor.backend=trap,pv', '--metric', 'share:guest', '--metric', 'exits/s']);
    expect(withoutTimes(again)).toBe(withoutTimes(first));
    const doc = JSON.parse(first);
    expect(doc.meta.overrides.metric).toEqual(['share:guest', 'exits/s']);
    expect(doc.meta.scenario.run.metrics).toEqual(['share:guest', 'exits/s']);
    expect(Object.values(doc.variants[1].vms as Record<string, { metrics: { metric: string }[] }>).map((v) => v.metrics.map((m) => m.metric))[0]).toEqual(['share:guest', 'exits/s']);
  });

  it('reproduces a compare with replications', async () => {
    const { first, again } = await roundTrip((s) => ['compare', s, '--vary', 'hypervisor.backend=trap,pv', '--set', 'run.replications=2']);
    expect(withoutTimes(again)).toBe(withoutTimes(first));
  });

  it('reproduces a sweep, with its worker count', async () => {
    const { first, again } = await roundTrip((s) => ['sweep', s, '--grid', 'vms[0].vcpus=2,4', '--grid', 'hypervisor.backend=trap,pv', '--workers', '2']);
    expect(withoutTimes(again)).toBe(withoutTimes(first));
    expect(JSON.parse(again).workers).toBe(2);
  }, 60_000);

  it('reproduces a sweep with a --grid-file from its JSON alone: the file\'s axes are recorded as read', async () => {
    const { first, again } = await roundTrip((s) => {
      const grid = join(dirname(s), 'grid.yaml');
      writeFileSync(grid, 'vms[1].pcpus: [[4, 5], [6, 7]]\nvms[0].vcpus: 1..2\n');
      return ['sweep', s, '--grid', 'hypervisor.backend=trap,pv', '--grid-file', grid, '--set', 'run.duration=100us', '--workers', '1'];
    });
    expect(withoutTimes(again)).toBe(withoutTimes(first));
    const j = JSON.parse(again);
    expect(j.points.length).toBe(8);
    expect(j.meta.overrides).toMatchObject({ grid: ['hypervisor.backend=trap,pv'], gridFileAxes: [{ path: 'vms[1].pcpus', values: ['[4,5]', '[6,7]'] }, { path: 'vms[0].vcpus', values: ['1', '2'] }] });
    expect(j.meta.overrides.gridFile).toMatch(/grid\.yaml$/);
  }, 60_000);

  it('reproduces a trace, and writes the outputs again with --out', async () => {
    const dir = scratch();
    const t = join(dir, 't.json');
    expect((await cli('trace', small, '--out', t, '--to', '200us')).code).toBe(EXIT.ok);
    const again = await cli('rerun', t);
    expect(withoutTimes(again.out)).toBe(withoutTimes(readFileSync(t, 'utf8')));
    expect((await cli('rerun', t, '--out', join(dir, 't2.json'))).code).toBe(EXIT.ok);
    expect(withoutTimes(readFileSync(join(dir, 't2.json'), 'utf8'))).toBe(withoutTimes(readFileSync(t, 'utf8')));
    const out = join(dir, 'out');
    expect((await cli('run', small, '--out', out)).code).toBe(EXIT.ok);
    const sidecar = await cli('rerun', join(out, 'run.csv.meta.json'));
    expect(withoutTimes(sidecar.out)).toBe(withoutTimes(readFileSync(join(out, 'run.json'), 'utf8')));
    expect((await cli('rerun', join(out, 'run.json'), '--out', join(dir, 'again'))).code).toBe(EXIT.ok);
    expect(withoutTimes(readFileSync(join(dir, 'again', 'run.csv.meta.json'), 'utf8'))).toBe(withoutTimes(readFileSync(join(out, 'run.csv.meta.json'), 'utf8')));
    expect(readFileSync(join(dir, 'again', 'run.csv'), 'utf8')).toBe(readFileSync(join(out, 'run.csv'), 'utf8'));
  });

  it('--check names the first figure that did not come out the same, exit 1', async () => {
    const r = await cli('run', small, '--json');
    const doc = JSON.parse(r.out);
    doc.vms.churn.workload.recordsPerSecond += 1;
    const f = join(scratch(), 'tampered.json');
    writeFileSync(f, JSON.stringify(doc));
    const check = await cli('rerun', f, '--check');
    expect(check.code).toBe(EXIT.runError);
    expect(check.err).toMatch(new RegExp(`ipilab: ${f}: not reproduced: vms\\.churn\\.workload\\.recordsPerSecond: ${doc.vms.churn.workload.recordsPerSecond} -> ${doc.vms.churn.workload.recordsPerSecond - 1}\\n$`));
    expect(check.out).toBe('');
  });

  it('a recorded scenario is checked as run checks it: a problem is named at meta.scenario, exit 2, nothing run', async () => {
    for (const argv of [['run', small], ['compare', small, '--vary', 'hypervisor.backend=trap,pv']]) {
      const doc = JSON.parse((await cli(...argv, '--json')).out);
      doc.meta.scenario.vms[0].workload.chunkPages = 0;
      const f = join(scratch(), 'edited.json');
      writeFileSync(f, JSON.stringify(doc));
      const r = await cli('rerun', f);
      expect([r.code, r.out]).toEqual([EXIT.usage, '']);
      // (A note comes first when the working tree has uncommitted changes.)
      expect(r.err.split('\n').filter((l) => l !== '' && !l.startsWith('ipilab: note: '))).toEqual([`${f}: meta.scenario: vms[0].workload.chunkPages: expected an integer >= 1 and <= 4096, got 0`]);
    }
  });

  it('a file it cannot rerun is one line naming what is wrong, exit 2', async () => {
    const dir = scratch();
    const write = (name: string, text: string): string => {
      const f = join(dir, name);
      writeFileSync(f, text);
      return f;
    };
    const old = write('old.json', JSON.stringify({ scenario: 'x', seed: 1 }));
    const notJson = write('table.txt', 'small: seed 7\n');
    const badMeta = write('bad.json', JSON.stringify({ meta: { command: 'run' } }));
    const run = JSON.parse((await cli('run', small, '--json')).out);
    const wrongSeeds = write('seeds.json', JSON.stringify({ ...run, meta: { ...run.meta, seeds: 'seven' } }));
    mkdirSync(join(dir, 'd'));
    const cases: [string, RegExp][] = [
      [old, new RegExp(`^ipilab: ${old}: meta: missing; expected the JSON output of ipilab run, compare, sweep or trace --json`)],
      [notJson, new RegExp(`^ipilab: ${notJson}: not JSON \\(.*\\); expected the JSON output`)],
      [badMeta, new RegExp(`^ipilab: ${badMeta}: meta\\.ipilab: missing; expected object`)],
      [wrongSeeds, new RegExp(`^ipilab: ${wrongSeeds}: meta\\.seeds: expected array, got "seven"`)],
      [join(dir, 'nothing.json'), /: no such file\n$/],
      [join(dir, 'd'), /: is a directory, expected a JSON output of ipilab\n$/],
    ];
    for (const [f, message] of cases) {
      const r = await cli('rerun', f);
      expect([r.code, r.out]).toEqual([EXIT.usage, '']);
      expect(r.err).toMatch(message);
      expect(r.err.split('\n').length).toBe(2);
    }
  });
});
