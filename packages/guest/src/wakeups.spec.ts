import { VECTORS, type Vcpu } from '@ipilab/vcpu';
import type { ModelEvent } from '@ipilab/events';
import { ROUND_ROBIN, addVm, rig, vmSpec } from '../test/harness';

type Of<T extends ModelEvent['type']> = Extract<ModelEvent, { type: T }>;
const only = <T extends ModelEvent['type']>(events: readonly ModelEvent[], type: T): Of<T>[] => events.filter((e): e is Of<T> => e.type === type);

describe('wake-ups (the wake list, the reschedule IPI, polling targets)', () => {
  it('waking work onto the sender itself sends no IPI: the task runs there and `sent` runs at once', () => {
    const r = rig();
    const { vm, kernel } = addVm(r, 'trap', vmSpec(2, 'x2apic-physical'));
    const seen: string[] = [];
    vm.vcpu(0).pushWork(1_000, () => kernel.wakeOn(vm.vcpu(0), vm.vcpu(0), () => seen.push(`task at ${r.sim.now}`), () => seen.push(`sent at ${r.sim.now}`)));
    r.hv.start();
    r.sim.run({ until: 1_000_000 });
    expect(seen).toEqual(['sent at 1000', 'task at 1000']);
    expect(only(r.events, 'ipi-sent')).toHaveLength(0);
  });

  it('a queued wake-up onto another vCPU is one call-function-single IPI (the wake list, Linux >= 5.8), a unicast; the task runs after the handler ends, and `sent` on the sender once the send retired', () => {
    const r = rig();
    const { vm, kernel } = addVm(r, 'trap', vmSpec(2, 'x2apic-physical'));
    let taskAt = -1;
    let sentAt = -1;
    let halted = false;
    vm.vcpu(0).pushWork(1_000, () =>
      kernel.wakeOn(
        vm.vcpu(0),
        vm.vcpu(1),
        () => (taskAt = r.sim.now),
        () => {
          sentAt = r.sim.now;
          halted = vm.vcpu(1).state === 'halted';
        },
      ),
    );
    r.hv.start();
    r.sim.run({ until: 1_000_000 });
    const sent = only(r.events, 'ipi-sent');
    expect(sent.map((e) => [e.kind, e.vector, e.from.vcpu, e.targets])).toEqual([['unicast', VECTORS.callFunctionSingle, 0, [1]]]);
    expect(sentAt).toBeGreaterThanOrEqual(sent[0]!.t);
    const [handled] = only(r.events, 'ipi-handled');
    expect(handled).toMatchObject({ id: sent[0]!.id, to: { vcpu: 1 } });
    const [end] = only(r.events, 'handler-end').filter((e) => e.vector === VECTORS.callFunctionSingle);
    expect(end!.vcpu.vcpu).toBe(1);
    expect(taskAt).toBeGreaterThanOrEqual(end!.t);
    // `sent` does not wait for the target: it was still halted when the send retired.
    expect(halted).toBe(true);
  });

  it("wake-ups queued while their target is preempted are all taken by its one call-function handler, and each task runs once", () => {
    const r = rig({ config: { ...ROUND_ROBIN, timeSliceNs: 1_000_000 } });
    // vCPUs 0 and 3 share pCPU 0 and are busy, so one of them is preempted; 1 and 2 wake work onto it.
    const { vm, kernel } = addVm(r, 'trap', vmSpec(4, 'x2apic-physical', { placement: 'shared', pcpus: [0, 1, 2] }));
    vm.vcpu(0).pushWork(5_000_000, () => undefined);
    vm.vcpu(3).pushWork(5_000_000, () => undefined);
    let target: Vcpu | undefined;
    const ran: string[] = [];
    for (const s of [1, 2]) {
      vm.vcpu(s).pushWork(200_000, () => {
        target ??= vm.vcpus.find((v) => v.state === 'preempted');
        kernel.wakeOn(vm.vcpu(s), target!, () => ran.push(`from ${s}`));
      });
    }
    r.hv.start();
    r.sim.run({ until: 20_000_000 });
    expect(target).toBeDefined();
    expect(only(r.events, 'handler-begin').filter((e) => e.vcpu.vcpu === target!.index && e.vector === VECTORS.callFunctionSingle)).toHaveLength(1);
    const handled = only(r.events, 'ipi-handled').filter((e) => e.to.vcpu === target!.index);
    expect(handled).toHaveLength(2);
    expect(handled[0]!.t).toBe(handled[1]!.t);
    expect(ran.sort()).toEqual(['from 1', 'from 2']);
  });

  it('a reschedule (resched_curr) is a reschedule-vector IPI', () => {
    const r = rig();
    const { vm, kernel } = addVm(r, 'trap', vmSpec(2, 'x2apic-physical'));
    let sent = false;
    vm.vcpu(0).pushWork(1_000, () => (sent = kernel.reschedule(vm.vcpu(0), vm.vcpu(1))));
    r.hv.start();
    r.sim.run({ until: 1_000_000 });
    expect(sent).toBe(true);
    expect(only(r.events, 'ipi-sent').map((e) => e.vector)).toEqual([VECTORS.reschedule]);
  });

  it.each(['poll', 'haltpoll'] as const)('a target polling in idle (%s) gets no IPI: need_resched is enough, its idle loop runs the woken work', (idle) => {
    const r = rig();
    const { vm, kernel } = addVm(r, 'trap', vmSpec(2, 'x2apic-physical', { idle }));
    let taskAt = -1;
    let ipi = true;
    // vCPU 1 has just gone idle (haltpoll starts polling once its window has grown: give it work first).
    vm.vcpu(1).pushWork(1_000, () => undefined);
    vm.vcpu(0).pushWork(5_000, () => {
      expect(kernel.idle.polling(vm.vcpu(1)) || idle === 'haltpoll').toBe(true);
      ipi = kernel.wakeOn(vm.vcpu(0), vm.vcpu(1), () => (taskAt = r.sim.now));
    });
    r.hv.start();
    r.sim.run({ until: 1_000_000 });
    expect(taskAt).toBeGreaterThan(5_000);
    if (idle === 'poll') {
      expect(ipi).toBe(false);
      expect(only(r.events, 'ipi-sent')).toHaveLength(0);
    }
  });
});
