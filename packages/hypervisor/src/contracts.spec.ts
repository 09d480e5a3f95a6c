import { RandomStreams, Simulation } from '@ipilab/core';
import { KVM_SKYLAKE_2018, resolveCosts } from '@ipilab/calibration';
import { EventSink } from '@ipilab/events';
import { HostTopology } from '@ipilab/host';
import type { Vcpu } from '@ipilab/vcpu';
import { DEFAULT_HYPERVISOR_CONFIG, Hypervisor, type BackendHost, type BackendVm, type IpiBackendFactory } from './index';

const VECTOR = 0xf0;

function rig(backend: IpiBackendFactory, placement: 'pinned' | 'shared' = 'pinned') {
  const sim = new Simulation();
  const sink = new EventSink();
  const costs = resolveCosts(KVM_SKYLAKE_2018);
  const topology = new HostTopology({ sockets: 1, coresPerSocket: 2, threadsPerCore: 1, ghz: 2.5 });
  const hv = new Hypervisor(sim, sink, topology, costs, DEFAULT_HYPERVISOR_CONFIG);
  const vm = hv.addVm({ name: 'a', vcpus: 2, placement, pcpus: placement === 'pinned' ? [0, 1] : [0], apicMode: 'x2apic-physical', backend: 'x', shorthand: true }, backend);
  return { sim, hv, vm };
}

describe('the contracts a backend and a guest are given', () => {
  it('a backend factory gets the host side of sending and its VM: clock, costs, sink, features, the delivery path; the VM\'s index, name, APIC mode, shorthand, PV features and vCPUs', () => {
    let seen: { host: BackendHost; vm: BackendVm } | undefined;
    const { hv, vm } = rig((host, v) => {
      seen = { host, vm: v };
      return { name: 'spy', send: (_req, done) => done() };
    });
    expect(seen).toBeDefined();
    const { host, vm: bvm } = seen!;
    expect(host.clock.now).toBe(0);
    expect(host.costs.exitRoundTrip).toBe(hv.costs.exitRoundTrip);
    expect(host.features).toEqual({ mode: 'kvm', postedInterrupts: DEFAULT_HYPERVISOR_CONFIG.postedInterrupts, postedFlavour: DEFAULT_HYPERVISOR_CONFIG.postedFlavour });
    expect({ index: bvm.index, name: bvm.name, apicMode: bvm.apicMode, shorthand: bvm.shorthand, vcpus: bvm.vcpus.length, pv: bvm.pv.sendIpi }).toEqual({ index: 0, name: 'a', apicMode: 'x2apic-physical', shorthand: true, vcpus: 2, pv: true });
    expect(bvm.vcpus[1]).toBe(vm.vcpu(1));
  });

  it('a backend draws its randomness from the run\'s seed (host.random): the same seed and name give the same draws, another seed or name others', () => {
    const draws = (seed: number, name: string): number[] => {
      const sim = new Simulation();
      const topology = new HostTopology({ sockets: 1, coresPerSocket: 2, threadsPerCore: 1, ghz: 2.5 });
      let out: number[] = [];
      const hv = new Hypervisor(sim, new EventSink(), topology, resolveCosts(KVM_SKYLAKE_2018), DEFAULT_HYPERVISOR_CONFIG, new RandomStreams(seed));
      hv.addVm({ name: 'a', vcpus: 1, placement: 'pinned', apicMode: 'x2apic-physical', backend: 'x' }, (host) => {
        const r = host.random(name);
        out = [r.uniform(), r.uniform(), r.uniform()];
        return { name: 'dice', send: (_req, done) => done() };
      });
      return out;
    };
    expect(draws(7, 'jitter')).toEqual(draws(7, 'jitter'));
    expect(draws(8, 'jitter')).not.toEqual(draws(7, 'jitter'));
    expect(draws(7, 'other')).not.toEqual(draws(7, 'jitter'));
    for (const x of draws(7, 'jitter')) expect(x >= 0 && x < 1).toBe(true);
  });

  it('the guest OS attached to a VM takes its interrupts (and acknowledges them with eoi)', () => {
    const { sim, hv, vm } = rig((host) => ({ name: 'direct', send: (req, done) => host.deliverAll(req.sender, req.targets, req.vector, req.id, done) }));
    const taken: [number, number, number][] = [];
    hv.attachGuest(vm, {
      interrupt: (v: Vcpu, vector: number) => {
        taken.push([v.index, vector, sim.now]);
        v.pushWork(100, () => hv.eoi(v));
      },
      flushedOnEntry: () => undefined,
    });
    hv.start();
    const sender = vm.vcpu(0);
    sender.pushWork(1_000, () => vm.backend.send({ sender, targets: [vm.vcpu(1)], vector: VECTOR, kind: 'unicast', id: hv.newIpiId() }, () => undefined));
    sim.run({ until: 1_000_000 });
    expect(taken.map(([v, vec]) => [v, vec])).toEqual([[1, VECTOR]]);
    expect(taken[0]![2]).toBeGreaterThan(1_000);
  });

  it('the host tells the guest when it flushed a vCPU\'s TLB on entry (PV TLB flush), once per request', () => {
    const { sim, hv, vm } = rig(() => ({ name: 'none', send: (_r, done) => done() }), 'shared');
    const flushed: number[] = [];
    hv.attachGuest(vm, { interrupt: (v) => v.pushWork(10, () => hv.eoi(v)), flushedOnEntry: (v) => flushed.push(v.index) });
    // Both vCPUs share pCPU 0 and stay busy: one is always preempted.
    vm.vcpu(0).pushWork(20_000_000, () => undefined);
    vm.vcpu(1).pushWork(20_000_000, () => undefined);
    hv.start();
    sim.run({ until: 1_000_000 });
    const preempted = vm.vcpus.find((v) => v.state === 'preempted')!;
    hv.requestFlushOnEntry(preempted);
    sim.run({ until: 30_000_000 });
    expect(flushed).toEqual([preempted.index]);
  });
});
