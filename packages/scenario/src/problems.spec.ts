import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { distance } from 'fastest-levenshtein';
import { compareScenario, loadScenario, ScenarioError, suggest, sweepScenario } from './index';

/** Writes a scenario's text to a temporary file. */
function file(text: string, name = 's.yaml'): string {
  const f = join(mkdtempSync(join(tmpdir(), 'ipilab-problems-')), name);
  writeFileSync(f, text);
  return f;
}

/** The problem lines of a load that must fail. */
function problems(act: () => unknown): string[] {
  try {
    act();
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioError);
    return [...(e as ScenarioError).problems];
  }
  throw new Error('expected a ScenarioError');
}

describe('every problem, one line each, where it is', () => {
  it('schema problems: all of them, each at its line and column, no "and N more"', () => {
    const f = file(['host: { preset: small-1s-8t }', 'vms:', '  - name: a', '    vcpus: -4', '    idle: glued', '    workload: { kind: compute }', 'run: { duration: 1ms, replications: 0 }', ''].join('\n'));
    expect(problems(() => loadScenario(f))).toEqual([
      `${f}:4:12: vms[0].vcpus: expected a positive integer, got -4`,
      `${f}:5:11: vms[0].idle: expected one of "halt", "poll", "haltpoll", got "glued"`,
      `${f}:7:37: run.replications: expected a positive integer, got 0`,
    ]);
  });

  it('model problems: every check a run makes, in the scenario\'s own key names, before anything runs', () => {
    const f = file(
      [
        'host: { preset: small-1s-8t }',
        'hypervisor:',
        '  backend: trapp',
        '  scheduler: { policy: fifo, timeSlice: 0 }',
        'vms:',
        '  - name: a',
        '    vcpus: 2',
        '    pcpus: [0, 9]',
        '    shootdownStrategy: batch',
        '    workload: { kind: ebizzy, chunkPages: 0, thread: 2 }',
        'run: { duration: 1ms }',
        '',
      ].join('\n'),
    );
    const lines = problems(() => loadScenario(f));
    expect(lines).toEqual([
      `${f}:3:12: hypervisor.backend: expected an IPI backend: one of "native", "posted", "pv", "trap", got "trapp"; did you mean "trap"?`,
      `${f}:4:41: hypervisor.scheduler.timeSlice: expected a positive integer number of ns, got 0`,
      `${f}:8:16: vms[0].pcpus[1]: expected a pCPU number in [0, 7], got 9`,
      `${f}:9:24: vms[0].shootdownStrategy: expected a shootdown strategy: one of "batched", "invlpgb", "invlpgb-all", "sync", got "batch"; did you mean "batched"?`,
      `${f}:10:43: vms[0].workload.chunkPages: expected an integer >= 1 and <= 4096, got 0`,
      `${f}:10:46: vms[0].workload.thread: unknown key: not a parameter of ebizzy; did you mean "threads"?`,
    ]);
    // The model's own names for these settings never show.
    for (const internal of ['timeSliceNs', 'vms[0] (a)', 'InvalidParameterError', 'UnknownPolicyError']) expect(lines.join('\n')).not.toContain(internal);
  });

  it('every bad workload parameter, not only the first the workload checks', () => {
    const f = file('host: { preset: small-1s-8t }\nvms:\n  - { name: a, vcpus: 2, workload: { kind: hackbench, groups: 0, pairs: -1, messages: 0.5 } }\n');
    expect(problems(() => loadScenario(f)).map((l) => l.split(': ')[1])).toEqual(['vms[0].workload.groups', 'vms[0].workload.pairs', 'vms[0].workload.messages']);
  });

  it('a near miss of a required key is the typo with its suggestion, not "vms: missing"', () => {
    const f = file('host: { preset: small-1s-8t }\nvsm:\n  - { name: a, vcpus: 2, workload: { kind: compute } }\n');
    expect(problems(() => loadScenario(f))).toEqual([`${f}:2:1: vsm: unknown key; did you mean "vms"?`]);
  });

  it('a near miss of any required key, where any key is taken too (a workload\'s kind), is the typo (fast-check, fixed seed)', () => {
    // Each required key with where it sits in a minimal valid scenario.
    const required: [string, (k: string) => Record<string, unknown>][] = [
      ['vms', (k) => ({ [k]: [{ name: 'a', vcpus: 2, workload: { kind: 'compute' } }] })],
      ['name', (k) => ({ vms: [{ [k]: 'a', vcpus: 2, workload: { kind: 'compute' } }] })],
      ['vcpus', (k) => ({ vms: [{ name: 'a', [k]: 2, workload: { kind: 'compute' } }] })],
      ['workload', (k) => ({ vms: [{ name: 'a', vcpus: 2, [k]: { kind: 'compute' } }] })],
      ['kind', (k) => ({ vms: [{ name: 'a', vcpus: 2, workload: { [k]: 'compute' } }] })],
    ];
    const typo = (k: string): fc.Arbitrary<string> =>
      fc.oneof(fc.constant(k.toUpperCase()), fc.nat(k.length - 2).map((i) => k.slice(0, i) + k[i + 1]! + k[i]! + k.slice(i + 2)), fc.constant(k.slice(1)));
    fc.assert(
      fc.property(
        fc.constantFrom(...required).chain(([k, doc]) => typo(k).filter((t) => t !== k).map((t) => [k, t, doc(t)] as const)),
        ([key, t, doc]) => {
          const lines = problems(() => loadScenario(file(JSON.stringify(doc), 's.json')));
          expect(lines).toHaveLength(1);
          expect(lines[0]).toMatch(new RegExp(`:\\d+:\\d+: (vms\\[0\\]\\.(workload\\.)?)?${t}: unknown key; did you mean "${key}"\\?$`));
        },
      ),
    );
  });

  it('a key far from every known one gets the list of known keys, not a far-fetched guess', () => {
    const f = file('hypervisor: { zzz: 1 }\nvms:\n  - { name: a, vcpus: 2, workload: { kind: compute } }\n');
    const [line] = problems(() => loadScenario(f));
    expect(line).toMatch(/^\S+:1:15: hypervisor\.zzz: unknown key; expected one of mode, backend, /);
    expect(line).not.toContain('did you mean');
  });

  it('a copy that finds no pCPUs left is named; the problems every copy shares are said once', () => {
    const f = file('host: { preset: small-1s-8t }\nvms:\n  - { name: a, vcpus: 3, count: 3, workload: { kind: compute, tasks: 0 } }\n');
    expect(problems(() => loadScenario(f))).toEqual([
      `${f}:3:23: vms[0].vcpus: a-3: expected at most 2 pinned vCPUs: only 2 pCPUs are free for pinning, got 3`,
      `${f}:3:70: vms[0].workload.tasks: expected an integer >= 1 and <= 32768, got 0`,
    ]);
  });

  it('replications must leave room for their seeds', () => {
    const f = file(`vms:\n  - { name: a, vcpus: 1, workload: { kind: compute } }\nrun: { seed: ${Number.MAX_SAFE_INTEGER}, replications: 2 }\n`);
    expect(problems(() => loadScenario(f))).toEqual([`${f}:3:14: run.seed: expected a seed that leaves room for run.replications (2) seeds below 2^53, got ${Number.MAX_SAFE_INTEGER}`]);
  });

  it('numbers too large for the simulated clock are refused before the run, not in its middle', () => {
    const f = file('host: { preset: small-1s-8t }\nvms:\n  - { name: a, vcpus: 2, workload: { kind: ebizzy, searchNs: 1e300 } }\nrun: { duration: 1e300 }\ncalibration: { overrides: { exitRoundTrip: 1e13 } }\n');
    expect(problems(() => loadScenario(f))).toEqual([`${f}:4:18: run.duration: expected a duration of at most 9007199254740991 ns (about 104 days: the simulated clock's range), got 1e+300`]);
    expect(problems(() => loadScenario(f, ['run.duration=1ms']))).toEqual([
      `${f}:3:62: vms[0].workload.searchNs: expected a number >= 0 and <= 1e12 (larger ones overflow the simulated clock), got 1e+300`,
      `${f}:5:44: calibration.overrides.exitRoundTrip: expected at most 1e+12 (larger figures overflow the simulated clock), got 10000000000000`,
    ]);
  });

  it('the extra runs are checked too: a VM with no bare-metal baseline on this host', () => {
    const f = file('host: { preset: small-1s-8t }\nvms:\n  - { name: a, vcpus: 12, placement: shared, workload: { kind: compute } }\nrun: { slowdownVsBareMetal: true }\n');
    expect(problems(() => loadScenario(f))).toEqual([`${f}:4:29: run.slowdownVsBareMetal: a alone on bare metal: vms[0].vcpus: expected at most 8 on bare metal (hypervisor.mode: bare-metal), where each vCPU is a pCPU of its own: the host has 8 pCPUs, got 12`]);
  });

  it('a value a --set put there is reported at the --set, the others at their place in the file', () => {
    const f = file('host: { preset: small-1s-8t }\nvms:\n  - { name: a, vcpus: 2, workload: { kind: compute, tasks: 0 } }\n');
    expect(problems(() => loadScenario(f, ['vms[0].pcpus=[0, 9]']))).toEqual([
      `${f}:3:60: vms[0].workload.tasks: expected an integer >= 1 and <= 32768, got 0`,
      '--set vms[0].pcpus=[0, 9]: vms[0].pcpus[1]: expected a pCPU number in [0, 7], got 9',
    ]);
    expect(problems(() => loadScenario(f, ['vms[0].vcpus=-1', 'hypervisor.bakend=pv']))).toEqual([
      '--set hypervisor.bakend=pv: hypervisor.bakend: unknown key; did you mean "backend"?',
      '--set vms[0].vcpus=-1: vms[0].vcpus: expected a positive integer, got -1',
    ]);
  });

  it('JSON files are located too', () => {
    const f = file('{\n  "vms": [\n    { "name": "a", "vcpus": 0, "workload": { "kind": "compute" } }\n  ]\n}\n', 's.json');
    expect(problems(() => loadScenario(f))).toEqual([`${f}:3:29: vms[0].vcpus: expected a positive integer, got 0`]);
  });

  it('compare and sweep check every point before anything runs, and name the points a problem belongs to', async () => {
    const f = file('host: { preset: small-1s-8t }\nvms:\n  - { name: a, vcpus: 2, workload: { kind: compute } }\n  - { name: b, vcpus: 2, workload: { kind: compute } }\n');
    expect(problems(() => compareScenario(f, [], 'hypervisor.mode=kvm,bare-metal'))).toEqual([
      `${f}:2:1: vms: expected exactly one VM with count 1 when hypervisor.mode is bare-metal (its vCPUs are the host's CPUs), got 2 VMs (at point hypervisor.mode=bare-metal)`,
    ]);
    let started = 0;
    await expect(sweepScenario(f, [], ['vms[0].vcpus=2,7,9', 'hypervisor.backend=trap,pv'], { onRunStart: () => started++ })).rejects.toThrow(
      new ScenarioError(
        [
          `${f}:4:23: vms[1].vcpus: expected at most 1 pinned vCPUs: only 1 pCPUs are free for pinning, got 2 (at every point with vms[0].vcpus=7)`,
          '--grid vms[0].vcpus=9: vms[0].vcpus: expected at most 8 pinned vCPUs: only 8 pCPUs are free for pinning, got 9',
        ].join('\n'),
      ),
    );
    expect(started).toBe(0);
  });
});

describe('did you mean', () => {
  it('suggests only a close name: a typo or two, a swap, letter case', () => {
    expect(suggest('vsm', ['vms', 'run', 'host'])).toBe('vms');
    expect(suggest('bakend', ['backend', 'mode'])).toBe('backend');
    expect(suggest('Backend', ['backend'])).toBe('backend');
    expect(suggest('batch', ['batched', 'sync'])).toBe('batched');
    expect(suggest('zzz', ['vms', 'run', 'host'])).toBeUndefined();
    expect(suggest('pv', ['hz'])).toBeUndefined();
  });

  it('law: a suggestion is always within one edit per three characters (a swap counting one), and a candidate itself is suggested as itself', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 12 }), fc.array(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 6 }), (word, names) => {
        const s = suggest(word, names);
        if (s !== undefined) {
          const d = distance(word.toLowerCase(), s.toLowerCase());
          expect(d === 2 && word.length === s.length ? 1 : d).toBeLessThanOrEqual(Math.max(1, Math.floor(Math.max(word.length, s.length) / 3)) + (d === 2 ? 1 : 0));
        }
        expect(suggest(names[0]!, names)?.toLowerCase()).toBe(names[0]!.toLowerCase());
      }),
    );
  });
});
