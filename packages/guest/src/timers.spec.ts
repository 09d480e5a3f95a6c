import { VECTORS } from '@ipilab/vcpu';
import { addVm, exitsBy, rig, vmSpec } from '../test/harness';
import { compute, op, Scheduler } from './index';

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

describe('the guest tick (TSC-deadline timer under KVM, NOHZ idle)', () => {
  const run = (opts: { idle?: 'halt' | 'poll' | 'haltpoll'; hz?: number; lapicTimer?: 'preemption-timer' | 'hrtimer'; ms?: number } = {}) => {
    const r = rig({ config: { lapicTimer: opts.lapicTimer ?? 'preemption-timer' } });
    const { vm, kernel } = addVm(r, 'trap', vmSpec(2, 'x2apic-physical', { hz: opts.hz ?? 1000, ...(opts.idle === undefined ? {} : { idle: opts.idle }) }));
    const sched = new Scheduler(r.hv, vm, kernel);
    // vCPU 0 computes the whole run; vCPU 1 has nothing to do.
    sched.spawn('busy', function* () {
      yield compute(1e12);
    }, { vcpu: 0, affinity: [0] });
    r.hv.start();
    r.sim.run({ until: (opts.ms ?? 20) * 1e6 });
    return { r, kernel, busy: exitsBy(r.events, 0), idle: exitsBy(r.events, 1) };
  };

  it('a busy vCPU takes one tick per 1/HZ: a preemption-timer exit and a TSC-deadline write each (Intel); an idle one, with its tick stopped, takes none', () => {
    const { busy, idle, kernel } = run({ hz: 1000, ms: 20 });
    expect(busy['preemption-timer']).toBeGreaterThanOrEqual(19);
    expect(busy['preemption-timer']).toBeLessThanOrEqual(21);
    // One write per tick (the tick runs from boot).
    expect(busy['msr-write']).toBe(busy['preemption-timer']);
    expect(kernel.localTimer.ticks[0]).toBe(busy['preemption-timer']);
    expect(idle['preemption-timer'] ?? 0).toBe(0);
    expect(kernel.localTimer.ticks[1]).toBe(0);
    // The idle vCPU wrote its deadline once: stopping the tick when it first went idle.
    expect(idle['msr-write']).toBe(1);
  });

  it('scales with HZ', () => {
    const at250 = run({ hz: 250, ms: 40 }).busy['preemption-timer']!;
    const at1000 = run({ hz: 1000, ms: 40 }).busy['preemption-timer']!;
    expect(at250).toBeGreaterThanOrEqual(9);
    expect(at250).toBeLessThanOrEqual(11);
    expect(at1000).toBeGreaterThanOrEqual(39);
  });

  it('with a host hrtimer (AMD) an expiry in guest mode is an external-interrupt exit, not a preemption-timer one', () => {
    const { busy } = run({ lapicTimer: 'hrtimer' });
    expect(busy['preemption-timer'] ?? 0).toBe(0);
    expect(busy['external-interrupt']).toBeGreaterThanOrEqual(19);
  });

  it('idle=poll keeps the tick running on an idle vCPU (do_idle restarts it for forced polling); halt stops it', () => {
    const r = rig({ config: { lapicTimer: 'preemption-timer' } });
    const { vm, kernel } = addVm(r, 'trap', vmSpec(2, 'x2apic-physical', { hz: 1000, idle: 'poll' }));
    const sched = new Scheduler(r.hv, vm, kernel);
    sched.spawn('short', function* () {
      yield compute(10_000);
    }, { vcpu: 1, affinity: [1] });
    r.hv.start();
    r.sim.run({ until: 20e6 });
    expect(exitsBy(r.events, 1)['preemption-timer']).toBeGreaterThanOrEqual(19);

    const h = rig({ config: { lapicTimer: 'preemption-timer' } });
    const hv = addVm(h, 'trap', vmSpec(2, 'x2apic-physical', { hz: 1000, idle: 'halt' }));
    new Scheduler(h.hv, hv.vm, hv.kernel).spawn('short', function* () {
      yield compute(10_000);
    }, { vcpu: 1, affinity: [1] });
    h.hv.start();
    h.sim.run({ until: 20e6 });
    const e = exitsBy(h.events, 1, true);
    expect(e['preemption-timer'] ?? 0).toBe(0);
    // Ticking from boot, stopped on idle entry (a write), then HLT; no restart, nothing to run.
    expect(e['msr-write']).toBe(1);
    expect(e['hlt']).toBe(1);
  });

  it('a vCPU woken to run a task restarts its tick (one deadline write), and stops it again (another) when it idles', () => {
    const r = rig({ config: { lapicTimer: 'preemption-timer' } });
    const { vm, kernel } = addVm(r, 'trap', vmSpec(2, 'x2apic-physical', { hz: 1000 }));
    const sched = new Scheduler(r.hv, vm, kernel);
    const sleeper = sched.spawnBlocked('sleeper', function* () {
      yield compute(10_000);
    }, 1, [1]);
    sched.spawn('waker', function* () {
      yield compute(2_500_000);
      yield op((v, resume) => sched.wake(sleeper, v, resume));
    }, { vcpu: 0, affinity: [0] });
    r.hv.start();
    r.sim.run({ until: 20e6 });
    expect(sleeper.state).toBe('done');
    // Boot tick stopped at first idle; restarted to run the task; stopped again.
    expect(exitsBy(r.events, 1)['msr-write']).toBe(3);
  });

  it('on bare metal the tick exits nothing but still drives the scheduler', () => {
    const r = rig({ config: { mode: 'bare-metal' } });
    const { vm, kernel } = addVm(r, 'trap', vmSpec(2, 'x2apic-physical', { hz: 1000 }));
    const sched = new Scheduler(r.hv, vm, kernel);
    sched.spawn('busy', function* () {
      yield compute(1e12);
    }, { vcpu: 0, affinity: [0] });
    r.hv.start();
    r.sim.run({ until: 20e6 });
    expect(r.events.filter((e) => e.type === 'vm-exit')).toHaveLength(0);
    expect(kernel.localTimer.ticks[0]).toBeGreaterThanOrEqual(19);
  });
});
