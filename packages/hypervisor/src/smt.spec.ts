import { Simulation } from '@ipilab/core';
import { KVM_SKYLAKE_2018, resolveCosts } from '@ipilab/calibration';
import { EventSink } from '@ipilab/events';
import { HostTopology } from '@ipilab/host';
import type { Vcpu } from '@ipilab/vcpu';
import { DEFAULT_HYPERVISOR_CONFIG, Hypervisor, type IpiBackendFactory } from './index';

const noIpis: IpiBackendFactory = () => ({ name: 'none', send: () => undefined });

/**
 * One pinned vCPU on pCPU 0 doing `work` ns of guest work, and what its SMT sibling (pCPU 4 on
 * a 1 x 4 x 2 host) does meanwhile. Returns when the work finished.
 */
function finishTime(sibling: 'idle' | 'compute' | 'spin', opts: { threadsPerCore?: number; overrides?: Record<string, number> } = {}): number {
  const sim = new Simulation();
  const threads = opts.threadsPerCore ?? 2;
  const topology = new HostTopology({ sockets: 1, coresPerSocket: 4, threadsPerCore: threads, ghz: 2.5 });
  const hv = new Hypervisor(sim, new EventSink(), topology, resolveCosts(KVM_SKYLAKE_2018, opts.overrides ?? {}), DEFAULT_HYPERVISOR_CONFIG);
  const siblingPcpu = threads === 1 ? 1 : 4;
  const vm = hv.addVm({ name: 'a', vcpus: 1, placement: 'pinned', pcpus: [0], apicMode: 'x2apic-physical', backend: 'none' }, noIpis);
  let doneAt = -1;
  vm.vcpu(0).pushWork(1_000_000, () => (doneAt = sim.now));
  if (sibling !== 'idle') {
    const other = hv.addVm({ name: 'b', vcpus: 1, placement: 'pinned', pcpus: [siblingPcpu], apicMode: 'x2apic-physical', backend: 'none' }, noIpis);
    const v: Vcpu = other.vcpu(0);
    if (sibling === 'compute') v.pushWork(10_000_000, () => undefined);
    else v.pushSpin(() => undefined);
  }
  hv.start();
  sim.run({ until: 20_000_000 });
  return doneAt;
}

describe('SMT contention', () => {
  const costs = resolveCosts(KVM_SKYLAKE_2018);

  it('a vCPU beside an idle sibling runs at full speed', () => {
    expect(finishTime('idle')).toBe(1_000_000);
  });

  it('beside a busy sibling it runs at smtCoreThroughput / 2 of its speed', () => {
    const t = finishTime('compute');
    expect(t).toBeCloseTo(1_000_000 / (costs.smtCoreThroughput / 2), -1);
  });

  it('a sibling spinning in a PAUSE loop slows it only by smtPauseShare of a full thread', () => {
    const p = costs.smtPauseShare;
    const speed = (1 + (costs.smtCoreThroughput - 1) * p) / (1 + p);
    const t = finishTime('spin');
    expect(t).toBeCloseTo(1_000_000 / speed, -1);
    expect(t).toBeLessThan(finishTime('compute'));
    expect(t).toBeGreaterThan(1_000_000);
  });

  it('no contention on a host with one thread per core, or with a core throughput of 2', () => {
    expect(finishTime('compute', { threadsPerCore: 1 })).toBe(1_000_000);
    expect(finishTime('compute', { overrides: { smtCoreThroughput: 2 } })).toBe(1_000_000);
  });

  it('refuses a core throughput outside [1, threads per core], naming the calibration field', () => {
    expect(() => finishTime('idle', { overrides: { smtCoreThroughput: 2.5 } })).toThrow(/calibration.overrides.smtCoreThroughput/);
    expect(() => finishTime('idle', { overrides: { smtCoreThroughput: 0.5 } })).toThrow(/calibration.overrides.smtCoreThroughput/);
  });
});
