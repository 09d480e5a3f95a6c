import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerModule } from 'inversify';
import { buildRun } from './build-run';
import { loadScenario, policyListings, scenarioTopology, ScenarioError, type LoadedScenario } from './index';

const PLUGIN = join(__dirname, '..', 'test', 'fixtures', 'plugin-every-family.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { calls: pluginCalls, schedulers: pluginSchedulers } = require(PLUGIN) as { calls: string[]; schedulers: { migrations: number }[] };

/** Writes a scenario to a temporary file (YAML is a superset of JSON: one key per line, for positions). */
function file(doc: Record<string, unknown>): string {
  const f = join(mkdtempSync(join(tmpdir(), 'ipilab-families-')), 's.yaml');
  writeFileSync(f, `${JSON.stringify(doc, null, 2)}\n`);
  return f;
}

const vm = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ name: 'a', vcpus: 2, workload: { kind: 'compute', tasks: 1 }, ...extra });
const base = (extra: Record<string, unknown> = {}, vmExtra: Record<string, unknown> = {}): Record<string, unknown> => ({
  host: { preset: 'small-1s-8t' },
  run: { duration: '20us' },
  ...extra,
  vms: [vm(vmExtra)],
});

/** The problem lines of a load that must fail. */
function problems(doc: Record<string, unknown>): string[] {
  try {
    loadScenario(file(doc));
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioError);
    return [...(e as ScenarioError).problems];
  }
  throw new Error('expected a ScenarioError');
}

/** The run as `run` builds it, after the checker (which builds it too) has passed it; the plugin's log is of this build only. */
const built = (doc: Record<string, unknown>): NonNullable<ReturnType<typeof buildRun>> => {
  const loaded: LoadedScenario = loadScenario(file(doc));
  pluginCalls.length = 0;
  return buildRun(loaded)!;
};

describe('every policy family by name', () => {
  it('lists each family\'s built-ins, registered as a plugin registers (ipilab presets)', () => {
    const names = (listing: string): string[] => policyListings().filter((l) => l.listing === listing).map((l) => l.name);
    expect(names('hosts')).toEqual(['epyc-7642-2s', 'skylake-2s-80t', 'small-1s-8t']);
    expect(names('calibrationProfiles')).toEqual(['kvm-epyc-2021', 'kvm-skylake-2018']);
    expect(names('backends')).toEqual(['native', 'posted', 'pv', 'trap']);
    expect(names('hostSchedulers')).toEqual(['cfs', 'eevdf', 'fifo']);
    expect(names('placements')).toEqual(['pinned', 'shared']);
    expect(names('guestSchedulers')).toEqual(['cfs', 'eevdf']);
    expect(names('guestBalancers')).toEqual(['none', 'push']);
    expect(names('shootdownStrategies')).toEqual(['batched', 'invlpgb', 'invlpgb-all', 'sync']);
    expect(names('workloads')).toEqual(['compute', 'ebizzy', 'fork-cow', 'hackbench', 'huge-split', 'ipi-bench', 'irq-pipeline', 'will-it-scale']);
    // A workload's options are its parameters.
    expect(policyListings().find((l) => l.name === 'ipi-bench')!.options).toEqual(['mode', 'iterations', 'sender', 'target']);
  });

  it('lists a plugin\'s names beside the built-ins', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const plugin = (require(PLUGIN) as { plugin: ContainerModule }).plugin;
    const listed = policyListings([plugin]).map((l) => `${l.key}=${l.name}`);
    for (const n of ['host.preset=tiny', 'calibration.profile=skylake-at', 'hypervisor.backend=banked', 'hypervisor.scheduler.policy=rr', 'vms[].placement=first', 'vms[].scheduler.policy=eevdf-traced', 'vms[].scheduler.balancer=counting-push', 'vms[].shootdownStrategy=sync-too', 'vms[].workload.kind=spin']) {
      expect(listed).toContain(n);
    }
  });

  it('picks each built-in by name, plain or as { name }', () => {
    const b = built(base({ calibration: { profile: 'kvm-epyc-2021' }, hypervisor: { backend: { name: 'pv' }, scheduler: { policy: 'cfs' } } }, { placement: 'shared', shootdownStrategy: 'invlpgb', workload: { name: 'ebizzy', options: { threads: 1 } } }));
    expect(b.topology.name).toBe('small-1s-8t');
    expect(b.hv.config.postedFlavour).toBe('avic'); // the EPYC profile's vendor
    expect(b.hv.vms[0]!.backend.name).toBe('pv');
    expect(b.hv.scheduling.policy.name).toBe('cfs');
    expect(b.hv.scheduling.threads.map((t) => t.allowed.length)).toEqual([8, 8]);
    expect(b.mms[0]!.strategy.name).toBe('invlpgb');
    expect(b.workloads[0]!.kind).toBe('ebizzy');
    // The guest's cfs is picked: it refuses EEVDF's slice, which eevdf takes.
    expect(problems(base({}, { scheduler: { policy: 'cfs', slice: '1ms' } }))[0]).toMatch(/vms\[0\]\.scheduler\.slice: expected no slice under cfs/);
    expect(built(base({}, { scheduler: { policy: { name: 'eevdf' }, slice: '1ms' } })).hv.vms).toHaveLength(1);
  });

  it.each([
    ['host.preset', base({ host: { preset: 'smal-1s-8t' } }), /:3:15: host\.preset: expected a host preset: one of "epyc-7642-2s", "skylake-2s-80t", "small-1s-8t", got "smal-1s-8t"; did you mean "small-1s-8t"\?$/],
    ['calibration.profile', base({ calibration: { profile: 'kvm-epyc' } }), /calibration\.profile: expected a calibration profile: one of "kvm-epyc-2021", "kvm-skylake-2018", got "kvm-epyc"/],
    ['hypervisor.backend', base({ hypervisor: { backend: { name: 'pvv' } } }), /hypervisor\.backend\.name: expected an IPI backend: one of "native", "posted", "pv", "trap", got "pvv"; did you mean "pv"\?$/],
    ['hypervisor.scheduler.policy', base({ hypervisor: { scheduler: { policy: 'evdf' } } }), /hypervisor\.scheduler\.policy: expected a host scheduler policy: one of "cfs", "eevdf", "fifo", got "evdf"; did you mean "eevdf"\?$/],
    ['vms[0].placement', base({}, { placement: 'glued' }), /vms\[0\]\.placement: expected a vCPU placement: one of "pinned", "shared", got "glued"$/],
    ['vms[0].scheduler.policy', base({}, { scheduler: { policy: 'bfs' } }), /vms\[0\]\.scheduler\.policy: expected a guest scheduler policy: one of "cfs", "eevdf", got "bfs"; did you mean "cfs"\?$/],
    ['vms[0].scheduler.balancer', base({}, { scheduler: { balancer: 'psuh' } }), /vms\[0\]\.scheduler\.balancer: expected a guest load balancer: one of "none", "push", got "psuh"; did you mean "push"\?$/],
    ['vms[0].shootdownStrategy', base({}, { shootdownStrategy: 'lazy' }), /vms\[0\]\.shootdownStrategy: expected a shootdown strategy: one of "batched", "invlpgb", "invlpgb-all", "sync", got "lazy"$/],
    ['vms[0].workload', base({}, { workload: { name: 'memcached' } }), /vms\[0\]\.workload\.name: expected a workload kind: one of "compute", .*"will-it-scale", got "memcached"$/],
  ])('refuses an unknown %s with the names it knows, at its line and column', (_key, doc, line) => {
    const lines = problems(doc);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\/.*s\.yaml:\d+:\d+: /);
    expect(lines[0]).toMatch(line);
  });

  describe('a plugin adding a name to each family', () => {
    const withPlugin = (extra: Record<string, unknown>, vmExtra: Record<string, unknown>): Record<string, unknown> => ({ ...base(extra, vmExtra), plugins: [PLUGIN] });

    it('has each picked by name, with its options parsed and given to it', () => {
      const b = built(
        withPlugin(
          { host: { preset: { name: 'tiny', options: { cores: 3 } } }, calibration: { profile: { name: 'skylake-at', options: { ghz: 5 } } }, hypervisor: { backend: { name: 'banked', options: { banks: 4 } }, scheduler: { policy: { name: 'rr', options: { sliceUs: 500 } } } } },
          { placement: { name: 'first', options: { count: 2 } }, scheduler: { policy: 'eevdf-traced' }, shootdownStrategy: { name: 'sync-too', options: { label: 'mine' } }, workload: { name: 'spin', options: { tasks: 2 } } },
        ),
      );
      expect(b.topology.coresPerSocket).toBe(3);
      expect(b.hv.vms[0]!.backend.name).toBe('banked-4');
      expect(b.hv.scheduling.policy.name).toBe('rr-500');
      expect(b.hv.scheduling.threads.map((t) => t.allowed)).toEqual([[0, 1], [0, 1]]);
      expect(b.mms[0]!.strategy.name).toBe('mine');
      expect(pluginCalls).toEqual(expect.arrayContaining(['profile at 5 GHz', 'placement first-2 for 2 vCPUs', 'guest run queue 0', 'guest run queue 1', 'spin {"tasks":2}']));
    });

    it('has each picked by its plain name too (no options: the contribution\'s policy)', () => {
      const b = built(withPlugin({ host: { preset: 'tiny' }, calibration: { profile: 'skylake-at' }, hypervisor: { backend: 'banked', scheduler: { policy: 'rr' } } }, { placement: 'first', shootdownStrategy: 'sync-too', workload: { kind: 'spin', tasks: 1 } }));
      expect(b.topology.coresPerSocket).toBe(2);
      expect(b.hv.vms[0]!.backend.name).toBe('banked-1');
      expect(b.hv.scheduling.policy.name).toBe('rr-3000');
      expect(b.mms[0]!.strategy.name).toBe('sync-too');
      expect(pluginCalls).toEqual(['placement first-2 for 2 vCPUs', 'spin {"tasks":1}']);
    });

    it('has its guest load balancer asked at each chunk, with its options; none and balance: false never move a task', () => {
      // Four tasks on one vCPU of two: the push balancer moves some to the other.
      const doc = (scheduler: Record<string, unknown>): Record<string, unknown> => withPlugin({}, { scheduler, workload: { kind: 'spin', tasks: 4, startOn: 0 } });
      const ran = (scheduler: Record<string, unknown>): { calls: string[]; migrations: number } => {
        const b = built(doc(scheduler));
        b.workloads.forEach((w) => w.start());
        b.hv.start();
        b.sim.run({ until: 2_000_000 });
        return { calls: [...pluginCalls], migrations: pluginSchedulers[pluginSchedulers.length - 1]!.migrations };
      };
      const counted = ran({ balancer: { name: 'counting-push', options: { label: 'mine' } } });
      expect(counted.calls).toContain('mine moves');
      expect(counted.migrations).toBeGreaterThan(0);
      expect(ran({}).migrations).toBe(counted.migrations); // push by default, the same moves
      expect(ran({ balancer: 'none' }).migrations).toBe(0);
      expect(ran({ balance: false }).migrations).toBe(0);
      expect(problems(doc({ balance: false, balancer: 'push' }))[0]).toMatch(/vms\[0\]\.scheduler\.balancer: expected no balancer with balance: false \(which turns balancing off\), got "push"$/);
    });

    it('gives the report its host: a plugin\'s preset, with its options', () => {
      const loaded = loadScenario(file(withPlugin({ host: { preset: { name: 'tiny', options: { cores: 3 } } } }, {})));
      expect(scenarioTopology(loaded).coresPerSocket).toBe(3);
    });

    it('lists its names among the known ones when a name is unknown', () => {
      expect(problems(withPlugin({ hypervisor: { backend: 'bankd' } }, {}))[0]).toMatch(/hypervisor\.backend: expected an IPI backend: one of "banked", "native", "posted", "pv", "trap", got "bankd"; did you mean "banked"\?$/);
    });

    it.each([
      ['a wrong type', { hypervisor: { backend: { name: 'banked', options: { banks: 'x' } } } }, {}, [/:\d+:\d+: hypervisor\.backend\.options\.banks: expected a number, got "x"$/]],
      ['a bound', { host: { preset: { name: 'tiny', options: { cores: 0 } } } }, {}, [/host\.preset\.options\.cores: .*0/]],
      ['an unknown key, with a near miss', { hypervisor: { scheduler: { policy: { name: 'rr', options: { sliceU: 5 } } } } }, {}, [/hypervisor\.scheduler\.policy\.options\.sliceU: unknown option of rr; did you mean "sliceUs"\?$/]],
      ['an unknown key, with the list', {}, { placement: { name: 'first', options: { count: 1, where: 'left' } } }, [/vms\[0\]\.placement\.options\.where: unknown option of first; its options: count$/]],
      ['options to a policy without a schema', {}, { scheduler: { policy: { name: 'eevdf-traced', options: { x: 1 } } } }, [/vms\[0\]\.scheduler\.policy\.options: "eevdf-traced" takes no options/]],
      ['options to a built-in without a schema', { hypervisor: { backend: { name: 'pv', options: { banks: 2 } } } }, {}, [/hypervisor\.backend\.options: "pv" takes no options/]],
      ['a workload\'s parameter, in options', {}, { workload: { name: 'spin', options: { taskz: 1 } } }, [/vms\[0\]\.workload\.options\.taskz: unknown key: not a parameter of spin; did you mean "tasks"\?$/]],
      ['a built-in workload\'s parameter, in options', {}, { workload: { name: 'compute', options: { tasks: -1 } } }, [/vms\[0\]\.workload\.options\.tasks: expected an integer >= 1/]],
    ])('refuses %s, one line per problem at its place', (_what, extra, vmExtra, lines) => {
      const got = problems(withPlugin(extra, vmExtra));
      expect(got).toHaveLength(lines.length);
      lines.forEach((l, i) => expect(got[i]).toMatch(l));
      for (const g of got) expect(g).toMatch(/^\/.*s\.yaml:\d+:\d+: /);
    });
  });

  it('refuses both workload forms at once, and options beside kind', () => {
    expect(problems(base({}, { workload: { kind: 'compute', name: 'compute' } }))[0]).toMatch(/vms\[0\]\.workload\.name: expected kind \(parameters beside it\) or name \(parameters in options\), got both$/);
    expect(problems(base({}, { workload: { kind: 'compute', options: { tasks: 1 } } }))[0]).toMatch(/vms\[0\]\.workload\.options: expected the parameters beside kind \(options go with name: \{ name, options \}\), got options$/);
  });
});
