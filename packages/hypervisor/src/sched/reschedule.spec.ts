import { Simulation } from '@ipilab/core';
import { KVM_SKYLAKE_2018, resolveCosts } from '@ipilab/calibration';
import { EventSink } from '@ipilab/events';
import { HostTopology } from '@ipilab/host';
import { DEFAULT_HYPERVISOR_CONFIG, FIFO_POLICY, Hypervisor, type HostRunqueueContext, type HostSchedulerPolicy, type IpiBackend } from '../index';

/**
 * A 2-socket host, fifo order; two hogs share pCPU `pcpu`. At 1 ms pCPU 0's run queue calls
 * `ctx.reschedule(pcpu)`: when does that pCPU's run queue choose again, and what does it run?
 */
function scene(pcpu: number): { contexts: HostRunqueueContext[]; repicks: number[]; switchedAt: number; wire: number } {
  const sim = new Simulation();
  const sink = new EventSink();
  const contexts: HostRunqueueContext[] = [];
  const repicks: number[] = [];
  const policy: HostSchedulerPolicy = {
    name: 'probe',
    pollersYield: true,
    createRunqueue: (ctx) => {
      contexts.push(ctx);
      const rq = FIFO_POLICY.createRunqueue(ctx);
      const pick = rq.pick.bind(rq);
      rq.pick = (now) => {
        if (ctx.pcpu === pcpu) repicks.push(now);
        return pick(now);
      };
      return rq;
    },
  };
  const topology = new HostTopology({ sockets: 2, coresPerSocket: 2, threadsPerCore: 1, ghz: 2.5 });
  const hv = new Hypervisor(sim, sink, topology, resolveCosts(KVM_SKYLAKE_2018), { ...DEFAULT_HYPERVISOR_CONFIG, hostScheduler: policy, timeSliceNs: 50_000_000, migrate: false });
  const backend = (): IpiBackend => ({ name: 'none', send: (_r, done) => done() });
  const vm = hv.addVm({ name: 'vm', vcpus: 2, placement: 'shared', pcpus: [pcpu], apicMode: 'x2apic-physical', backend: 'none' }, backend);
  vm.vcpu(0).pushWork(1e12, () => undefined);
  vm.vcpu(1).pushWork(1e12, () => undefined);
  let switchedAt = -1;
  sink.subscribe((e) => {
    if (e.type === 'vcpu-state' && e.vcpu.vcpu === 1 && e.to === 'in-guest' && switchedAt < 0) switchedAt = e.t;
  }, ['vcpu-state']);
  hv.start();
  sim.schedule(1_000_000, () => {
    repicks.length = 0;
    contexts[0]!.reschedule(pcpu);
    contexts[0]!.reschedule(pcpu); // still in flight: one reschedule
  });
  sim.run({ until: 2_000_000 });
  return { contexts, repicks, switchedAt, wire: hv.fabric.latency(0, pcpu) };
}

describe('ctx.reschedule: a run queue makes another pCPU re-pick (resched_curr on a remote CPU)', () => {
  it('re-picks on the other pCPU after the physical IPI latency between the two, once for two requests', () => {
    const remote = scene(3); // pCPU 3 is on the other socket
    expect(remote.wire).toBe(resolveCosts(KVM_SKYLAKE_2018).ipiWireRemote);
    expect(remote.repicks).toEqual([1_000_000 + remote.wire]);
    const near = scene(1);
    expect(near.repicks).toEqual([1_000_000 + resolveCosts(KVM_SKYLAKE_2018).ipiWireSocket]);
  });

  it('the re-pick is a preemption: under fifo order the waiting vCPU runs next', () => {
    const { switchedAt, wire } = scene(3);
    expect(switchedAt).toBeGreaterThan(1_000_000 + wire);
    expect(switchedAt).toBeLessThan(1_100_000);
  });

  it('every pCPU of one host sees the same `host`, another host another', () => {
    const a = scene(1).contexts;
    const b = scene(1).contexts;
    expect(a).toHaveLength(4);
    expect(new Set(a.map((c) => c.host)).size).toBe(1);
    expect(b[0]!.host).not.toBe(a[0]!.host);
  });
});
