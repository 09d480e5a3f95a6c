import { Simulation } from '@ipilab/core';
import { KVM_SKYLAKE_2018, resolveCosts } from '@ipilab/calibration';
import { EventSink, type ModelEvent } from '@ipilab/events';
import { HostTopology } from '@ipilab/host';
import type { Vcpu } from '@ipilab/vcpu';
import { CFS_POLICY, DEFAULT_HYPERVISOR_CONFIG, EEVDF_POLICY, growWindow, Hypervisor, PLE_DEFAULTS, shrinkWindow, type HostSchedulerPolicy, type IpiBackend } from './index';

const INTEL = { enabled: true, ...PLE_DEFAULTS.intel, unitNs: 0.4 };

function setup(ple: boolean, policy: HostSchedulerPolicy = EEVDF_POLICY, vcpus = 2, extra: Partial<typeof DEFAULT_HYPERVISOR_CONFIG> = {}) {
  const sim = new Simulation();
  const sink = new EventSink();
  const events: ModelEvent[] = [];
  sink.subscribe((e) => events.push(e));
  const hv = new Hypervisor(sim, sink, new HostTopology({ sockets: 1, coresPerSocket: 2, threadsPerCore: 1, ghz: 2.5 }), resolveCosts(KVM_SKYLAKE_2018), {
    ...DEFAULT_HYPERVISOR_CONFIG,
    hostScheduler: policy,
    migrate: false,
    ple: { ...INTEL, enabled: ple },
    ...extra,
  });
  const backend = (): IpiBackend => ({ name: 'none', send: (_r, done) => done() });
  const vm = hv.addVm({ name: 'vm', vcpus, placement: 'shared', pcpus: [0], apicMode: 'x2apic-physical', backend: 'none' }, backend);
  return { sim, hv, vm, events };
}

const pauseExits = (events: readonly ModelEvent[], vcpu: number): number[] => events.filter((e) => e.type === 'vm-exit' && e.reason === 'pause' && e.vcpu.vcpu === vcpu).map((e) => e.t);

describe('pause-loop exiting (hypervisor.ple)', () => {
  it('grows and shrinks the window as __grow_ple_window / __shrink_ple_window do', () => {
    expect(growWindow(4096, 4096, 2, 1e9)).toBe(8192);
    expect(growWindow(8192, 4096, 2, 10_000)).toBe(10_000);
    expect(growWindow(5000, 4096, 5000, 1e9)).toBe(10_000); // modifier >= base: additive
    expect(growWindow(8192, 4096, 0, 1e9)).toBe(4096);
    expect(shrinkWindow(16_384, 4096, 0, 4096)).toBe(4096); // shrink 0: back to the base
    expect(shrinkWindow(16_384, 4096, 2, 4096)).toBe(8192);
  });

  it('a vCPU spinning alone takes a pause exit after each window, the window doubling (4096 cycles at 2.5 GHz = 1,638 ns first)', () => {
    const { sim, hv, vm, events } = setup(true, EEVDF_POLICY, 1);
    // 10 us of work, then a spin that is never released.
    vm.vcpu(0).pushSpin(() => undefined);
    vm.vcpu(0).pushWork(10_000, () => undefined);
    hv.start();
    sim.run({ until: 200_000 });
    const entered = events.find((e) => e.type === 'vcpu-state' && e.to === 'in-guest')!.t;
    const t = pauseExits(events, 0);
    expect(t.length).toBeGreaterThanOrEqual(4);
    const exitNs = hv.costs.exitRoundTrip;
    // Spin time between exits: 1,638, 3,277, 6,554, ... ns (the exits' own time excluded).
    const spun = t.slice(1).map((x, i) => x - t[i]! - exitNs);
    expect(t[0]! - entered - 10_000 - exitNs).toBe(Math.round(4096 * 0.4));
    expect(spun[0]).toBe(Math.round(8192 * 0.4));
    expect(spun[1]).toBe(Math.round(16_384 * 0.4));
  });

  it('with PLE off a spinning vCPU never exits', () => {
    const { sim, hv, vm, events } = setup(false, EEVDF_POLICY, 1);
    vm.vcpu(0).pushSpin(() => undefined);
    hv.start();
    sim.run({ until: 200_000 });
    expect(pauseExits(events, 0)).toEqual([]);
  });

  /**
   * Two busy vCPUs share pCPU 0; at `at` the running one spins until the other (preempted)
   * releases it after 10 us of its own work. Returns how long after the spin began the other
   * released it: how soon the vCPU being waited for got to run.
   */
  const spinFor = (ple: boolean, policy: HostSchedulerPolicy, at: number, forfeitOnYield = true): { waited: number; yields: number } => {
    const { sim, hv, vm } = setup(ple, policy, 2, { forfeitOnYield });
    for (const v of vm.vcpus) v.pushWork(50_000_000, () => undefined);
    hv.start();
    let waited = -1;
    sim.schedule(at, () => {
      const spinner = vm.vcpus.find((v) => v.state === 'in-guest')!;
      const other = vm.vcpus.find((v) => v !== spinner)!;
      const from = sim.now;
      const ticket = spinner.pushSpin(() => undefined);
      other.pushWork(10_000, () => {
        waited = sim.now - from;
        ticket.release();
      });
    });
    sim.run({ until: 30_000_000 });
    return { waited, yields: hv.ple?.yields ?? 0 };
  };

  it('cfs: a vCPU spinning for a preempted sibling yields to it (next buddy, skip buddy) at its first pause exit instead of burning its slice', () => {
    // CFS switches first at ~7 ms (the newcomer starts a slice behind: START_DEBIT); by 8.6 ms the
    // sibling has been preempted once, so it is `ready`.
    const off = spinFor(false, CFS_POLICY, 8_600_000);
    const on = spinFor(true, CFS_POLICY, 8_600_000);
    expect(on.yields).toBeGreaterThanOrEqual(1);
    expect(on.waited).toBeLessThan(50_000);
    expect(off.waited).toBeGreaterThan(5 * on.waited); // without PLE: until the spinner's turn ends
  });

  it('eevdf: the yield helps once the sibling is eligible (no next buddy without sched_feat NEXT_BUDDY: the yielder gives up its turn)', () => {
    // The sibling ran 0-1 ms and the spinner since 1 ms: at 2.3 ms the spinner has run more,
    // so the sibling's vruntime is behind the average and it is eligible.
    for (const forfeit of [true, false]) {
      const off = spinFor(false, EEVDF_POLICY, 2_300_000, forfeit);
      const on = spinFor(true, EEVDF_POLICY, 2_300_000, forfeit);
      expect(on.yields).toBeGreaterThanOrEqual(1);
      expect(on.waited).toBeLessThan(50_000);
      expect(off.waited).toBeGreaterThan(3 * on.waited);
    }
  });

  it('eevdf: before the sibling is eligible, a yield that only pushes the deadline (6.6-6.17) keeps the spinner on the pCPU; forfeiting the vruntime (79104becf42b) hands it over', () => {
    // At 1.1 ms the spinner has run 0.1 ms since the sibling's 1 ms: the sibling is not eligible.
    const pushOnly = spinFor(true, EEVDF_POLICY, 1_100_000, false);
    expect(pushOnly.waited).toBeGreaterThan(100_000);
    const forfeit = spinFor(true, EEVDF_POLICY, 1_100_000, true);
    expect(forfeit.waited).toBeLessThan(50_000);
  });

  it('a vCPU that has never been scheduled out is not ready: no yield to it (kvm_sched_out sets vcpu->ready)', () => {
    // CFS has not switched yet at 1.1 ms: the waiting sibling never ran.
    const r = spinFor(true, CFS_POLICY, 1_100_000);
    expect(r.yields).toBe(0);
  });

  it('directed yield never picks a vCPU that is running or halted with nothing pending', () => {
    const { sim, hv, vm } = setup(true, EEVDF_POLICY, 4);
    // vCPUs 0-2 share pCPU 0; vCPU 3 halts (idle). The running one spins; the others compute.
    const picked: string[] = [];
    for (const v of vm.vcpus.slice(0, 3)) v.pushWork(50_000_000, () => undefined);
    const boost = hv.runners[0]!.boost.bind(hv.runners[0]!);
    hv.runners[0]!.boost = (t) => {
      picked.push(t.vcpu.state);
      boost(t);
    };
    hv.start();
    sim.schedule(1_100_000, () => {
      const spinner = vm.vcpus.find((v: Vcpu) => v.state === 'in-guest')!;
      spinner.pushSpin(() => undefined);
    });
    sim.run({ until: 5_000_000 });
    expect(picked.length).toBeGreaterThan(0);
    expect(new Set(picked)).toEqual(new Set(['preempted']));
    expect(vm.vcpu(3).state).toBe('halted');
  });

  /**
   * vCPU 0 computes in user mode, vCPUs 1 and 2 run kernel code, all on pCPU 0 (CFS); at 20.3 ms
   * the running one spins for good. Returns the vCPUs directed yield picked, in order.
   */
  const kernelModePicks = (extra: Partial<typeof DEFAULT_HYPERVISOR_CONFIG> = {}, pend?: (v: Vcpu) => void) => {
    const { sim, hv, vm } = setup(true, CFS_POLICY, 3, extra);
    vm.vcpu(0).pushUserWork(500_000_000, () => undefined);
    for (const v of vm.vcpus.slice(1)) v.pushWork(500_000_000, () => undefined);
    const picked: number[] = [];
    const boost = hv.runners[0]!.boost.bind(hv.runners[0]!);
    hv.runners[0]!.boost = (t) => {
      picked.push(t.vcpu.index);
      boost(t);
    };
    hv.start();
    let spinner = -1;
    sim.schedule(20_300_000, () => {
      const me = vm.vcpus.find((v: Vcpu) => v.state === 'in-guest')!;
      spinner = me.index;
      me.pushSpin(() => undefined);
      if (pend !== undefined) pend(vm.vcpu(0));
    });
    sim.run({ until: 21_000_000 });
    return { picked, spinner, vcpu0: vm.vcpu(0) };
  };

  it('a spinner in kernel mode skips a vCPU preempted in user mode (kvm_arch_vcpu_preempted_in_kernel) and yields to one preempted in kernel mode', () => {
    const r = kernelModePicks();
    expect(r.spinner).not.toBe(0);
    expect(r.vcpu0.state).toBe('preempted');
    expect(r.picked.length).toBeGreaterThan(0);
    expect(r.picked).not.toContain(0);
    // The round-robin starts after the last boosted (none: vCPU 0 first), so vCPU 0 was passed over.
    expect(r.picked[0]).toBe(r.spinner === 1 ? 2 : 1);
  });

  it('... unless an interrupt is posted for it and the host is Intel (vmx_dy_apicv_has_pending_interrupt); AMD AVIC cannot see it', () => {
    const post = (v: Vcpu): void => void v.apic.post(0xfb);
    const intel = kernelModePicks({ postedInterrupts: true, postedFlavour: 'ipiv' }, post);
    expect(intel.picked[0]).toBe(0);
    const amd = kernelModePicks({ postedInterrupts: true, postedFlavour: 'avic' }, post);
    expect(amd.picked).not.toContain(0);
    // Nothing posted: skipped on Intel too.
    const none = kernelModePicks({ postedInterrupts: true, postedFlavour: 'ipiv' });
    expect(none.picked).not.toContain(0);
  });
});
