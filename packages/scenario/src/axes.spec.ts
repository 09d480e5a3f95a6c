import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { closeSweepWorkers, compareScenario, expandRange, loadScenario, parseAxis, readGridFile, runScenario, ScenarioError, splitTopLevel, sweepScenario } from './index';

const small = join(__dirname, '..', 'test', 'fixtures', 'small.yaml');

function file(text: string, name = 'grid.yaml'): string {
  const f = join(mkdtempSync(join(tmpdir(), 'ipilab-axes-')), name);
  writeFileSync(f, text);
  return f;
}

function messageOf(act: () => unknown): string {
  try {
    act();
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioError);
    return (e as Error).message;
  }
  throw new Error('expected a ScenarioError');
}

const values = (arg: string): unknown[] => parseAxis('--grid', arg, 'x=1').values.map((v) => v.value);

describe('axis values', () => {
  it('split at top-level commas only: lists, mappings and quoted strings keep theirs', () => {
    expect(splitTopLevel('[0,1],[2,3]')).toEqual(['[0,1]', '[2,3]']);
    expect(splitTopLevel('{kind: compute, tasks: 2}, {kind: ebizzy}')).toEqual(['{kind: compute, tasks: 2}', '{kind: ebizzy}']);
    expect(splitTopLevel('"a,b",c')).toEqual(['"a,b"', 'c']);
    expect(values('vms[0].pcpus=[0,1],[2,3]')).toEqual([[0, 1], [2, 3]]);
    expect(values('hypervisor.backend=trap, pv')).toEqual(['trap', 'pv']);
    expect(values('vms[0].workload={kind: compute},{kind: ebizzy, chunkPages: 2}')).toEqual([{ kind: 'compute' }, { kind: 'ebizzy', chunkPages: 2 }]);
  });

  it('law: joining values at top-level commas and splitting again gives them back', () => {
    const value = fc.oneof(fc.integer(), fc.array(fc.integer({ min: 0, max: 99 }), { maxLength: 4 }).map((a) => `[${a.join(', ')}]`), fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/));
    fc.assert(
      fc.property(fc.array(value.map(String), { minLength: 1, maxLength: 6 }), (vs) => {
        expect(splitTopLevel(vs.join(','))).toEqual(vs);
      }),
    );
  });

  it('numeric ranges: a..b, a..b:step, a..b*factor, with a unit on both ends', () => {
    expect(expandRange('1..4', 'x')).toEqual(['1', '2', '3', '4']);
    expect(expandRange('0..100:25', 'x')).toEqual(['0', '25', '50', '75', '100']);
    expect(expandRange('0..1:0.1', 'x')).toEqual(['0', '0.1', '0.2', '0.3', '0.4', '0.5', '0.6', '0.7', '0.8', '0.9', '1']);
    expect(expandRange('2..32*2', 'x')).toEqual(['2', '4', '8', '16', '32']);
    expect(expandRange('2..40*2', 'x')).toEqual(['2', '4', '8', '16', '32']);
    expect(expandRange('1ms..8ms*2', 'x')).toEqual(['1ms', '2ms', '4ms', '8ms']);
    expect(expandRange('trap', 'x')).toBeUndefined();
    expect(values('vms[0].vcpus=1,2..8*2,12')).toEqual([1, 2, 4, 8, 12]);
  });

  it('law: an arithmetic range starts at its start, steps by its step, and stays within its end', () => {
    fc.assert(
      fc.property(fc.integer({ min: -50, max: 50 }), fc.integer({ min: 0, max: 100 }), fc.integer({ min: 1, max: 20 }), (from, span, step) => {
        const xs = expandRange(`${from}..${from + span}:${step}`, 'x')!.map(Number);
        expect(xs[0]).toBe(from);
        expect(xs.length).toBe(Math.floor(span / step) + 1);
        xs.forEach((x, i) => expect(x).toBe(from + i * step));
      }),
    );
  });

  const bad: [string, string, string][] = [
    ['a range backwards', 'vms[0].vcpus=8..1', '--grid vms[0].vcpus=8..1: range 8..1: expected from <= to'],
    ['a factor of 1', 'vms[0].vcpus=1..8*1', 'range 1..8*1: expected a factor > 1'],
    ['a step of 0', 'vms[0].vcpus=1..8:0', 'range 1..8:0: expected a step > 0'],
    ['a geometric range from 0', 'vms[0].vcpus=0..8*2', 'a geometric range needs from > 0'],
    ['units that differ', 'run.duration=1ms..8us*2', 'both ends need the same unit'],
    ['a range too long', 'run.seed=1..1000000', 'more than 10000 values'],
    ['an empty value', 'vms[0].vcpus=2,,4', '--grid vms[0].vcpus=2,,4: an empty value'],
    ['a value twice', 'vms[0].vcpus=2,1..4', '--grid vms[0].vcpus=2,1..4: value 2 appears twice'],
    ['no values', 'vms[0].vcpus=', '--grid vms[0].vcpus=: expected path=v1,v2,...'],
    ['a key no scenario has', 'vms[0].vcpu=2,4', '--grid vms[0].vcpu=2,4: vms[0].vcpu: no such key in a scenario; did you mean "vcpus"?'],
    ['a key far from any', 'hypervisor.frobs=1', 'hypervisor.frobs: no such key in a scenario; expected one of mode, backend,'],
    ['an index into a mapping', 'host[0]=1', '--grid host[0]=1: host[0]: host is not a list'],
    ['a key into a list', 'vms.0.vcpus=2,4', '--grid vms.0.vcpus=2,4: vms.0: vms is a list: expected an index such as vms[0]'],
  ];
  it.each(bad)('%s is refused, naming the argument', (_n, arg, text) => {
    expect(messageOf(() => parseAxis('--grid', arg, 'x=1'))).toContain(text);
  });

  it('a VM\'s workload parameters and calibration overrides are open keys: the model checks them per point', () => {
    expect(values('vms[0].workload.chunkPages=2,4')).toEqual([2, 4]);
    expect(values('calibration.overrides.exitRoundTrip=500,1000')).toEqual([500, 1000]);
  });
});

describe('grid files (--grid-file)', () => {
  afterAll(closeSweepWorkers);

  it('reads a mapping of paths to lists of values or ranges, in file order, each value located', () => {
    const f = file('vms[0].vcpus: 2..4:2\nhypervisor.backend: [trap, pv]\nvms[1].pcpus: [[4, 5], [6, 7]]\nrun.duration: 100us\n');
    const axes = readGridFile(f);
    expect(axes.map((a) => a.path)).toEqual(['vms[0].vcpus', 'hypervisor.backend', 'vms[1].pcpus', 'run.duration']);
    expect(axes.map((a) => a.values.map((v) => v.value))).toEqual([[2, 4], ['trap', 'pv'], [[4, 5], [6, 7]], ['100us']]);
    expect(axes[2]!.values.map((v) => v.text)).toEqual(['[4,5]', '[6,7]']);
    expect(axes[1]!.values.map((v) => v.origin)).toEqual([`${f}:2:22`, `${f}:2:28`]);
  });

  it('a sweep from a grid file runs the points the file gives, with list values', async () => {
    const f = file('vms[1].pcpus: [[4, 5], [6, 7]]\n');
    const out = await sweepScenario(small, ['run.duration=200us'], [], { gridFile: f, workers: 1 });
    expect(out.points.map((p) => p.params)).toEqual([{ 'vms[1].pcpus': '[4,5]' }, { 'vms[1].pcpus': '[6,7]' }]);
    // The victim ran where each point put it.
    expect(out.points.map((p) => Object.keys(p.vms['victim']!.ranOn.pcpuNs))).toEqual([['4', '5'], ['6', '7']]);
    expect(out.points[1]!.vms['victim']!.estimate.mean).toBe(runScenario(loadScenario(small, ['run.duration=200us', 'vms[1].pcpus=[6, 7]'])).vms['victim']!.primary.value);
  }, 60_000);

  it('a bad value in a grid file is reported at its line and column', async () => {
    const f = file('vms[0].vcpus: [2, 40]\n');
    await expect(sweepScenario(small, [], [], { gridFile: f })).rejects.toThrow(`${f}:1:19: vms[0].vcpus: expected at most 8 pinned vCPUs: only 8 pCPUs are free for pinning, got 40`);
  });

  const badFiles: [string, string, string][] = [
    ['not a mapping', '- 1\n- 2\n', ':1:1: expected a mapping of scenario paths to their values'],
    ['a key no scenario has', 'vms[0].vcpu: [1]\n', ':1:1: vms[0].vcpu: vms[0].vcpu: no such key in a scenario; did you mean "vcpus"?'],
    ['an axis with no values', 'vms[0].vcpus: []\n', ':1:1: vms[0].vcpus: expected a list of values'],
    ['a value twice', 'vms[0].vcpus: [2, 2]\n', 'vms[0].vcpus: value 2 appears twice'],
    ['a syntax error', 'vms[0].vcpus: [2\n', ': YAML syntax error'],
  ];
  it.each(badFiles)('%s is refused, with its place in the file', (_n, text, msg) => {
    const f = file(text);
    expect(messageOf(() => readGridFile(f))).toContain(msg);
  });

  it('is read as a scenario file is: an alias in a list is its anchor\'s value; YAML 1.1 tags, deep nesting and self-holding aliases are one line', () => {
    const f = file('vms[0].workload: [&c {kind: compute, tasks: 2}, {kind: ebizzy}]\nvms[1].workload: [*c]\n');
    const axes = readGridFile(f);
    expect(axes.map((a) => a.values.map((v) => v.value))).toEqual([[{ kind: 'compute', tasks: 2 }, { kind: 'ebizzy' }], [{ kind: 'compute', tasks: 2 }]]);
    expect(axes[1]!.values.map((v) => v.origin)).toEqual([`${f}:2:19`]);
    // !!binary stays the text it is (not a Buffer, whose methods would be "values").
    expect(readGridFile(file('name: [!!binary aGVsbG8=]\n'))[0]!.values.map((v) => v.value)).toEqual(['aGVsbG8=']);
    expect(messageOf(() => readGridFile(file(`name: ${'['.repeat(3000)}${']'.repeat(3000)}\n`)))).toMatch(/^[^\n]*: YAML: nested too deeply to read/);
    expect(messageOf(() => readGridFile(file('a: &a [*a]\n')))).toMatch(/YAML aliases: /);
    expect(messageOf(() => readGridFile(file('- 1\n')))).toMatch(/grid\.yaml:1:1: expected a mapping of scenario paths/);
  });

  it('a missing grid file says so', () => {
    expect(messageOf(() => readGridFile('/nonexistent/grid.yaml'))).toBe('--grid-file /nonexistent/grid.yaml: no such file');
  });
});

describe('axes that would overwrite each other', () => {
  it('a repeated axis is refused, naming both', async () => {
    await expect(sweepScenario(small, [], ['vms[0].vcpus=2,4', 'vms[0].vcpus=3'])).rejects.toThrow('--grid vms[0].vcpus=3: vms[0].vcpus is an axis already (--grid vms[0].vcpus=2,4): give each key once, with all its values');
  });

  it('an axis inside another is refused', async () => {
    await expect(sweepScenario(small, [], ['vms[0]={name: x, vcpus: 1, workload: {kind: compute}}', 'vms[0].vcpus=3'])).rejects.toThrow('vms[0].vcpus overlaps the axis vms[0]');
  });

  it('a grid-file axis repeating a --grid one is refused', async () => {
    const f = file('vms[0].vcpus: [2, 4]\n');
    await expect(sweepScenario(small, [], ['vms[0].vcpus=3'], { gridFile: f })).rejects.toThrow(`${f}:1:1: vms[0].vcpus: vms[0].vcpus is an axis already (--grid vms[0].vcpus=3)`);
  });

  it('an axis over a key a --set gives is refused; a --set inside nothing the axis replaces is fine', async () => {
    await expect(sweepScenario(small, ['vms[0].vcpus=2'], ['vms[0].vcpus=3,4'])).rejects.toThrow('--grid vms[0].vcpus=3,4: --set vms[0].vcpus=2 sets vms[0].vcpus, which every point of this axis would replace: drop one of them');
    expect(() => compareScenario(small, ['vms[0].workload={kind: compute}'], 'vms[0].workload.tasks=1,2x')).toThrow('--vary vms[0].workload.tasks=2x: vms[0].workload.tasks: expected an integer >= 1 and <= 32768, got "2x"');
  });

  it('compare takes one --vary: a second is refused, not silently dropped', () => {
    expect(messageOf(() => compareScenario(small, [], ['vms[0].vcpus=2,4', 'hypervisor.backend=trap,pv']))).toBe(
      '--vary: given 2 times (vms[0].vcpus=2,4 hypervisor.backend=trap,pv); compare varies one key: give its values in one --vary, or use sweep --grid for several keys',
    );
  });

  it('compare runs list values', () => {
    const c = compareScenario(small, ['run.duration=200us'], 'vms[1].pcpus=[4,5],[6,7]');
    expect(c.variants.map((v) => v.value)).toEqual(['[4,5]', '[6,7]']);
    expect(c.variants.map((v) => Object.keys(v.vms['victim']!.ranOn.pcpuNs))).toEqual([['4', '5'], ['6', '7']]);
  });
});
