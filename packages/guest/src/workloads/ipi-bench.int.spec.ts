import { ContainerModule } from 'inversify';
import { Simulation, InvalidParameterError } from '@ipilab/core';
import { KVM_SKYLAKE_2018, resolveCosts } from '@ipilab/calibration';
import { composeContainer, type PolicyRegistry } from '@ipilab/di';
import { EventSink } from '@ipilab/events';
import { hostPreset, type ApicMode } from '@ipilab/host';
import { DEFAULT_HYPERVISOR_CONFIG, Hypervisor, HypervisorSetup, hypervisorModule, IpiBackendRegistry, type IpiBackendFactory } from '@ipilab/hypervisor';
import { ipiPostedModule } from '@ipilab/ipi-posted';
import { ipiPvModule } from '@ipilab/ipi-pv';
import { ipiTrapModule } from '@ipilab/ipi-trap';
import { GuestKernel, IpiBench, type IpiBenchResult } from '../index';

/** Builds the model from its real modules, as the scenario layer will, and runs the microbenchmark. */
function runBench(backend: string, apicMode: ApicMode, iterations: number, modes = ['unicast', 'broadcast'] as const): { result: IpiBenchResult; exits: number; hypercalls: number } {
  const setup = new ContainerModule(({ bind }) => {
    bind(HypervisorSetup).toConstantValue({ topology: hostPreset('skylake-2s-80t'), costs: resolveCosts(KVM_SKYLAKE_2018), config: DEFAULT_HYPERVISOR_CONFIG });
  });
  const container = composeContainer({ run: { seed: 1 }, modules: [setup, hypervisorModule, ipiTrapModule, ipiPvModule, ipiPostedModule] });
  const hv = container.get(Hypervisor);
  const factory = container.get<PolicyRegistry<IpiBackendFactory>>(IpiBackendRegistry).get(backend);
  const vm = hv.addVm({ name: 'big', vcpus: 80, placement: 'pinned', apicMode, backend }, factory);
  let exits = 0;
  let hypercalls = 0;
  container.get(EventSink).subscribe((e) => {
    // The sender's IPI exits (its HLT exits, when it idles, are not the send path's).
    if (e.type === 'vm-exit' && e.vcpu.vcpu === 0 && e.reason !== 'hlt') exits++;
    if (e.type === 'hypercall') hypercalls++;
  });
  let result: IpiBenchResult | undefined;
  new IpiBench(hv, new GuestKernel(hv, vm), vm.vcpus, { modes: [...modes], iterations }).start((r) => (result = r));
  hv.start();
  container.get(Simulation).run({ until: 1_000_000_000 });
  if (result === undefined) throw new Error('benchmark did not finish');
  return { result, exits, hypercalls };
}

const us = (ns: number): number => ns / 1000;

describe('IPI microbenchmark on an 80-vCPU VM (80-thread Skylake preset, kvm-skylake-2018)', () => {
  const N = 40;
  const runs = {} as Record<string, ReturnType<typeof runBench>>;
  beforeAll(() => {
    for (const mode of ['x2apic-physical', 'x2apic-cluster'] as const) for (const b of ['trap', 'pv', 'posted']) runs[`${b}/${mode}`] = runBench(b, mode, N);
  });

  it('runs unicast and broadcast under trap, pv and posted in both x2APIC modes', () => {
    for (const r of Object.values(runs)) {
      for (const m of ['unicast', 'broadcast'] as const) {
        const f = r.result.modes[m]!;
        expect(f.ops).toBe(N);
        expect(f.totalNs.mean).toBeGreaterThan(f.sendToHandlerNs.mean);
        expect(f.totalNs.p99).toBeGreaterThanOrEqual(f.totalNs.p50);
      }
    }
  });

  it('a broadcast costs the sender 79 exits per operation in physical mode, 5 in cluster mode, 1 hypercall under pv', () => {
    // unicast: 1 exit per op (pv keeps send_IPI native); broadcast as stated.
    expect(runs['trap/x2apic-physical']!.exits).toBe(N * (1 + 79));
    expect(runs['trap/x2apic-cluster']!.exits).toBe(N * (1 + 5));
    expect(runs['pv/x2apic-physical']!.exits).toBe(N * (1 + 1));
    expect(runs['pv/x2apic-physical']!.hypercalls).toBe(N);
  });

  it('emerges in the neighbourhood of the published figures (Wanpeng Li 2018), from per-operation costs', () => {
    // Published per op, total (ns): cluster vanilla unicast 2,513, broadcast 92,822; cluster pv broadcast
    // 75,723; physical vanilla broadcast 198,451; physical pv broadcast 78,065. None is a model input.
    const within = (model: number, published: number, tolerance: number): void => {
      expect(Math.abs(model - published) / published).toBeLessThan(tolerance);
    };
    within(runs['trap/x2apic-cluster']!.result.modes.unicast!.totalNs.mean, 2_513, 0.35);
    within(runs['trap/x2apic-cluster']!.result.modes.broadcast!.totalNs.mean, 92_822, 0.35);
    within(runs['pv/x2apic-cluster']!.result.modes.broadcast!.totalNs.mean, 75_723, 0.35);
    within(runs['trap/x2apic-physical']!.result.modes.broadcast!.totalNs.mean, 198_451, 0.35);
    within(runs['pv/x2apic-physical']!.result.modes.broadcast!.totalNs.mean, 78_065, 0.35);
    // The mechanism's ordering: pv beats trap on broadcasts, by far more in physical mode.
    const gain = (mode: string): number => runs[`trap/${mode}`]!.result.modes.broadcast!.totalNs.mean / runs[`pv/${mode}`]!.result.modes.broadcast!.totalNs.mean;
    expect(gain('x2apic-physical')).toBeGreaterThan(2);
    expect(gain('x2apic-cluster')).toBeGreaterThan(1);
    expect(gain('x2apic-cluster')).toBeLessThan(gain('x2apic-physical'));
    if (process.env['IPILAB_REPORT'] === '1') {
      const rows = Object.entries(runs).map(([k, r]) => ({
        run: k,
        unicastS2H: us(r.result.modes.unicast!.sendToHandlerNs.mean),
        unicastTotal: us(r.result.modes.unicast!.totalNs.mean),
        broadcastTotal: us(r.result.modes.broadcast!.totalNs.mean),
      }));
      console.table(rows);
    }
  });
});

describe('IPI microbenchmark parameters', () => {
  const vm = (): { hv: Hypervisor; kernel: GuestKernel } => {
    const hv = new Hypervisor(new Simulation(), new EventSink(), hostPreset('small-1s-8t'), resolveCosts(KVM_SKYLAKE_2018));
    const v = hv.addVm({ name: 'v', vcpus: 4, placement: 'pinned', apicMode: 'x2apic-physical', backend: 'trap' }, () => ({ name: 'x', send: (_r, d) => d() }));
    return { hv, kernel: new GuestKernel(hv, v) };
  };
  it.each([
    [{ modes: ['multicast'], iterations: 1 }, 'workload.mode[0]: expected one of "dry-run", "self", "unicast", "broadcast", got "multicast"'],
    [{ modes: [], iterations: 1 }, 'workload.mode: expected one or more of dry-run, self, unicast, broadcast'],
    [{ modes: ['unicast'], iterations: 0 }, 'workload.iterations: expected a positive integer, got 0'],
    [{ modes: ['unicast'], iterations: 5, target: 9 }, 'workload.target: expected a vCPU index in [0, 3], got 9'],
    [{ modes: ['unicast'], iterations: 5, target: 0 }, 'workload.target: expected a vCPU other than the sender, got 0'],
  ])('%j is refused', (params, text) => {
    const { hv, kernel } = vm();
    expect(() => new IpiBench(hv, kernel, kernel.vm.vcpus, params as never)).toThrow(InvalidParameterError);
    expect(() => new IpiBench(hv, kernel, kernel.vm.vcpus, params as never)).toThrow(text);
  });
});
