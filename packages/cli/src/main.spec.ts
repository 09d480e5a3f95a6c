import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runOutputSchema } from '@ipilab/scenario';
import { writeFileSync } from 'node:fs';
import { debugWanted, reportFailure } from './failure';
import { EXIT } from './main';
import { cli } from '../test/cli-harness';

const FIX = join(__dirname, '..', '..', 'scenario', 'test', 'fixtures');
const small = join(FIX, 'small.yaml');


describe('ipilab', () => {
  it('run prints a table per VM and the interference matrix', async () => {
    const r = await cli('run', small);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContain('recordsPerSecond');
    expect(r.out).toContain('Interference');
    expect(r.err).toBe('');
  });

  it('run --json prints one document of the documented shape', async () => {
    const r = await cli('run', small, '--json', '--set', 'run.slowdownVsAlone=true');
    expect(r.code).toBe(EXIT.ok);
    const doc = runOutputSchema.parse(JSON.parse(r.out));
    expect(Object.keys(doc.vms)).toEqual(['churn', 'victim']);
    expect(doc.seed).toBe(7);
  });

  it('run with run.slowdownVsBareMetal shows each VM\'s slowdown against bare metal, in the table, --json and --csv', async () => {
    const set = ['--set', 'run.slowdownVsBareMetal=true', '--set', 'hypervisor.backend=trap'];
    const table = await cli('run', small, ...set);
    expect(table.code).toBe(EXIT.ok);
    expect(table.out).toContain('slowdown vs bare metal');
    const doc = runOutputSchema.parse(JSON.parse((await cli('run', small, '--json', ...set)).out));
    expect(doc.vms['churn']!.slowdownVsBareMetal).toBeGreaterThan(1);
    // The compute victim on pCPUs 4-5 shares its cores with the churn VM's pCPUs 0-1 (SMT siblings),
    // which it does not do alone on bare metal: the neighbour's cost shows in this ratio too.
    expect(doc.vms['victim']!.slowdownVsBareMetal).toBeGreaterThan(1);
    // Without SMT contention (a core as fast as two), the victim neither exits nor misses its TLB:
    // virtualization costs it nothing.
    const noSmt = ['--set', 'calibration.overrides.smtCoreThroughput=2'];
    const solo = runOutputSchema.parse(JSON.parse((await cli('run', small, '--json', ...set, ...noSmt)).out));
    expect(solo.vms['victim']!.slowdownVsBareMetal).toBe(1);
    expect(table.out).toContain(`${doc.vms['churn']!.slowdownVsBareMetal!.toFixed(2)}x`);
    const csv = (await cli('run', small, '--csv', ...set)).out.trim().split('\n');
    expect(csv[0]!.endsWith(',shootdowns,slowdownVsBareMetal,incomplete,metric,unit')).toBe(true);
    expect(Number(csv[1]!.split(',').at(-4))).toBeCloseTo(doc.vms['churn']!.slowdownVsBareMetal!, 6);
    const cmp = await cli('compare', small, '--vary', 'hypervisor.backend=trap,pv', ...set.slice(0, 2));
    expect(cmp.out).toContain('slowdown vs bare metal');
  });

  it('run --csv prints a header and one row per VM', async () => {
    const lines = (await cli('run', small, '--csv')).out.trim().split('\n');
    expect(lines[0]!.startsWith('vm,figure,value,')).toBe(true);
    expect(lines.length).toBe(3);
  });

  it('run --out writes run.json and run.csv', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'ipilab-out-')), 'results');
    expect((await cli('run', small, '--out', dir)).code).toBe(EXIT.ok);
    expect(runOutputSchema.safeParse(JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'))).success).toBe(true);
    expect(readFileSync(join(dir, 'run.csv'), 'utf8').split('\n')[0]).toContain('vm,figure');
  });

  it('run --html writes a self-contained report with its charts', async () => {
    const f = join(mkdtempSync(join(tmpdir(), 'ipilab-html-')), 'r.html');
    expect((await cli('run', small, '--html', f)).code).toBe(EXIT.ok);
    const html = readFileSync(f, 'utf8');
    expect((html.match(/<figure class="chart"/g) ?? []).length).toBe(4);
    expect(html).toContain('data-title="Where the vCPUs ran"');
    expect(html).not.toMatch(/<script/i);
  });

  it('run --html groups the heat map\'s pCPUs by the scenario\'s sockets, explicit host fields over the preset', async () => {
    // small-1s-8t with a second socket: pCPUs 0-3 and 8-11 are socket 0, 4-7 and 12-15 socket 1 (Linux numbering).
    const f = join(mkdtempSync(join(tmpdir(), 'ipilab-html-')), 'r.html');
    const r = await cli('run', small, '--set', 'host.sockets=2', '--html', f);
    expect(r.code).toBe(EXIT.ok);
    const html = readFileSync(f, 'utf8');
    const heat = html.slice(html.indexOf('data-title="Where the vCPUs ran"'));
    expect(heat).toContain('>socket 0</text>');
    expect(heat).toContain('>socket 1</text>');
    expect(heat).toContain('victim on pCPU 4 (socket 1): ');
    expect(heat).toContain('churn on pCPU 3 (socket 0): ');
    expect(heat).toContain('churn on pCPU 12 (socket 1): never held');
    expect(heat).toContain('<tr><td>victim</td><td>2</td><td>4.000</td><td>0.0 %</td><td>100.0 %</td></tr>');
  });

  it('compare prints each variant with its ratio and interval', async () => {
    const r = await cli('compare', small, '--vary', 'hypervisor.backend=trap,pv', '--set', 'run.replications=2');
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContain('ratio to first [95% CI]');
    expect(r.out).toMatch(/pv/);
    const j = JSON.parse((await cli('compare', small, '--vary', 'hypervisor.backend=trap,pv', '--json')).out);
    expect(j.variants.map((v: { value: string }) => v.value)).toEqual(['trap', 'pv']);
  });

  it('compare says where each VM ran: pCPUs and socket share in the table, ranOn and pcpusUsed in --json', async () => {
    const r = await cli('compare', small, '--vary', 'vms[0].vcpus=2,4');
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContain('ran on: pCPUs (socket share)');
    expect(r.out).toMatch(/churn .*│ 2 +│.*│ 2 pCPUs \(s0 100%\) +│/);
    expect(r.out).toMatch(/churn .*│ 4 +│.*│ 4 pCPUs \(s0 100%\) +│/);
    const j = JSON.parse((await cli('compare', small, '--vary', 'vms[0].vcpus=2,4', '--json')).out);
    for (const [i, vcpus] of ['2', '4'].entries()) {
      const run = runOutputSchema.parse(JSON.parse((await cli('run', small, '--json', '--set', `vms[0].vcpus=${vcpus}`)).out));
      for (const name of ['churn', 'victim']) {
        // One replication, the run's seed: the variant's ranOn is that run's.
        expect(j.variants[i].vms[name].ranOn).toEqual(run.vms[name]!.ranOn);
        expect(j.variants[i].vms[name].pcpusUsed.mean).toBe(Object.keys(run.vms[name]!.ranOn.pcpuNs).length);
      }
    }
  });

  it('trace writes a trace-event JSON file; a bad --from is a usage error', async () => {
    const f = join(mkdtempSync(join(tmpdir(), 'ipilab-trace-')), 't.json');
    const r = await cli('trace', small, '--out', f, '--from', '0', '--to', '300us');
    expect(r.code).toBe(EXIT.ok);
    const t = JSON.parse(readFileSync(f, 'utf8'));
    expect(t.traceEvents.length).toBeGreaterThan(10);
    expect((await cli('trace', small, '--out', f, '--from', 'soon')).code).toBe(EXIT.usage);
  });

  it('trace refuses a window that is empty or outside the run, before running, writing nothing', async () => {
    const f = join(mkdtempSync(join(tmpdir(), 'ipilab-trace-')), 't.json');
    const refused = async (args: string[], pattern: RegExp): Promise<void> => {
      const r = await cli('trace', small, '--out', f, ...args);
      expect(r.code).toBe(EXIT.usage);
      expect(r.err).toMatch(pattern);
      expect(existsSync(f)).toBe(false);
    };
    await refused(['--from', '1500us', '--to', '1ms'], /--to 1ms: expected a time after --from \(1500us\)/);
    await refused(['--from', '1ms', '--to', '1ms'], /--to 1ms: expected a time after --from/);
    await refused(['--from', '10s'], /--from 10s: expected a time before the end of the run/);
    await refused(['--to', '10s'], /--to 10s: expected a time no later than the end of the run/);
  });

  it('sweep runs every grid point on worker threads and reports each', async () => {
    const r = await cli('sweep', small, '--grid', 'vms[0].vcpus=2,4', '--grid', 'hypervisor.backend=trap,pv', '--workers', '2', '--json');
    expect(r.code).toBe(EXIT.ok);
    const j = JSON.parse(r.out);
    expect(j.points.map((p: { params: object }) => p.params)).toEqual([
      { 'vms[0].vcpus': '2', 'hypervisor.backend': 'trap' },
      { 'vms[0].vcpus': '2', 'hypervisor.backend': 'pv' },
      { 'vms[0].vcpus': '4', 'hypervisor.backend': 'trap' },
      { 'vms[0].vcpus': '4', 'hypervisor.backend': 'pv' },
    ]);
    expect(j.workers).toBe(2);
    const csv = (await cli('sweep', small, '--grid', 'vms[0].vcpus=2,4', '--csv')).out.trim().split('\n');
    expect(csv[0]).toBe('vms[0].vcpus,vm,figure,mean,ci95Low,ci95High,n,serialFraction,slowdownVsAlone,errors,slowdownVsBareMetal,incomplete,metric,unit');
    expect(csv.length).toBe(1 + 2 * 2);
  }, 60_000);

  it('sweep says where each VM ran at each point: pCPUs and socket share in the table, ranOn and pcpusUsed in --json', async () => {
    const table = await cli('sweep', small, '--grid', 'vms[0].vcpus=2,4', '--workers', '1');
    expect(table.code).toBe(EXIT.ok);
    expect(table.out).toContain('ran on: pCPUs (socket share)');
    expect(table.out).toMatch(/│ 4 +│ churn .*│ 4 pCPUs \(s0 100%\) +│ 0 +│/);
    const j = JSON.parse((await cli('sweep', small, '--grid', 'vms[0].vcpus=2,4', '--workers', '1', '--json')).out);
    const run = runOutputSchema.parse(JSON.parse((await cli('run', small, '--json', '--set', 'vms[0].vcpus=4')).out));
    expect(j.points[1].vms.churn.ranOn).toEqual(run.vms['churn']!.ranOn);
    expect(j.points[1].vms.victim.ranOn).toEqual(run.vms['victim']!.ranOn);
    expect(j.points.map((p: { vms: { churn: { pcpusUsed: { mean: number } } } }) => p.vms.churn.pcpusUsed.mean)).toEqual([2, 4]);
  }, 60_000);

  it('a failed sweep point is reported with its parameters and the finished ones are kept', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'ipilab-sweep-')), 'out');
    const r = await cli('sweep', small, '--grid', 'hypervisor.backend=trap,broken', '--set', 'plugins=[./plugin-broken-backend.js]', '--out', dir);
    expect(r.code).toBe(EXIT.runError);
    expect(r.err).toContain('ipilab: sweep point {"hypervisor.backend":"broken"} seed 7 failed: ');
    const j = JSON.parse(readFileSync(join(dir, 'sweep.json'), 'utf8'));
    expect(Object.keys(j.points[0].vms)).toEqual(['churn', 'victim']);
    expect(j.points[1].errors.length).toBe(1);
  }, 60_000);

  it('a bad grid value fails before anything runs, naming it', async () => {
    const r = await cli('sweep', small, '--grid', 'vms[0].vcpus=2,-1');
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toBe('--grid vms[0].vcpus=-1: vms[0].vcpus: expected a positive integer, got -1\n');
  });

  it('validate and presets succeed; presets lists backends and workloads', async () => {
    expect((await cli('validate', small)).out).toContain('valid');
    const p = JSON.parse((await cli('presets', '--json')).out);
    expect(p.backends).toEqual(['native', 'posted', 'pv', 'trap']);
    expect(p.workloads).toContain('ebizzy');
    expect((await cli('--help')).code).toBe(EXIT.ok);
  });

  it('presets --plugin lists what the plugins register too; a plugin not found, or a name taken, is one line naming the plugin, exit 2', async () => {
    const p = JSON.parse((await cli('presets', '--json', '--plugin', join(FIX, 'plugin-backend.js'))).out);
    expect(p.backends).toEqual(['counting', 'native', 'posted', 'pv', 'trap']);
    const missing = await cli('presets', '--plugin', join(FIX, 'nowhere.js'));
    expect([missing.code, missing.out]).toEqual([EXIT.usage, '']);
    expect(missing.err).toBe(`ipilab: --plugin: "${join(FIX, 'nowhere.js')}" not found (looked for ${join(FIX, 'nowhere.js')})\n`);
    const again = await cli('presets', '--plugin', join(FIX, 'plugin-backend.js'), '--plugin', join(FIX, 'plugin-backend-again.js'));
    expect([again.code, again.out]).toEqual([EXIT.usage, '']);
    expect(again.err).toMatch(new RegExp(`^ipilab: --plugin ${join(FIX, 'plugin-backend-again.js').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: IPI backend "counting" is already registered`));
  });

  it('--set and --vary take a policy with options as flow YAML ({ name, options }); a wrong option is one line naming it', async () => {
    const plugin = join(FIX, 'plugin-every-family.js');
    const r = await cli('compare', small, '--plugin', plugin, '--vary', 'hypervisor.backend=trap,{name: banked, options: {banks: 2}}', '--json');
    expect([r.code, r.err]).toEqual([EXIT.ok, '']);
    expect(JSON.parse(r.out).variants.map((v: { value: string }) => v.value)).toEqual(['trap', '{name: banked, options: {banks: 2}}']);
    const set = await cli('run', small, '--plugin', plugin, '--set', 'hypervisor.backend={name: banked, options: {banks: 3}}', '--json');
    expect([set.code, set.err]).toEqual([EXIT.ok, '']);
    const bad = await cli('run', small, '--plugin', plugin, '--set', 'hypervisor.backend={name: banked, options: {banks: two}}');
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.err).toMatch(/^--set hypervisor\.backend=\{name: banked, options: \{banks: two\}\}: hypervisor\.backend\.options\.banks: expected a number/);
  });

  it('a scenario error is one line on stderr, exit 2, and no output files', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'ipilab-out-')), 'results');
    const r = await cli('run', small, '--set', 'vms[0].vcpus=-4', '--out', dir);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toBe('--set vms[0].vcpus=-4: vms[0].vcpus: expected a positive integer, got -4\n');
    expect(r.out).toBe('');
    expect(existsSync(dir)).toBe(false);
  });

  it('a bad hypervisor.mode, or two VMs in bare-metal mode, is one line naming the field, exit 2', async () => {
    const bad = await cli('run', small, '--set', 'hypervisor.mode=native');
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.err).toBe('--set hypervisor.mode=native: hypervisor.mode: expected one of "kvm", "bare-metal", got "native"\n');
    const two = await cli('run', small, '--set', 'hypervisor.mode=bare-metal');
    expect(two.code).toBe(EXIT.usage);
    expect(two.err).toBe(`${small}:5:1: vms: expected exactly one VM with count 1 when hypervisor.mode is bare-metal (its vCPUs are the host's CPUs), got 2 VMs\n`);
    expect(two.out).toBe('');
  });

  it('usage mistakes exit 2: an unknown command, a missing argument, --json with --csv', async () => {
    expect((await cli('frobnicate')).code).toBe(EXIT.usage);
    expect((await cli('run')).code).toBe(EXIT.usage);
    expect((await cli('compare', small)).code).toBe(EXIT.usage);
    expect((await cli('run', small, '--json', '--csv')).code).toBe(EXIT.usage);
  });

  it('a failure in a plugin\'s code is its fault: exit 1, one line naming the plugin, its stack only with --debug', async () => {
    const argv = ['run', small, '--set', 'plugins=[./plugin-broken-backend.js]', '--set', 'hypervisor.backend=broken'];
    const r = await cli(...argv);
    expect(r.code).toBe(EXIT.runError);
    expect(r.err).toMatch(/^ipilab: plugins\[0\] \(\.\/plugin-broken-backend\.js\) failed at \d+ ns: backend exploded\n$/);
    const d = await cli('--debug', ...argv);
    expect(d.code).toBe(EXIT.runError);
    expect(d.err).toMatch(/^ipilab: plugins\[0\].*backend exploded\nError: backend exploded\n\s+at .*plugin-broken-backend\.js:\d+:\d+/);
  });
});

describe('errors say whose fault they are', () => {
  /** A scenario with problems at every stage a run checks, each a line of its own. */
  const broken = (): string => {
    const f = join(mkdtempSync(join(tmpdir(), 'ipilab-bad-')), 'bad.yaml');
    writeFileSync(f, ['host: { preset: small-1s-8t }', 'hypervisor: { backend: trapp, scheduler: { policy: fifo, timeSlice: 0 } }', 'vms:', '  - { name: a, vcpus: 2, pcpus: [0, 9], workload: { kind: ebizzy, chunkPages: 0 } }', ''].join('\n'));
    return f;
  };

  it('validate reports every problem run would hit, one line each, file:line:col: key: message, exit 2, in under a second', async () => {
    const f = broken();
    const t0 = performance.now();
    const r = await cli('validate', f);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(r.code).toBe(EXIT.usage);
    expect(r.out).toBe('');
    expect(r.err.split('\n').filter((l) => l !== '')).toEqual([
      `${f}:2:24: hypervisor.backend: expected an IPI backend: one of "native", "posted", "pv", "trap", got "trapp"; did you mean "trap"?`,
      `${f}:2:69: hypervisor.scheduler.timeSlice: expected a positive integer number of ns, got 0`,
      `${f}:4:37: vms[0].pcpus[1]: expected a pCPU number in [0, 7], got 9`,
      `${f}:4:79: vms[0].workload.chunkPages: expected an integer >= 1 and <= 4096, got 0`,
    ]);
    // run refuses the same file with the same lines, and writes nothing.
    const dir = join(mkdtempSync(join(tmpdir(), 'ipilab-out-')), 'results');
    const run = await cli('run', f, '--out', dir);
    expect(run.code).toBe(EXIT.usage);
    expect(run.err).toBe(r.err);
    expect(existsSync(dir)).toBe(false);
  });

  it('a sweep with a bad point writes nothing and runs nothing', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'ipilab-out-')), 'results');
    const r = await cli('sweep', small, '--grid', 'vms[0].pcpus=[0,1,2,3],[0,1,2,99]', '--out', dir);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toBe('--grid vms[0].pcpus=[0,1,2,99]: vms[0].pcpus[3]: expected a pCPU number in [0, 7], got 99\n');
    expect(r.out).toBe('');
    expect(existsSync(dir)).toBe(false);
  });

  it('compare refuses a second --vary (exit 2) instead of dropping the first', async () => {
    const r = await cli('compare', small, '--vary', 'vms[0].vcpus=2,4', '--vary', 'hypervisor.backend=trap,pv');
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toMatch(/^ipilab: --vary: given 2 times/);
    expect(r.out).toBe('');
  });

  it('sweep refuses a repeated axis and an axis on a key no scenario has (exit 2)', async () => {
    const twice = await cli('sweep', small, '--grid', 'vms[0].vcpus=2,4', '--grid', 'vms[0].vcpus=3');
    expect(twice.code).toBe(EXIT.usage);
    expect(twice.err).toBe('ipilab: --grid vms[0].vcpus=3: vms[0].vcpus is an axis already (--grid vms[0].vcpus=2,4): give each key once, with all its values\n');
    const missing = await cli('sweep', small, '--grid', 'vms[0].vcpu=2,4');
    expect(missing.code).toBe(EXIT.usage);
    expect(missing.err).toBe('ipilab: --grid vms[0].vcpu=2,4: vms[0].vcpu: no such key in a scenario; did you mean "vcpus"?\n');
    expect((await cli('sweep', small)).err).toContain('expected at least one --grid');
  });

  it('sweep takes list values and ranges on the command line and a --grid-file', async () => {
    const f = join(mkdtempSync(join(tmpdir(), 'ipilab-grid-')), 'grid.yaml');
    writeFileSync(f, 'hypervisor.backend: [trap, pv]\n');
    const r = await cli('sweep', small, '--grid', 'vms[1].pcpus=[4,5],[6,7]', '--grid', 'vms[0].vcpus=1..2', '--grid-file', f, '--set', 'run.duration=100us', '--workers', '1', '--json');
    expect(r.code).toBe(EXIT.ok);
    const j = JSON.parse(r.out);
    expect(j.grid).toEqual([
      { path: 'vms[1].pcpus', values: ['[4,5]', '[6,7]'] },
      { path: 'vms[0].vcpus', values: ['1', '2'] },
      { path: 'hypervisor.backend', values: ['trap', 'pv'] },
    ]);
    expect(j.points.length).toBe(8);
  }, 60_000);

  it('an internal error is exit 1, "internal error", its stack only with --debug or IPILAB_DEBUG=1', () => {
    let err = '';
    const write = (s: string): void => void (err += s);
    const fault = new TypeError('cannot read x of undefined');
    expect(reportFailure(fault, false, write)).toBe(EXIT.runError);
    expect(err).toBe('ipilab: internal error: cannot read x of undefined (--debug shows where)\n');
    err = '';
    expect(reportFailure(fault, true, write)).toBe(EXIT.runError);
    expect(err.split('\n')[0]).toBe('ipilab: internal error: cannot read x of undefined');
    expect(err).toContain(fault.stack!);
    expect(debugWanted(['run', 'x', '--debug'], {})).toBe(true);
    expect(debugWanted(['--debug', 'run', 'x'], {})).toBe(true);
    expect(debugWanted(['run', 'x', '--', '--debug'], {})).toBe(false);
    expect(debugWanted(['run', 'x'], { IPILAB_DEBUG: '1' })).toBe(true);
    expect(debugWanted(['run', 'x'], {})).toBe(false);
  });

  it('--debug is a global option, before or after the command', async () => {
    expect((await cli('--debug', 'validate', small)).code).toBe(EXIT.ok);
    expect((await cli('validate', small, '--debug')).code).toBe(EXIT.ok);
  });
});

describe('nothing silently ignored (issue 18): workload parameters, near misses, override paths', () => {
  const scenarioFile = (lines: string[]): string => {
    const f = join(mkdtempSync(join(tmpdir(), 'ipilab-strict-')), 's.yaml');
    writeFileSync(f, `${lines.join('\n')}\n`);
    return f;
  };

  it('misspelled and mistyped workload parameters: validate and run refuse them alike (exit 2, a line each, at the key)', async () => {
    const f = scenarioFile([
      'host: { preset: small-1s-8t }',
      'vms:',
      '  - name: a',
      '    vcpus: 2',
      '    workload: { kind: ebizzy, thinkNS: 100, pinned: "yes", threads: 1e9 }',
      '  - name: b',
      '    vcpus: 2',
      '    workload: { kind: compute, taks: 2 }',
      'run: { duration: 1ms }',
    ]);
    const v = await cli('validate', f);
    expect(v.code).toBe(EXIT.usage);
    expect(v.out).toBe('');
    expect(v.err.split('\n').filter((l) => l !== '')).toEqual([
      `${f}:5:31: vms[0].workload.thinkNS: unknown key: not a parameter of ebizzy; did you mean "thinkNs"?`,
      `${f}:5:53: vms[0].workload.pinned: expected true or false, got "yes"`,
      `${f}:5:69: vms[0].workload.threads: expected an integer >= 1 and <= 32768 (Linux's default pid_max: no more tasks than a default guest can fork), got 1000000000`,
      `${f}:8:32: vms[1].workload.taks: unknown key: not a parameter of compute; did you mean "tasks"?`,
    ]);
    const dir = join(mkdtempSync(join(tmpdir(), 'ipilab-out-')), 'results');
    const r = await cli('run', f, '--out', dir);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toBe(v.err);
    expect(existsSync(dir)).toBe(false);
  });

  it('a near miss of a required key is reported as the typo it is, not as the key missing', async () => {
    const f = scenarioFile(['host: { preset: small-1s-8t }', 'vsm:', '  - { name: a, vcpus: 2, workload: { kind: compute } }']);
    for (const cmd of ['validate', 'run']) {
      const r = await cli(cmd, f);
      expect(r.code).toBe(EXIT.usage);
      expect(r.err).toBe(`${f}:2:1: vsm: unknown key; did you mean "vms"?\n`);
    }
  });

  it('--set, --vary, --grid and --grid-file refuse __proto__, constructor, prototype and empty keys: exit 2, one line naming the flag', async () => {
    const proto = Object.prototype as Record<string, unknown>;
    const cases: [string[], string][] = [
      [['validate', small, '--set', '__proto__.x=1'], '--set __proto__.x=1: expected a path such as hypervisor.backend or vms[0].vcpus, got "__proto__", which no scenario has (__proto__, constructor, prototype are refused)'],
      [['run', small, '--set', 'vms[0].constructor.x=1'], '--set vms[0].constructor.x=1: expected a path such as hypervisor.backend or vms[0].vcpus, got "constructor", which no scenario has (__proto__, constructor, prototype are refused)'],
      [['validate', small, '--set', 'run.prototype=1'], '--set run.prototype=1: expected a path such as hypervisor.backend or vms[0].vcpus, got "prototype", which no scenario has (__proto__, constructor, prototype are refused)'],
      [['validate', small, '--set', 'vms..vcpus=4'], '--set vms..vcpus=4: expected a path such as hypervisor.backend or vms[0].vcpus, got an empty key (two dots, or one at an end)'],
      [['validate', small, '--set', '.a=4'], '--set .a=4: expected a path such as hypervisor.backend or vms[0].vcpus, got an empty key (two dots, or one at an end)'],
      [['validate', small, '--set', 'a.=4'], '--set a.=4: expected a path such as hypervisor.backend or vms[0].vcpus, got an empty key (two dots, or one at an end)'],
      [['compare', small, '--vary', '__proto__.polluted=1,2'], '--vary __proto__.polluted=1,2: expected a path such as hypervisor.backend or vms[0].vcpus, got "__proto__", which no scenario has (__proto__, constructor, prototype are refused)'],
      [['sweep', small, '--grid', 'vms..vcpus=1,2'], '--grid vms..vcpus=1,2: expected a path such as hypervisor.backend or vms[0].vcpus, got an empty key (two dots, or one at an end)'],
    ];
    for (const [argv, line] of cases) {
      const r = await cli(...argv);
      expect([argv, r.code]).toEqual([argv, EXIT.usage]);
      expect(r.err).toBe(`ipilab: ${line}\n`);
      expect(r.out).toBe('');
    }
    const grid = join(mkdtempSync(join(tmpdir(), 'ipilab-grid-')), 'grid.yaml');
    writeFileSync(grid, 'hypervisor.backend: [trap, pv]\nvms[0].__proto__.x: [1, 2]\n');
    const g = await cli('sweep', small, '--grid-file', grid);
    expect(g.code).toBe(EXIT.usage);
    expect(g.err).toBe(`ipilab: ${grid}:2:1: vms[0].__proto__.x: expected a path such as hypervisor.backend or vms[0].vcpus, got "__proto__", which no scenario has (__proto__, constructor, prototype are refused)\n`);
    writeFileSync(grid, 'run.: [1, 2]\n');
    expect((await cli('sweep', small, '--grid-file', grid)).err).toBe(`ipilab: ${grid}:1:1: run.: expected a path such as hypervisor.backend or vms[0].vcpus, got an empty key (two dots, or one at an end)\n`);
    // Nothing reached a prototype.
    expect(proto['x']).toBeUndefined();
    expect(proto['polluted']).toBeUndefined();
  });

  it('a __proto__ key inside a --set value or the file, where any key is taken, is refused rather than dropped', async () => {
    const r = await cli('validate', small, '--set', 'vms[1].workload={kind: compute, __proto__: {tasks: 1}}');
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toBe('--set vms[1].workload={kind: compute, __proto__: {tasks: 1}}: vms[1].workload.__proto__: unknown key: no scenario has it (__proto__ is refused)\n');
    const f = scenarioFile(['vms:', '  - { name: a, vcpus: 2, workload: { kind: compute } }', 'calibration: { overrides: { __proto__: 1 } }']);
    expect((await cli('validate', f)).err).toBe(`${f}:3:29: calibration.overrides.__proto__: unknown key: no scenario has it (__proto__ is refused)\n`);
  });
});
