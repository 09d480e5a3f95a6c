import { Simulation } from '@ipilab/core';
import { KVM_SKYLAKE_2018, resolveCosts } from '@ipilab/calibration';
import { EventSink } from '@ipilab/events';
import { HostTopology } from '@ipilab/host';
import { DEFAULT_HYPERVISOR_CONFIG, FIFO_POLICY, Hypervisor, PLE_DEFAULTS, type IpiBackend } from './index';

/**
 * vCPU 0 ran first on pCPU 0 and halted (nothing to do); vCPU 1 computes there. vCPU 0 is woken
 * by an IPI at 5 ms and waits behind vCPU 1 (fifo: no wake-up preemption). At 5.05 ms vCPU 1
 * spins (PLE on): does KVM consider vCPU 0 for directed yield?
 */
function scene(boostIpiTargets: boolean): { yieldedTo: number[]; woken: boolean; ranAt: number } {
  const sim = new Simulation();
  const sink = new EventSink();
  const hv = new Hypervisor(sim, sink, new HostTopology({ sockets: 1, coresPerSocket: 2, threadsPerCore: 1, ghz: 2.5 }), resolveCosts(KVM_SKYLAKE_2018), {
    ...DEFAULT_HYPERVISOR_CONFIG,
    hostScheduler: FIFO_POLICY,
    timeSliceNs: 20_000_000,
    migrate: false,
    boostIpiTargets,
    haltPoll: { ...DEFAULT_HYPERVISOR_CONFIG.haltPoll, maxNs: 0 },
    ple: { enabled: true, ...PLE_DEFAULTS.intel, unitNs: 0.4 },
  });
  const backend = (): IpiBackend => ({ name: 'none', send: (_r, done) => done() });
  const vm = hv.addVm({ name: 'vm', vcpus: 2, placement: 'shared', pcpus: [0], apicMode: 'x2apic-physical', backend: 'none' }, backend);
  vm.vcpu(1).pushWork(50_000_000, () => undefined);
  const yieldedTo: number[] = [];
  const boost = hv.runners[0]!.boost.bind(hv.runners[0]!);
  hv.runners[0]!.boost = (t) => {
    yieldedTo.push(t.vcpu.index);
    boost(t);
  };
  let woken = false;
  let ranAt = -1;
  sink.subscribe((e) => {
    if (e.type === 'vcpu-state' && e.vcpu.vcpu === 0 && e.to === 'in-guest' && e.t > 5_000_000 && ranAt < 0) ranAt = e.t;
  }, ['vcpu-state']);
  hv.start();
  sim.schedule(5_000_000, () => {
    const halted = vm.vcpu(0).state === 'halted';
    hv.deliver(vm.vcpu(1), vm.vcpu(0), 0x40, hv.newIpiId());
    woken = halted && vm.vcpu(0).state === 'preempted';
  });
  sim.schedule(5_050_000, () => void vm.vcpu(1).pushSpin(() => undefined));
  sim.run({ until: 6_000_000 });
  return { yieldedTo, woken, ranAt };
}

describe('boostIpiTargets (KVM: "Boost vCPUs that are delivering interrupts")', () => {
  it('marks a vCPU woken by an interrupt ready, so a spinning sibling yields to it; without it the woken vCPU waits its turn; the delivery itself reorders nothing', () => {
    const on = scene(true);
    const off = scene(false);
    expect(on.woken && off.woken).toBe(true);
    expect(on.yieldedTo).toContain(0);
    expect(on.ranAt).toBeLessThan(5_060_000);
    expect(off.yieldedTo).toEqual([]);
    expect(off.ranAt).toBe(-1); // fifo: behind vCPU 1's 20 ms slice
  });
});
