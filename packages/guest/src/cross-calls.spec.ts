import { VECTORS, type Vcpu } from '@ipilab/vcpu';
import type { ModelEvent } from '@ipilab/events';
import { ROUND_ROBIN, addVm, rig, vmSpec } from '../test/harness';
import type { CallWork } from './cross-calls';

type Of<T extends ModelEvent['type']> = Extract<ModelEvent, { type: T }>;
const only = <T extends ModelEvent['type']>(events: readonly ModelEvent[], type: T): Of<T>[] => events.filter((e): e is Of<T> => e.type === type);

describe('cross-calls (smp_call_function, wait=1)', () => {
  it('an empty target list sends no IPI: the sender pays the send overhead and is done', () => {
    const r = rig();
    const { vm, kernel } = addVm(r, 'trap', vmSpec(2, 'x2apic-physical'));
    let calledAt = -1;
    let doneAt = -1;
    vm.vcpu(0).pushWork(1_000, () => {
      calledAt = r.sim.now;
      kernel.crossCall(vm.vcpu(0), [], () => (doneAt = r.sim.now));
    });
    r.hv.start();
    r.sim.run({ until: 1_000_000 });
    expect(doneAt - calledAt).toBe(r.hv.costs.guestSendOverhead);
    expect(only(r.events, 'ipi-sent')).toHaveLength(0);
    expect(only(r.events, 'handler-begin')).toHaveLength(0);
  });

  it('the kind and vector follow the targets: one is a unicast on call-function-single, all but the sender a broadcast, others a multicast', () => {
    const r = rig();
    const { vm, kernel } = addVm(r, 'trap', vmSpec(4, 'x2apic-physical'));
    const [v0, v1, v2, v3] = [vm.vcpu(0), vm.vcpu(1), vm.vcpu(2), vm.vcpu(3)];
    v0.pushWork(1_000, () => kernel.crossCall(v0, [v1], () => kernel.crossCall(v0, [v1, v2, v3], () => kernel.crossCall(v0, [v3, v1], () => undefined))));
    r.hv.start();
    r.sim.run({ until: 1_000_000 });
    expect(only(r.events, 'ipi-sent').map((e) => [e.kind, e.vector, e.targets])).toEqual([
      ['unicast', VECTORS.callFunctionSingle, [1]],
      ['broadcast', VECTORS.callFunction, [1, 2, 3]],
      ['multicast', VECTORS.callFunction, [3, 1]],
    ]);
  });

  it("the sender's wait ends only after every target's handler has released its csd; cross-call-done times the whole call from its send path", () => {
    const r = rig();
    const { vm, kernel } = addVm(r, 'trap', vmSpec(6, 'x2apic-physical'));
    let calledAt = -1;
    let doneAt = -1;
    const started = new Map<number, number>();
    vm.vcpu(0).pushWork(1_000, () => {
      calledAt = r.sim.now;
      kernel.crossCall(vm.vcpu(0), vm.vcpus.slice(1), () => (doneAt = r.sim.now), (t, at) => started.set(t.index, at));
    });
    r.hv.start();
    r.sim.run({ until: 1_000_000 });
    const [sent] = only(r.events, 'ipi-sent');
    const handled = only(r.events, 'ipi-handled');
    const [finished] = only(r.events, 'cross-call-done');
    expect(handled.map((e) => e.to.vcpu).sort()).toEqual([1, 2, 3, 4, 5]);
    for (const h of handled) {
      expect(h.id).toBe(sent!.id);
      expect(doneAt).toBeGreaterThan(h.t);
      // onHandlerStart sees the same start as the handled event's send-to-handler.
      expect(started.get(h.to.vcpu)).toBe(sent!.t + h.sendToHandler);
    }
    expect(finished).toMatchObject({ id: sent!.id, targets: 5, t: doneAt, duration: doneAt - calledAt });
  });

  it("a call's work runs in the handler and sets its length; its continuation runs after the handler ends, before the EOI", () => {
    const r = rig();
    const { vm, kernel } = addVm(r, 'trap', vmSpec(2, 'x2apic-physical'));
    const on1 = (type: ModelEvent['type']): number => r.events.filter((e) => e.type === type && 'vcpu' in e && e.vcpu.vcpu === 1).length;
    const seen: string[] = [];
    let ranAt = -1;
    const work: CallWork = {
      cost: () => 5_000,
      run: (t) => {
        ranAt = r.sim.now;
        seen.push(`run on ${t.index}: ${on1('handler-begin')} begun, ${on1('handler-end')} ended`);
      },
      after: (t) => seen.push(`after on ${t.index}: ${on1('handler-end')} ended, in service ${t.apic.inService(VECTORS.callFunctionSingle)}`),
    };
    vm.vcpu(0).pushWork(1_000, () => kernel.crossCall(vm.vcpu(0), [vm.vcpu(1)], () => undefined, undefined, work));
    r.hv.start();
    r.sim.run({ until: 1_000_000 });
    expect(seen).toEqual(['run on 1: 1 begun, 0 ended', 'after on 1: 1 ended, in service true']);
    expect(vm.vcpu(1).apic.anyInService()).toBe(false);
    const [end] = only(r.events, 'handler-end');
    expect(end!.t - ranAt).toBe(5_000);
  });

  it('coalesced vectors lose no call: csds from two senders queued on a preempted target are both run by its one handler', () => {
    const r = rig({ config: { ...ROUND_ROBIN, timeSliceNs: 1_000_000 } });
    // vCPUs 0 and 3 share pCPU 0 and are busy, so one of them is preempted; 1 and 2 send to it.
    const { vm, kernel } = addVm(r, 'trap', vmSpec(4, 'x2apic-physical', { placement: 'shared', pcpus: [0, 1, 2] }));
    vm.vcpu(0).pushWork(5_000_000, () => undefined);
    vm.vcpu(3).pushWork(5_000_000, () => undefined);
    let target: Vcpu | undefined;
    const done: number[] = [];
    for (const s of [1, 2]) {
      vm.vcpu(s).pushWork(200_000, () => {
        target ??= vm.vcpus.find((v) => v.state === 'preempted');
        kernel.crossCall(vm.vcpu(s), [target!], () => done.push(s));
      });
    }
    r.hv.start();
    r.sim.run({ until: 20_000_000 });
    expect(target).toBeDefined();
    const onTarget = <T extends 'handler-begin' | 'ipi-handled'>(type: T): Of<T>[] => only(r.events, type).filter((e) => ('vcpu' in e ? e.vcpu.vcpu : (e as Of<'ipi-handled'>).to.vcpu) === target!.index);
    expect(onTarget('handler-begin').filter((e) => e.vector === VECTORS.callFunctionSingle)).toHaveLength(1);
    const handled = onTarget('ipi-handled');
    expect(handled).toHaveLength(2);
    expect(handled[0]!.t).toBe(handled[1]!.t);
    expect(done.sort()).toEqual([1, 2]);
  });

  it("the call keeps its own copy of the targets: the caller may reuse its list as soon as crossCall returns", () => {
    const r = rig();
    const { vm, kernel } = addVm(r, 'trap', vmSpec(5, 'x2apic-physical'));
    let doneAt = -1;
    vm.vcpu(0).pushWork(1_000, () => {
      const list = vm.vcpus.slice(1);
      kernel.crossCall(vm.vcpu(0), list, () => (doneAt = r.sim.now));
      // What a strategy does with its scratch list before the IPI has even gone out.
      list.length = 1;
      list[0] = vm.vcpu(0);
    });
    r.hv.start();
    r.sim.run({ until: 1_000_000 });
    expect(only(r.events, 'ipi-sent').map((e) => e.targets)).toEqual([[1, 2, 3, 4]]);
    expect(only(r.events, 'ipi-handled').map((e) => e.to.vcpu).sort()).toEqual([1, 2, 3, 4]);
    expect(doneAt).toBeGreaterThan(Math.max(...only(r.events, 'ipi-handled').map((e) => e.t)));
  });

  it("a sender's calls reuse one record (as Linux reuses its per-CPU cfd_data), and a reused record's release flags start clear", () => {
    const r = rig();
    const { vm, kernel } = addVm(r, 'trap', vmSpec(6, 'x2apic-physical'));
    const v0 = vm.vcpu(0);
    // A call to all five, then smaller ones: a flag left set by an earlier call would end a wait early.
    const lists = [vm.vcpus.slice(1), [vm.vcpu(3), vm.vcpu(1)], [vm.vcpu(5)], vm.vcpus.slice(2), [vm.vcpu(1), vm.vcpu(2)]];
    const doneAt: number[] = [];
    const send = (i: number): void => {
      if (i === lists.length) return;
      kernel.crossCall(v0, lists[i]!, () => {
        doneAt.push(r.sim.now);
        send(i + 1);
      });
    };
    v0.pushWork(1_000, () => send(0));
    r.hv.start();
    r.sim.run({ until: 5_000_000 });
    const sent = only(r.events, 'ipi-sent');
    expect(sent.map((e) => e.targets)).toEqual(lists.map((l) => l.map((v) => v.index)));
    expect(doneAt).toHaveLength(lists.length);
    sent.forEach((e, i) => {
      const handled = only(r.events, 'ipi-handled').filter((h) => h.id === e.id);
      expect(handled.map((h) => h.to.vcpu).sort()).toEqual([...e.targets].sort());
      // The wait ended after this call's own handlers, not on flags an earlier call left.
      expect(doneAt[i]).toBeGreaterThan(Math.max(...handled.map((h) => h.t)));
    });
    expect((kernel as unknown as { calls: { recordCount: number } }).calls.recordCount).toBe(1);
  });
});
