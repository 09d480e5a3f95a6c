import type { Vcpu } from '@ipilab/vcpu';
import { addVm, exitsBy, rig, vmSpec } from '../test/harness';
import { GUEST_HALT_POLL } from './idle';

/** vCPU 0 sends an IPI to vCPU 1 (otherwise idle) at each of `at`; returns the rig and the VM. */
function pings(idle: 'halt' | 'poll' | 'haltpoll', at: readonly number[], until: number) {
  const r = rig();
  const { vm, kernel } = addVm(r, 'trap', vmSpec(2, 'x2apic-physical', { idle }));
  vm.vcpu(0).pushWork(until, () => undefined); // the sender stays busy between sends
  for (const t of at) r.sim.schedule(t, () => kernel.crossCall(vm.vcpu(0), [vm.vcpu(1)], () => undefined));
  r.hv.start();
  return { r, vm, kernel, run: () => r.sim.run({ until }) };
}

const deliveredVia = (events: ReturnType<typeof rig>['events'], to: number): string[] =>
  events.flatMap((e) => (e.type === 'ipi-delivered' && e.to.vcpu === to ? [e.via] : []));

describe('guest idle modes (vms[].idle)', () => {
  it('halt: the idle vCPU executes HLT, so each IPI finds it halted and wakes it', () => {
    const { r, vm, run } = pings('halt', [100_000, 600_000], 1_000_000);
    run();
    expect(vm.vcpu(1).state).toBe('halted');
    const halts = r.events.filter((e) => e.type === 'vcpu-state' && e.vcpu.vcpu === 1 && e.to === 'halted').length;
    expect(halts).toBeGreaterThanOrEqual(3);
    // Each HLT is a VM exit, counted with the others.
    expect(exitsBy(r.events, 1, true)['hlt']).toBe(halts);
    expect(deliveredVia(r.events, 1)).toEqual(['pending', 'pending']);
  });

  it('poll: the idle vCPU spins in guest mode and never halts; IPIs find it running and are posted, with no exit on the target', () => {
    const { r, vm, run } = pings('poll', [100_000, 600_000], 1_000_000);
    run();
    const v: Vcpu = vm.vcpu(1);
    expect(v.state).toBe('in-guest');
    expect(r.events.some((e) => e.type === 'vcpu-state' && e.vcpu.vcpu === 1 && e.to !== 'in-guest' && e.to !== 'preempted')).toBe(false);
    expect(deliveredVia(r.events, 1)).toEqual(['posted', 'posted']);
    expect(exitsBy(r.events, 1, true)).toEqual({}); // not even HLT
    expect(r.events.filter((e) => e.type === 'ipi-handled' && e.to.vcpu === 1)).toHaveLength(2);
  });

  it('poll burns the pCPU: an idle=poll vCPU keeps its thread runnable, so a compute vCPU sharing the pCPU gets only its fair share', () => {
    const share = (idle: 'halt' | 'poll'): number => {
      const r = rig();
      const spinner = addVm(r, 'trap', vmSpec(1, 'x2apic-physical', { placement: 'shared', pcpus: [0], idle }));
      const worker = addVm(r, 'trap', { ...vmSpec(1, 'x2apic-physical', { placement: 'shared', pcpus: [0] }), name: 'w' });
      worker.vm.vcpu(0).pushWork(1e12, () => undefined);
      void spinner;
      r.hv.start();
      r.sim.run({ until: 50_000_000 });
      return r.hv.occupancyByVm()[1]![0]! / 50_000_000;
    };
    expect(share('halt')).toBeGreaterThan(0.99);
    expect(share('poll')).toBeGreaterThan(0.4);
    expect(share('poll')).toBeLessThan(0.6);
  });

  it('haltpoll: polls its window before HLT, grows the window when the idle outlasts it (from 50 us, x2, up to 200 us) and halves it after an idle over 200 us; KVM halt polling is off', () => {
    // IPIs every 100 us: idle periods just under 100 us.
    const at = Array.from({ length: 8 }, (_, i) => 100_000 * (i + 1));
    const { r, vm, kernel, run } = pings('haltpoll', at, 900_000);
    const windows: number[] = [];
    for (const t of at) r.sim.schedule(t + 50_000, () => windows.push(kernel.idle.windowNs(vm.vcpu(1))));
    run();
    // The first idle outlasted no window: grow_start. The next outlasted 50 us: doubled. From
    // then on each idle (just under 100 us) fits the window, which stays.
    expect(windows.slice(0, 3)).toEqual([GUEST_HALT_POLL.growStartNs, 100_000, 100_000]);
    expect(windows.at(-1)).toBe(100_000);
    expect(vm.vcpu(1).hostHaltPoll).toBe(false);
    // Once the window covers the gap, IPIs find the vCPU polling in guest mode: posted, no wake-up.
    expect(deliveredVia(r.events, 1).slice(-3)).toEqual(['posted', 'posted', 'posted']);
    // A long idle (2 ms, over guest_halt_poll_ns) halves the window; the halt it ends in blocks
    // at once (no KVM poll window).
    r.sim.schedule(1_100_000, () => kernel.crossCall(vm.vcpu(0), [vm.vcpu(1)], () => undefined)); // at 2 ms
    vm.vcpu(0).pushWork(3_000_000, () => undefined);
    r.sim.run({ until: 2_100_000 });
    expect(kernel.idle.windowNs(vm.vcpu(1))).toBe(50_000);
    expect(vm.vcpu(1).haltPollNs).toBe(0);
  });
});
