import { readFileSync, readdirSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import fc from 'fast-check';
import { compareScenario, estimate, summarizeRanOn, estimatedWork, loadScenario, longestFirst, runOutputJsonSchema, runOutputSchema, runScenario, runWithSlowdown, scenarioJsonSchema, ScenarioError, closeSweepWorkers, runOnSweepThread, sweepScenario, sweepThreads, toJsonValue, total } from './index';

const FIX = join(__dirname, '..', 'test', 'fixtures');
const EXAMPLES = join(__dirname, '..', '..', '..', 'examples', 'scenarios');
const small = join(FIX, 'small.yaml');

/** Writes a scenario object to a temporary YAML file. */
function file(obj: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'ipilab-scn-'));
  const f = join(dir, 's.yaml');
  writeFileSync(f, typeof obj === 'string' ? obj : stringify(obj));
  return f;
}

const base = () => ({ host: { preset: 'small-1s-8t' }, vms: [{ name: 'a', vcpus: 2, workload: { kind: 'compute' } }], run: { duration: '1ms' } });

function errorOf(act: () => unknown): string {
  try {
    act();
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioError);
    return (e as Error).message;
  }
  throw new Error('expected a ScenarioError');
}

describe('loading and validating scenarios', () => {
  it('reads YAML, fills defaults and parses durations', () => {
    const { scenario } = loadScenario(small);
    expect(scenario.run.duration).toBe(2_000_000);
    expect(scenario.hypervisor.apicMode).toBe('x2apic-physical');
    expect(scenario.vms[0]!.placement).toBe('pinned');
  });

  it('--set overrides keys by their own paths before validation', () => {
    const { scenario } = loadScenario(small, ['hypervisor.backend=trap', 'vms[0].vcpus=3', 'vms[0].pcpus=[0, 1, 2]', 'run.duration=500us']);
    expect(scenario.hypervisor.backend).toBe('trap');
    expect(scenario.vms[0]!.vcpus).toBe(3);
    expect(scenario.vms[0]!.pcpus).toEqual([0, 1, 2]);
    expect(scenario.run.duration).toBe(500_000);
  });

  const cases: [string, () => unknown, RegExp | string][] = [
    ['a missing file', () => loadScenario('/nonexistent/x.yaml'), '/nonexistent/x.yaml: no such file'],
    ['an unknown key, with the nearest known one', () => loadScenario(file({ ...base(), hypervisor: { bakend: 'pv' } })), 'hypervisor.bakend: unknown key; did you mean "backend"?'],
    ['a wrong type', () => loadScenario(file({ ...base(), vms: [{ name: 'a', vcpus: 'two', workload: { kind: 'compute' } }] })), 'vms[0].vcpus: expected a positive integer, got "two"'],
    ['a negative vCPU count', () => loadScenario(file({ ...base(), vms: [base().vms[0], { name: 'b', vcpus: -4, workload: { kind: 'compute' } }] })), 'vms[1].vcpus: expected a positive integer, got -4'],
    ['an unknown APIC mode', () => loadScenario(file({ ...base(), hypervisor: { apicMode: 'x3apic' } })), 'hypervisor.apicMode: expected one of "xapic", "x2apic-physical", "x2apic-cluster", got "x3apic"'],
    ['a bad duration', () => loadScenario(file({ ...base(), run: { duration: '20 parsecs' } })), 'run.duration: expected a duration such as "20ms", "250us" or a number of ns, got "20 parsecs"'],
    ['two VMs with one name', () => loadScenario(file({ ...base(), vms: [base().vms[0], base().vms[0]] })), 'vms[1].name: expected a name unused by other VMs, got "a" (vms[0] has it)'],
    ['a warm-up as long as the run', () => loadScenario(file({ ...base(), run: { duration: '1ms', warmup: '1ms' } })), 'run.warmup: expected less than run.duration'],
    ['a run of no time', () => loadScenario(file({ ...base(), run: { duration: 0 } })), 'run.duration: expected a positive duration, got 0'],
    ['a --set path into nothing', () => loadScenario(small, ['vms[5].vcpus=2']), '--set vms[5].vcpus=2: vms[5]: does not exist (vms has 2)'],
    ['a --set without a value', () => loadScenario(small, ['hypervisor.backend']), '--set hypervisor.backend: expected path=value'],
    ['a --set to an unknown key', () => loadScenario(small, ['hypervisor.bakend=pv']), 'hypervisor.bakend: unknown key; did you mean "backend"?'],
  ];
  it.each(cases)('%s is one clear line naming the field', (_n, act, text) => {
    const msg = errorOf(act);
    expect(msg.includes('\n')).toBe(false);
    if (typeof text === 'string') expect(msg).toContain(text);
    else expect(msg).toMatch(text);
  });
});

describe('building a run from a scenario', () => {
  const run = (obj: unknown) => runScenario(loadScenario(file(obj)));

  it('unpinned VMs spread over the whole host, and the output says where each ran (pCPU and socket time adding up)', () => {
    const vm = (name: string) => ({ name, vcpus: 16, placement: 'shared', workload: { kind: 'compute' } });
    const out = run({ host: { sockets: 2, coresPerSocket: 8, threadsPerCore: 2, ghz: 2.5 }, vms: [vm('a'), vm('b'), vm('c')], run: { duration: '5ms' } });
    const used = new Set(Object.values(out.vms).flatMap((v) => Object.keys(v.ranOn.pcpuNs)));
    expect(used.size).toBe(32);
    for (const v of Object.values(out.vms)) {
      const byPcpu = total(v.ranOn.pcpuNs);
      expect(total(v.ranOn.socketNs)).toBeCloseTo(byPcpu, 3);
      expect(byPcpu).toBeLessThanOrEqual(16 * 5_000_000);
      expect(byPcpu).toBeGreaterThan(0);
    }
  });

  it('a bad host scheduler policy is one clear error naming the key', () => {
    expect(errorOf(() => run({ ...base(), hypervisor: { scheduler: { policy: 'lottery' } } }))).toMatch(/^\S+s\.yaml:\d+:\d+: hypervisor\.scheduler\.policy: expected a host scheduler policy: one of "cfs", "eevdf", "fifo", got "lottery"$/);
  });
  it('a fifo time slice under a fair policy is refused, not silently ignored; fifo takes it', () => {
    expect(errorOf(() => run({ ...base(), hypervisor: { scheduler: { timeSlice: '500us' } } }))).toMatch(/: hypervisor\.scheduler\.timeSlice: expected no timeSlice under eevdf, which derives its slices from sched_base_slice/);
    expect(errorOf(() => run({ ...base(), hypervisor: { scheduler: { policy: 'cfs', timeSlice: '1ms' } } }))).toMatch(/: hypervisor\.scheduler\.timeSlice: expected no timeSlice under cfs/);
    expect(run({ ...base(), hypervisor: { scheduler: { policy: 'fifo', timeSlice: '500us', migrate: false } } }).vms).toBeDefined();
  });
  const cases: [string, unknown, string][] = [
    ['an unknown preset', { ...base(), host: { preset: 'cray-1' } }, 'host.preset: expected a host preset: one of "epyc-7642-2s", "skylake-2s-80t", "small-1s-8t", got "cray-1"'],
    ['an incomplete topology', { ...base(), host: { sockets: 2 } }, 'host.coresPerSocket: missing'],
    ['an impossible topology', { ...base(), host: { sockets: 2, coresPerSocket: 2000, threadsPerCore: 1, ghz: 2 } }, 'host.coresPerSocket: expected an integer in [1, 1024], got 2000'],
    ['an unknown profile', { ...base(), calibration: { profile: 'kvm-pentium' } }, 'calibration.profile: expected a calibration profile: one of "kvm-epyc-2021", "kvm-skylake-2018", got "kvm-pentium"'],
    ['an unknown cost field', { ...base(), calibration: { overrides: { warpDrive: 1 } } }, 'calibration.overrides.warpDrive: unknown cost field; expected one of the profile\'s: ipiWireSmt, '],
    ['more pinned vCPUs than pCPUs', { ...base(), vms: [{ name: 'a', vcpus: 9, workload: { kind: 'compute' } }] }, 'vms[0].vcpus: expected at most 8 pinned vCPUs'],
    ['an unknown backend', { ...base(), hypervisor: { backend: 'telepathy' } }, 'hypervisor.backend: expected an IPI backend: one of "native", "posted", "pv", "trap", got "telepathy"'],
    ['an unknown shootdown strategy', { ...base(), vms: [{ name: 'a', vcpus: 2, shootdownStrategy: 'latr', workload: { kind: 'compute' } }] }, 'vms[0].shootdownStrategy: expected a shootdown strategy: one of "batched", "invlpgb", "invlpgb-all", "sync", got "latr"'],
    ['an unknown workload', { ...base(), vms: [{ name: 'a', vcpus: 2, workload: { kind: 'memcached' } }] }, 'vms[0].workload.kind: expected a workload kind: one of'],
    ['a bad workload parameter', { ...base(), vms: [{ name: 'a', vcpus: 2, workload: { kind: 'irq-pipeline', rate: -5 } }] }, 'vms[0].workload.rate: expected a number >= 1, got -5'],
    ['a missing plugin', { ...base(), plugins: ['./nowhere.js'] }, 'plugins[0]: "./nowhere.js" not found (looked for '],
    ['an event budget too small', { ...base(), run: { duration: '10ms', maxEvents: 50 } }, 'run.maxEvents: the run used its budget of 50 events'],
  ];
  it.each(cases)('%s is refused with the field named', (_n, obj, text) => {
    expect(errorOf(() => run(obj))).toContain(text);
  });

  it('a plugin that exports no ContainerModule is refused when the scenario is loaded, naming the --set that named it', () => {
    const f = join(FIX, 'small.yaml');
    expect(errorOf(() => loadScenario(f, ['plugins=[./plugin-empty.js]']))).toBe('--set plugins=[./plugin-empty.js]: plugins[0]: "./plugin-empty.js" exports no ContainerModule; it exports notAModule (a number)');
  });

  it('a plugin backend is picked by name like a built-in', () => {
    const out = runScenario(loadScenario(small, ['plugins=[./plugin-backend.js]', 'hypervisor.backend=counting']));
    expect(out.vms['churn']!.ipi.shootdowns).toBeGreaterThan(0);
  });

  it('same scenario and seed give identical output; another seed another', () => {
    const a = JSON.stringify(runScenario(loadScenario(small)));
    expect(JSON.stringify(runScenario(loadScenario(small)))).toBe(a);
    expect(JSON.stringify(runScenario(loadScenario(small, ['run.seed=8'])))).not.toBe(a);
  });

  it('the output has the documented shape (docs/run-output.schema.json)', () => {
    const out = toJsonValue(runWithSlowdown(loadScenario(small, ['run.slowdownVsAlone=true', 'vms[0].count=2', 'vms[0].vcpus=2'])));
    const parsed = runOutputSchema.parse(out);
    expect(Object.keys(parsed.vms)).toEqual(['churn-1', 'churn-2', 'victim']);
    expect(parsed.vms['victim']!.slowdownVsAlone).toBeGreaterThan(0);
    const l = parsed.vms['churn-1']!.ledger;
    const exits = Object.values(l.exits).reduce((x, y) => x + y, 0);
    expect(l.guest + l.handlingInterrupts + l.shootdownWait + exits + l.serviceQueued + l.hostOther + l.halted + l.preempted + l.offline).toBe(l.total);
  });

  it('the JSON Schemas on disk are the generated ones (pnpm docs:schemas)', () => {
    const root = join(__dirname, '..', '..', '..');
    expect(JSON.parse(readFileSync(join(__dirname, '..', 'scenario.schema.json'), 'utf8'))).toEqual(scenarioJsonSchema());
    expect(JSON.parse(readFileSync(join(root, 'docs', 'run-output.schema.json'), 'utf8'))).toEqual(runOutputJsonSchema());
  });
});

describe('output helpers', () => {
  it('total sums a record of counts, absent keys as 0', () => {
    expect(total({ hlt: 3, 'apic-write': undefined, io: 4 })).toBe(7);
    expect(total({})).toBe(0);
  });
});

describe('examples', () => {
  const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml'));
  it('there is one per question the seed raises', () => {
    expect(files.length).toBeGreaterThanOrEqual(9);
  });
  it.each(files)('%s opens with a comment saying what it answers, and runs', (f) => {
    const text = readFileSync(join(EXAMPLES, f), 'utf8');
    expect(text.startsWith('# ')).toBe(true);
    const out = runScenario(loadScenario(join(EXAMPLES, f), ['run.duration=1ms', 'run.warmup=0']));
    expect(Object.keys(out.vms).length).toBeGreaterThan(0);
  });
});

describe('comparisons', () => {
  it("computes Student's t 95% intervals", () => {
    const e = estimate([1, 2, 3]);
    expect(e.mean).toBe(2);
    expect(e.ci95[1] - 2).toBeCloseTo(4.302652729911275 / Math.sqrt(3), 9);
    expect(estimate([5]).ci95.every(Number.isNaN)).toBe(true);
  });

  it('runs each variant with the same seeds and reports paired ratios to the first', () => {
    const c = compareScenario(small, ['run.replications=2'], 'hypervisor.backend=trap,pv');
    expect(c.seeds).toEqual([7, 8]);
    expect(c.variants.map((v) => v.value)).toEqual(['trap', 'pv']);
    expect(c.variants[0]!.vms['churn']!.ratio.mean).toBe(1);
    expect(c.variants[1]!.vms['churn']!.estimate.n).toBe(2);
  });

  it('summarizes where a VM ran over replications: mean ns per pCPU and socket (absent as 0, numeric order), pCPUs used per run', () => {
    const s = summarizeRanOn([
      { pcpuNs: { '9': 30, '10': 10 }, socketNs: { '0': 30, '1': 10 } },
      { pcpuNs: { '2': 40 }, socketNs: { '0': 40 } },
    ]);
    expect(s.ranOn).toEqual({ pcpuNs: { '2': 20, '9': 15, '10': 5 }, socketNs: { '0': 35, '1': 5 } });
    expect(Object.keys(s.ranOn.pcpuNs)).toEqual(['2', '9', '10']);
    expect(s.pcpusUsed.mean).toBe(1.5);
    expect(s.pcpusUsed.n).toBe(2);
  });

  it('says where each VM ran in every variant: the mean of its replications\' ranOn, and the pCPUs each used', () => {
    // Shared placement on two sockets, overcommitted: each VM's threads hold pCPUs of both sockets.
    const vm = (name: string) => ({ name, vcpus: 12, placement: 'shared', workload: { kind: 'compute' } });
    const f = file({ host: { sockets: 2, coresPerSocket: 4, threadsPerCore: 2, ghz: 2.5 }, vms: [vm('a'), vm('b')], run: { duration: '2ms', replications: 2 } });
    const c = compareScenario(f, [], 'hypervisor.backend=trap,pv');
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    for (const v of c.variants) {
      const runs = c.seeds.map((seed) => runWithSlowdown(loadScenario(f, [`hypervisor.backend=${String(v.value)}`]), seed));
      for (const [name, fig] of Object.entries(v.vms)) {
        const each = runs.map((r) => r.vms[name]!.ranOn);
        for (const key of ['pcpuNs', 'socketNs'] as const) {
          const ids = [...new Set(each.flatMap((r) => Object.keys(r[key])))].sort((x, y) => Number(x) - Number(y));
          expect(Object.keys(fig.ranOn[key])).toEqual(ids);
          for (const id of ids) expect(fig.ranOn[key][id]).toBeCloseTo(mean(each.map((r) => r[key][id] ?? 0)), 6);
        }
        expect(fig.pcpusUsed.mean).toBe(mean(each.map((r) => Object.keys(r.pcpuNs).length)));
        expect(fig.pcpusUsed.n).toBe(2);
      }
    }
    expect(Object.keys(c.variants[0]!.vms['a']!.ranOn.socketNs)).toEqual(['0', '1']);
  });

  it('a malformed --vary is refused', () => {
    expect(errorOf(() => compareScenario(small, [], 'hypervisor.backend'))).toContain('--vary hypervisor.backend: expected path=v1,v2,...');
  });
});

describe('sweep scheduling', () => {
  afterAll(closeSweepWorkers);

  it('estimates a point by its simulated vCPU-time, doubled when every VM also runs alone', () => {
    const one = file(base());
    const at = (sets: string[]) => estimatedWork(loadScenario(one, sets).scenario);
    const w2 = at(['vms[0].vcpus=2']);
    expect(at(['vms[0].vcpus=4'])).toBe(2 * w2);
    expect(at(['vms[0].vcpus=2', 'run.duration=2ms'])).toBe(at(['vms[0].vcpus=2', 'run.duration=1ms']) * 2);
    const two = file({ ...base(), vms: [{ name: 'a', vcpus: 2, count: 2, workload: { kind: 'compute' } }] });
    expect(estimatedWork(loadScenario(two, ['run.slowdownVsAlone=true']).scenario)).toBe(2 * estimatedWork(loadScenario(two).scenario));
  });

  it('hands runs to the workers longest first, never more at once than there are workers, and reports them in point order', async () => {
    const one = file(base());
    const started: string[] = [];
    let inFlight = 0;
    let most = 0;
    const out = await sweepScenario(one, ['run.replications=2'], ['vms[0].vcpus=2,8,4'], {
      workers: 2,
      onRunStart: (p, seed) => {
        started.push(`${p['vms[0].vcpus']}/${seed}`);
        most = Math.max(most, ++inFlight);
      },
      onProgress: () => inFlight--,
    });
    const seed = loadScenario(one).scenario.run.seed;
    expect(started).toEqual([`8/${seed}`, `8/${seed + 1}`, `4/${seed}`, `4/${seed + 1}`, `2/${seed}`, `2/${seed + 1}`]);
    expect(most).toBe(2);
    expect(out.points.map((p) => p.params['vms[0].vcpus'])).toEqual(['2', '8', '4']);
  });

  it('says where each VM ran at every point: its ranOn from the worker runs, and the pCPUs it used', async () => {
    const out = await sweepScenario(small, ['run.replications=2'], ['vms[0].vcpus=2,4'], { workers: 2 });
    for (const p of out.points) {
      const runs = out.seeds.map((seed) => runWithSlowdown(loadScenario(small, [`vms[0].vcpus=${p.params['vms[0].vcpus']}`]), seed));
      for (const [name, v] of Object.entries(p.vms)) {
        // The small host pins each vCPU to its own pCPU: every replication ran on the same ones
        // (for how long differs by seed: its threads sleep on mmap_lock at different times), and
        // the point's ranOn is their mean per pCPU.
        const ran = runs.map((r) => r.vms[name]!.ranOn);
        expect(Object.keys(ran[1]!.pcpuNs).sort()).toEqual(Object.keys(ran[0]!.pcpuNs).sort());
        expect(Object.keys(v.ranOn.pcpuNs).sort()).toEqual(Object.keys(ran[0]!.pcpuNs).sort());
        for (const [pcpu, ns] of Object.entries(v.ranOn.pcpuNs)) {
          const mean = ran.reduce((a, r) => a + r.pcpuNs[pcpu]!, 0) / ran.length;
          expect(Math.abs(ns - mean)).toBeLessThanOrEqual(1);
        }
      }
    }
    expect(out.points.map((p) => p.vms['churn']!.pcpusUsed.mean)).toEqual([2, 4]);
    expect(out.points.map((p) => p.vms['victim']!.pcpusUsed.mean)).toEqual([2, 2]);
  });

  it('a second sweep on the kept worker threads gives exactly the first one\'s output, and after closeSweepWorkers too', async () => {
    const one = file({ ...base(), vms: [{ name: 'a', vcpus: 2, workload: { kind: 'ebizzy', chunkPages: 2 } }] });
    const sweep = () => sweepScenario(one, ['run.replications=2'], ['vms[0].vcpus=2,3', 'hypervisor.backend=trap,pv'], { workers: 2 });
    // The threads' heaps are a measurement, not a result: they differ from one sweep to the next.
    const run = async () => ({ ...(await sweep()), workerHeap: [] });
    const first = await run();
    expect(await run()).toEqual(first);
    await closeSweepWorkers();
    expect(await run()).toEqual(first);
  });

  it('starts a thread per run under way, not per worker: 3 runs on 8 workers take at most 3, each saying its runs and heap', async () => {
    await closeSweepWorkers();
    const out = await sweepScenario(small, [], ['run.seed=1,2,3'], { workers: 8 });
    expect(out.workers).toBe(3);
    expect(sweepThreads()).toBeLessThanOrEqual(3);
    const heaps = out.workerHeap ?? [];
    expect(heaps.length).toBeGreaterThanOrEqual(1);
    expect(heaps.length).toBeLessThanOrEqual(3);
    expect(heaps.reduce((n, w) => n + w.runs, 0)).toBe(3);
    for (const w of heaps) {
      expect(w.usedMiB).toBeGreaterThan(0);
      expect(w.heapMiB).toBeGreaterThanOrEqual(w.usedMiB);
    }
  });

  it('a pool starts its threads as runs arrive: one run on a pool of 4 starts one thread', async () => {
    await closeSweepWorkers();
    await runOnSweepThread({ loaded: loadScenario(small), seed: 1, point: 0 }, 4);
    expect(sweepThreads()).toBe(1);
  });

  it('longestFirst is a permutation, largest work first, equal work in submission order', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 5 }), { maxLength: 40 }), (work) => {
        const order = longestFirst(work);
        expect([...order].sort((a, b) => a - b)).toEqual(work.map((_, i) => i));
        for (let k = 1; k < order.length; k++) {
          const [a, b] = [order[k - 1]!, order[k]!];
          expect(work[a]! > work[b]! || (work[a] === work[b] && a < b)).toBe(true);
        }
      }),
    );
  });
});
