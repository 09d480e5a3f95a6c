import { InvalidParameterError, Simulation } from '@ipilab/core';
import { KVM_SKYLAKE_2018, resolveCosts } from '@ipilab/calibration';
import { EventSink } from '@ipilab/events';
import { HostTopology } from '@ipilab/host';
import { DEFAULT_HYPERVISOR_CONFIG, Hypervisor, type IpiBackendFactory } from './index';
import { VcpuPlacement } from './placement';
import type { VmSpec } from './vm';

const host = (): HostTopology => new HostTopology({ sockets: 2, coresPerSocket: 2, threadsPerCore: 2, ghz: 2.5 });
const spec = (vcpus: number, placement: 'pinned' | 'shared', pcpus?: number[]): VmSpec => ({ name: 'x', vcpus, placement, ...(pcpus === undefined ? {} : { pcpus }), apicMode: 'x2apic-physical', backend: 'none' });

function refused(fn: () => unknown, field: string): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidParameterError);
    expect((e as InvalidParameterError).field).toBe(field);
    return;
  }
  throw new Error(`expected ${field} to be refused`);
}

describe('VcpuPlacement', () => {
  it('pinned: one dedicated pCPU per vCPU, the listed ones or the next free ones, never shared with a later VM', () => {
    const p = new VcpuPlacement(host());
    expect(p.place('vms[0]', spec(2, 'pinned', [5, 3]))).toEqual([[5], [3]]);
    expect(p.place('vms[1]', spec(3, 'pinned'))).toEqual([[0], [1], [2]]);
    // Only 4, 6 and 7 are left.
    expect(p.place('vms[2]', spec(3, 'pinned'))).toEqual([[4], [6], [7]]);
    refused(() => p.place('vms[3]', spec(1, 'pinned')), 'vms[3].vcpus');
  });

  it('pinned: a pCPU listed twice is one pCPU, never two vCPUs\' (it was pinned to both)', () => {
    const p = new VcpuPlacement(host());
    refused(() => p.place('vms[0]', spec(2, 'pinned', [3, 3])), 'vms[0].vcpus');
    expect(p.place('vms[0]', spec(2, 'pinned', [3, 3, 0]))).toEqual([[3], [0]]);
  });

  it('shared: every vCPU may run on the whole set (all pCPUs when none is listed) except pCPUs pinned to another VM', () => {
    const p = new VcpuPlacement(host());
    p.place('vms[0]', spec(2, 'pinned', [0, 1]));
    const all = p.place('vms[1]', spec(3, 'shared'));
    expect(all).toHaveLength(3);
    for (const a of all) expect([...a]).toEqual([2, 3, 4, 5, 6, 7]);
    // Overcommit is allowed: more vCPUs than pCPUs in the set.
    const listed = p.place('vms[2]', spec(4, 'shared', [6, 1, 7, 6]));
    for (const a of listed) expect([...a]).toEqual([6, 7]);
  });

  it('refuses what cannot be placed, naming the field', () => {
    const p = new VcpuPlacement(host());
    refused(() => p.place('vms[0]', spec(1, 'shared', [8])), 'vms[0].pcpus[0]');
    refused(() => p.place('vms[0]', spec(1, 'shared', [0, -1])), 'vms[0].pcpus[1]');
    refused(() => p.place('vms[0]', spec(3, 'pinned', [0, 1])), 'vms[0].vcpus');
    p.place('vms[0]', spec(2, 'pinned', [0, 1]));
    refused(() => p.place('vms[1]', spec(1, 'shared', [0, 1])), 'vms[1].pcpus');
    refused(() => p.place('vms[1]', { ...spec(1, 'shared'), placement: 'spread' as 'shared' }), 'vms[1].placement');
  });
});

describe('a plugin placement\'s answer is checked at assembly', () => {
  it('an exclusive placement that gives two vCPUs one pCPU is refused, naming the policy and VM', () => {
    const p = new VcpuPlacement(host());
    const doubled = { name: 'doubled', exclusive: true, place: () => [[3], [3]] };
    expect(() => p.place('vms[0]', { ...spec(2, 'pinned'), placement: doubled })).toThrow('placement policy "doubled" returned pCPU 3 for two vCPUs (an exclusive placement gives each its own) for vms[0]');
  });
});

describe('pinned pCPUs are the pinned VM\'s own, whatever the order VMs are added in', () => {
  const noIpis: IpiBackendFactory = () => ({ name: 'none', send: () => undefined });
  const setUp = () => {
    const sim = new Simulation();
    const topology = new HostTopology({ sockets: 1, coresPerSocket: 4, threadsPerCore: 1, ghz: 2.5 });
    const hv = new Hypervisor(sim, new EventSink(), topology, resolveCosts(KVM_SKYLAKE_2018), DEFAULT_HYPERVISOR_CONFIG);
    return { sim, hv };
  };

  it('a shared VM added first loses the pCPUs a later VM pins: its threads never run there, and the pinned VM has them to itself', () => {
    const { sim, hv } = setUp();
    const shared = hv.addVm({ name: 's', vcpus: 4, placement: 'shared', apicMode: 'x2apic-physical', backend: 'none' }, noIpis);
    const pinned = hv.addVm({ name: 'p', vcpus: 2, placement: 'pinned', pcpus: [0, 1], apicMode: 'x2apic-physical', backend: 'none' }, noIpis);
    for (const v of [...shared.vcpus, ...pinned.vcpus]) v.pushWork(1e12, () => undefined);
    hv.start();
    sim.run({ until: 20_000_000 });
    const [s, p] = hv.occupancyByVm();
    expect(s![0]! + s![1]!).toBe(0);
    expect(p![0]).toBe(20_000_000);
    expect(p![1]).toBe(20_000_000);
    expect(s![2]! + s![3]!).toBe(40_000_000);
  });

  it('pinning the last pCPUs of a shared VM added earlier is refused, naming the pinned VM\'s pcpus', () => {
    const { hv } = setUp();
    hv.addVm({ name: 's', vcpus: 2, placement: 'shared', pcpus: [3], apicMode: 'x2apic-physical', backend: 'none' }, noIpis);
    refused(() => hv.addVm({ name: 'p', vcpus: 1, placement: 'pinned', pcpus: [3], apicMode: 'x2apic-physical', backend: 'none' }, noIpis), 'vms[1].pcpus');
  });
});
