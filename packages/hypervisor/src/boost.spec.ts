import { Simulation } from '@ipilab/core';
import { KVM_SKYLAKE_2018, resolveCosts } from '@ipilab/calibration';
import { EventSink } from '@ipilab/events';
import { HostTopology } from '@ipilab/host';
import { DEFAULT_HYPERVISOR_CONFIG, Hypervisor, FIFO_POLICY, type IpiBackend } from './index';

/** Two busy vCPUs time-share one pCPU under fifo with boostIpiTargets: who runs after a delivery to the preempted one. */
function scene(fromVcpu: boolean): string {
  const sim = new Simulation();
  const sink = new EventSink();
  const hv = new Hypervisor(sim, sink, new HostTopology({ sockets: 1, coresPerSocket: 2, threadsPerCore: 1, ghz: 2.5 }), resolveCosts(KVM_SKYLAKE_2018), {
    ...DEFAULT_HYPERVISOR_CONFIG,
    hostScheduler: FIFO_POLICY,
    migrate: false,
    timeSliceNs: 1_000_000,
    boostIpiTargets: true,
  });
  const backend = (): IpiBackend => ({ name: 'none', send: (_r, done) => done() });
  const vm = hv.addVm({ name: 'vm', vcpus: 3, placement: 'shared', pcpus: [0], apicMode: 'x2apic-physical', backend: 'none' }, backend);
  for (const v of vm.vcpus) v.pushWork(50_000_000, () => undefined);
  hv.start();
  let after = '';
  sim.schedule(1_500_000, () => {
    const preempted = vm.vcpus.filter((v) => v.state === 'preempted');
    const target = preempted[preempted.length - 1]!;
    hv.deliver(fromVcpu ? vm.vcpus.find((v) => v.state === 'in-guest')! : null, target, 0x40, hv.newIpiId());
    sim.schedule(200_000, () => (after = target.state === 'in-guest' ? 'target runs' : 'target waits'));
  });
  sim.run({ until: 2_000_000 });
  return after;
}

describe('boostIpiTargets', () => {
  it('an IPI to a preempted vCPU makes it run next; a timer or device interrupt (no sender) does not', () => {
    expect(scene(true)).toBe('target runs');
    expect(scene(false)).toBe('target waits');
  });
});
