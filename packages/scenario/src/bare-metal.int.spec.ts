import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { calibrationProfile, resolveCosts } from '@ipilab/calibration';
import type { ModelEvent } from '@ipilab/events';
import { bareMetalBaseline, compareScenario, loadScenario, runOutputSchema, runScenario, runWithSlowdown, ScenarioError, toJsonValue, total, type RunOutput } from './index';

/** Writes a scenario object to a temporary YAML file. */
function file(obj: unknown): string {
  const f = join(mkdtempSync(join(tmpdir(), 'ipilab-bm-')), 's.yaml');
  writeFileSync(f, stringify(obj));
  return f;
}

/** The IPI microbenchmark on the 2-socket Skylake host: 24 vCPUs (vCPU i on pCPU i, pCPU 20 on socket 1). */
const bench = (workload: Record<string, unknown>, mode = 'bare-metal', overrides: Record<string, number> = {}): string =>
  file({
    host: { preset: 'skylake-2s-80t' },
    calibration: { profile: 'kvm-skylake-2018', overrides },
    hypervisor: { mode, backend: 'trap' },
    vms: [{ name: 'bench', vcpus: 24, workload: { kind: 'ipi-bench', iterations: 200, ...workload } }],
    run: { duration: '100ms' },
  });

const ebizzy = (mode: string): string =>
  file({
    host: { preset: 'small-1s-8t' },
    hypervisor: { mode },
    vms: [{ name: 'e', vcpus: 8, workload: { kind: 'ebizzy', chunkPages: 8, searchNs: 10_000 } }],
    run: { duration: '4ms', seed: 3 },
  });

type Mode = { sendToHandlerNs: { mean: number; p50: number }; totalNs: { mean: number; p50: number } };
const mode = (out: RunOutput, m: string): Mode => (out.vms['bench']!.workload['modes'] as Record<string, Mode>)[m]!;

const costs = resolveCosts(calibrationProfile('kvm-skylake-2018'));

describe('hypervisor.mode: bare-metal', () => {
  it('runs with no hypervisor: no vm-exit event, no exit time, nothing preempted or in the host', () => {
    const events: ModelEvent[] = [];
    const out = runScenario(loadScenario(ebizzy('bare-metal')), { listen: (e) => events.push(e) });
    const vm = out.vms['e']!;
    expect(vm.primary.value).toBeGreaterThan(0);
    expect(vm.ipi.shootdowns).toBeGreaterThan(0);
    expect(total(vm.ipi.sent)).toBeGreaterThan(0);
    expect(events.filter((e) => e.type === 'vm-exit')).toEqual([]);
    expect(events.some((e) => e.type === 'ipi-delivered' && e.via === 'native')).toBe(true);
    expect(vm.ipi.exits).toEqual({});
    expect(vm.ledger.exits).toEqual({});
    expect(vm.ledger.hostOther).toBe(0);
    expect(vm.ledger.serviceQueued).toBe(0);
    expect(vm.ledger.preempted).toBe(0);
    expect(vm.ipi.hypercalls).toBe(0);
    // The same VM under KVM exits (the test would pass vacuously otherwise).
    const kvm = runScenario(loadScenario(ebizzy('kvm'))).vms['e']!;
    expect(total(kvm.ipi.exits)).toBeGreaterThan(0);
  });

  it('uses the native backend whatever hypervisor.backend says', () => {
    const a = JSON.stringify(runScenario(loadScenario(ebizzy('bare-metal'), ['hypervisor.backend=pv'])).vms);
    expect(JSON.stringify(runScenario(loadScenario(ebizzy('bare-metal'), ['hypervisor.backend=posted'])).vms)).toBe(a);
  });

  it('makes the IPI microbenchmark much cheaper than trap-and-emulate, unicast and broadcast', () => {
    const native = runScenario(loadScenario(bench({ mode: ['unicast', 'broadcast'] })));
    const trap = runScenario(loadScenario(bench({ mode: ['unicast', 'broadcast'] }, 'kvm')));
    expect(mode(native, 'unicast').totalNs.mean).toBeLessThan(0.6 * mode(trap, 'unicast').totalNs.mean);
    expect(mode(native, 'broadcast').totalNs.mean).toBeLessThan(0.5 * mode(trap, 'broadcast').totalNs.mean);
  });

  it('a unicast reaches the handler after the native ICR write, the wire and the interrupt entry (plus the guest send path)', () => {
    const s2h = mode(runScenario(loadScenario(bench({ mode: 'unicast', target: 1 }))), 'unicast').sendToHandlerNs.p50;
    const hardware = costs.nativeIcrWrite + costs.ipiWireSocket + costs.interruptEntry;
    // smp_call_function_single's own work before the write: the call, one destination, its csd and queue lines.
    const guestSendPath = costs.guestSendOverhead + costs.guestPerTargetOverhead + 2 * costs.cacheLineSocket;
    expect(s2h).toBe(hardware + guestSendPath);
    expect(s2h - hardware).toBeLessThan(300);
  });

  it('an inter-socket target is later than an intra-socket one by the difference in wire latency', () => {
    // Equal cache-line costs, so that the wire is the only cost that depends on distance.
    const equalLines = { cacheLineRemote: 80, cacheLineSocket: 80 };
    const near = mode(runScenario(loadScenario(bench({ mode: 'unicast', target: 1 }, 'bare-metal', equalLines))), 'unicast').sendToHandlerNs.p50;
    const far = mode(runScenario(loadScenario(bench({ mode: 'unicast', target: 20 }, 'bare-metal', equalLines))), 'unicast').sendToHandlerNs.p50;
    expect(far - near).toBe(costs.ipiWireRemote - costs.ipiWireSocket);
  });

  it('an idle target (in C1) pays idleExitLatency before its handler; one idle only briefly polls and does not', () => {
    // One iteration: the target has been idle since the start, so it sleeps in C1.
    const once = (overrides: Record<string, number> = {}): number =>
      mode(runScenario(loadScenario(bench({ mode: 'unicast', target: 1, iterations: 1 }, 'bare-metal', overrides))), 'unicast').sendToHandlerNs.p50;
    const steady = mode(runScenario(loadScenario(bench({ mode: 'unicast', target: 1 }))), 'unicast').sendToHandlerNs.p50;
    expect(once()).toBe(steady + costs.idleExitLatency);
    expect(once({ idleExitLatency: 10_000 })).toBe(steady + 10_000);
    // Back-to-back calls leave the target idle for well under C1's target residency: it polls.
    expect(once({ idleExitLatency: 0 })).toBe(steady);
    // With no POLL state (a residency of 0), every call pays the exit latency.
    expect(mode(runScenario(loadScenario(bench({ mode: 'unicast', target: 1 }, 'bare-metal', { idleTargetResidency: 0 }))), 'unicast').sendToHandlerNs.p50).toBe(steady + costs.idleExitLatency);
  });

  it('takes exactly one VM with count 1, and at most one vCPU per pCPU; each error names the field', () => {
    const one = { host: { preset: 'small-1s-8t' }, hypervisor: { mode: 'bare-metal' }, run: { duration: '1ms' } };
    const vm = (name: string, vcpus = 2): object => ({ name, vcpus, workload: { kind: 'compute' } });
    const err = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(ScenarioError);
        return (e as Error).message;
      }
      throw new Error('expected a ScenarioError');
    };
    expect(err(() => loadScenario(file({ ...one, vms: [vm('a'), vm('b')] })))).toContain('vms: expected exactly one VM with count 1 when hypervisor.mode is bare-metal');
    expect(err(() => loadScenario(file({ ...one, vms: [{ ...vm('a'), count: 3 }] })))).toContain('got vms[0].count 3');
    expect(err(() => loadScenario(file({ ...one, hypervisor: { mode: 'native' }, vms: [vm('a')] })))).toContain('hypervisor.mode: expected one of "kvm", "bare-metal", got "native"');
    expect(err(() => runScenario(loadScenario(file({ ...one, vms: [vm('a', 9)] }))))).toContain('vms[0].vcpus: expected at most 8 on bare metal (hypervisor.mode: bare-metal), where each vCPU is a pCPU of its own: the host has 8 pCPUs, got 9');
    expect(err(() => runScenario(loadScenario(file({ ...one, vms: [{ ...vm('a', 3), pcpus: [0, 1] }] }))))).toContain('vms[0].pcpus lists 2');
  });

  it('the native backend under kvm is refused, naming the field', () => {
    const f = file({ host: { preset: 'small-1s-8t' }, hypervisor: { backend: 'native' }, vms: [{ name: 'a', vcpus: 2, workload: { kind: 'compute' } }], run: { duration: '1ms' } });
    expect(() => runScenario(loadScenario(f))).toThrow(/s\.yaml:\d+:\d+: hypervisor\.backend: expected a bare-metal host \(hypervisor\.mode: bare-metal/);
  });
});

describe('run.slowdownVsBareMetal', () => {
  it('a trap VM running the IPI microbenchmark is slower than on bare metal, and the figure is in the JSON output', () => {
    const out = runWithSlowdown(loadScenario(bench({ mode: ['unicast', 'broadcast'] }, 'kvm'), ['run.slowdownVsBareMetal=true']));
    const v = runOutputSchema.parse(toJsonValue(out)).vms['bench']!;
    // ipi-bench's figure is a time (lower is better): trap's over native's.
    const native = runScenario(loadScenario(bench({ mode: ['unicast', 'broadcast'] }))).vms['bench']!.primary.value;
    expect(v.slowdownVsBareMetal).toBeCloseTo(out.vms['bench']!.primary.value / native, 12);
    expect(v.slowdownVsBareMetal).toBeGreaterThan(1.5);
    expect(v.slowdownVsAlone).toBeUndefined();
  });

  it('a trap VM running ebizzy is slower than on bare metal (a rate: native over virtualized)', () => {
    const out = runWithSlowdown(loadScenario(ebizzy('kvm'), ['hypervisor.backend=trap', 'run.slowdownVsBareMetal=true']));
    const vm = out.vms['e']!;
    const native = runScenario(loadScenario(ebizzy('bare-metal'))).vms['e']!.primary.value;
    expect(vm.slowdownVsBareMetal).toBeCloseTo(native / vm.primary.value, 12);
    expect(vm.slowdownVsBareMetal).toBeGreaterThan(1);
  });

  it('is absent unless asked for, 1 for a bare-metal scenario, and per copy (each copy alone, under its own name)', () => {
    expect(runWithSlowdown(loadScenario(ebizzy('kvm'))).vms['e']!.slowdownVsBareMetal).toBeUndefined();
    expect(runWithSlowdown(loadScenario(ebizzy('bare-metal'), ['run.slowdownVsBareMetal=true'])).vms['e']!.slowdownVsBareMetal).toBe(1);
    const copies = loadScenario(ebizzy('kvm'), ['vms[0].count=2', 'vms[0].vcpus=4', 'run.slowdownVsBareMetal=true']);
    const out = runWithSlowdown(copies);
    expect(Object.keys(out.vms)).toEqual(['e-1', 'e-2']);
    for (const name of ['e-1', 'e-2']) {
      const base = bareMetalBaseline(copies, name)!;
      expect(base.scenario.vms.map((v) => [v.name, v.count])).toEqual([[name, 1]]);
      const native = runScenario(base).vms[name]!.primary.value;
      expect(out.vms[name]!.slowdownVsBareMetal).toBeCloseTo(native / out.vms[name]!.primary.value, 12);
    }
  });

  it('the baseline keeps the VM spec, its pCPUs when they give one per vCPU, and drops them for an overcommitted VM', () => {
    const l = loadScenario(ebizzy('kvm'), ['vms[0].vcpus=4', 'vms[0].pcpus=[4, 5, 6, 7]', 'vms[0].apicMode=xapic']);
    const b = bareMetalBaseline(l, 'e')!.scenario;
    expect(b.hypervisor.mode).toBe('bare-metal');
    expect(b.vms[0]).toMatchObject({ name: 'e', vcpus: 4, pcpus: [4, 5, 6, 7], apicMode: 'xapic', placement: 'pinned', workload: l.scenario.vms[0]!.workload });
    const shared = bareMetalBaseline(loadScenario(ebizzy('kvm'), ['vms[0].placement=shared', 'vms[0].pcpus=[0, 1]']), 'e')!.scenario;
    expect(shared.vms[0]!.pcpus).toBeUndefined();
    expect(bareMetalBaseline(l, 'nobody')).toBeUndefined();
  });

  it('a VM with more vCPUs than the host has pCPUs cannot have a baseline: loading says so, naming run.slowdownVsBareMetal; a run of an unchecked scenario too', () => {
    const sets = ['vms[0].vcpus=12', 'vms[0].placement=shared', 'run.slowdownVsBareMetal=true'];
    expect(() => loadScenario(ebizzy('kvm'), sets)).toThrow(/^--set run\.slowdownVsBareMetal=true: run\.slowdownVsBareMetal: e alone on bare metal: vms\[0\]\.vcpus: expected at most 8 on bare metal/);
    const l = loadScenario(ebizzy('kvm'), sets.slice(0, 2));
    const unchecked = { ...l, scenario: { ...l.scenario, run: { ...l.scenario.run, slowdownVsBareMetal: true } } };
    expect(() => runWithSlowdown(unchecked)).toThrow(/^run\.slowdownVsBareMetal: e alone on bare metal: .*vms\[0\]\.vcpus: expected at most 8 on bare metal/);
  });

  it('compare reports it per variant, with its interval', () => {
    const out = compareScenario(ebizzy('kvm'), ['run.slowdownVsBareMetal=true', 'run.replications=2'], 'hypervisor.backend=trap,pv');
    for (const v of out.variants) {
      const f = v.vms['e']!;
      expect(f.slowdownVsBareMetal!.n).toBe(2);
      expect(f.slowdownVsBareMetal!.mean).toBeGreaterThan(1);
    }
  });
});
