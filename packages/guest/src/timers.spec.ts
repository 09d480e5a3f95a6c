import { VECTORS } from '@ipilab/vcpu';
import { addVm, rig, vmSpec } from '../test/harness';

describe('one-shot guest timers (local APIC timer)', () => {
  it('a timer wakes its halted vCPU when due and runs its function there after the interrupt handler', () => {
    const r = rig();
    const { vm, kernel } = addVm(r, 'trap', vmSpec(2, 'x2apic-physical'));
    const fired: [number, number][] = [];
    kernel.timer(vm.vcpu(1), 100_000, (on) => fired.push([on.index, r.sim.now]));
    r.hv.start();
    r.sim.run({ until: 1_000_000 });
    const begin = r.events.filter((e) => e.type === 'handler-begin' && e.vector === VECTORS.localTimer);
    expect(begin).toHaveLength(1);
    expect(begin[0]).toMatchObject({ vcpu: { vcpu: 1 } });
    expect(begin[0]!.t).toBeGreaterThanOrEqual(100_000);
    const c = r.hv.costs;
    expect(fired).toEqual([[1, begin[0]!.t + c.interruptEntry + c.deviceInterruptHandler]]);
  });

  it('timers on one vCPU each fire once, in due order, none before it is due; timers are per vCPU', () => {
    const r = rig();
    const { vm, kernel } = addVm(r, 'trap', vmSpec(3, 'x2apic-physical'));
    const fired: string[] = [];
    const at = new Map<string, number>();
    const arm = (v: number, ns: number, name: string): void =>
      kernel.timer(vm.vcpu(v), ns, (on) => {
        fired.push(`${name} on ${on.index}`);
        at.set(name, r.sim.now);
      });
    arm(1, 300_000, 'c');
    arm(1, 100_000, 'a');
    arm(1, 200_000, 'b');
    arm(2, 100_000, 'd');
    r.hv.start();
    r.sim.run({ until: 1_000_000 });
    expect(fired.filter((f) => f.endsWith('on 1'))).toEqual(['a on 1', 'b on 1', 'c on 1']);
    expect(fired).toContain('d on 2');
    expect(fired).toHaveLength(4);
    expect(at.get('a')!).toBeGreaterThanOrEqual(100_000);
    expect(at.get('b')!).toBeGreaterThanOrEqual(200_000);
    expect(at.get('c')!).toBeGreaterThanOrEqual(300_000);
    expect(at.get('b')!).toBeLessThan(300_000);
  });

  it('a guest that arms no timer registers no local-timer handler: the vector is handled as a plain one', () => {
    const r = rig();
    const { vm } = addVm(r, 'trap', vmSpec(2, 'x2apic-physical'));
    r.hv.start();
    r.sim.schedule(1_000, () => r.hv.deliver(null, vm.vcpu(1), VECTORS.localTimer, r.hv.newIpiId()));
    r.sim.run({ until: 1_000_000 });
    const begin = r.events.find((e) => e.type === 'handler-begin' && e.vector === VECTORS.localTimer)!;
    const end = r.events.find((e) => e.type === 'handler-end' && e.vector === VECTORS.localTimer)!;
    expect(end.t - begin.t).toBe(r.hv.costs.interruptEntry + r.hv.costs.handlerBody);
  });
});
