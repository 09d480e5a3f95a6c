import { Simulation } from '@ipilab/core';
import { KVM_SKYLAKE_2018, resolveCosts, type Costs } from '@ipilab/calibration';
import { EventSink } from '@ipilab/events';
import { HostTopology } from '@ipilab/host';
import type { Vcpu } from '@ipilab/vcpu';
import { DEFAULT_HYPERVISOR_CONFIG, FIFO_POLICY, Hypervisor, type HypervisorConfig, type IpiBackendFactory } from './index';

const noIpis: IpiBackendFactory = () => ({ name: 'none', send: () => undefined });
const VECTOR = 0xf0;

/** One pinned vCPU on pCPU 0 of a small host with no SMT: it has no work, so it halts at once. */
function setUp(config: Partial<HypervisorConfig> = {}): { sim: Simulation; hv: Hypervisor; v: Vcpu; costs: Costs; entries: number[] } {
  const sim = new Simulation();
  const sink = new EventSink();
  const costs = resolveCosts(KVM_SKYLAKE_2018);
  const topology = new HostTopology({ sockets: 1, coresPerSocket: 2, threadsPerCore: 1, ghz: 2.5 });
  const hv = new Hypervisor(sim, sink, topology, costs, { ...DEFAULT_HYPERVISOR_CONFIG, ...config });
  const vm = hv.addVm({ name: 'a', vcpus: 1, placement: 'pinned', pcpus: [0], apicMode: 'x2apic-physical', backend: 'none' }, noIpis);
  // When the vCPU (re)entered guest mode.
  const entries: number[] = [];
  sink.subscribe((e) => {
    if (e.type === 'vcpu-state' && e.to === 'in-guest') entries.push(e.t);
  }, ['vcpu-state']);
  hv.start();
  return { sim, hv, v: vm.vcpu(0), costs, entries };
}

/** Runs to `at`, then interrupts the vCPU (as a device would: no sender vCPU). */
function interruptAt(sim: Simulation, hv: Hypervisor, v: Vcpu, at: number): void {
  sim.run({ until: at });
  hv.deliver(null, v, VECTOR, hv.newIpiId());
}

describe('halting: HLT, KVM halt polling, wake-up', () => {
  it('grows the poll window after short blocks (from halt_poll_ns_grow_start, x grow, up to the max)', () => {
    const { sim, hv, v } = setUp();
    expect(v.haltPollNs).toBe(0); // no window yet: the first halt blocks at once
    const windows: number[] = [];
    let t = 0;
    for (let i = 0; i < 6; i++) {
      // 1 ms after the last wake-up, well past any window: the vCPU has blocked again each time.
      t += 1_000_000;
      interruptAt(sim, hv, v, t);
      windows.push(v.haltPollNs);
    }
    // Each block lasted ~1 ms, above the max (200 us): the window never starts growing.
    expect(windows).toEqual([0, 0, 0, 0, 0, 0]);

    const short = setUp();
    const grown: number[] = [];
    let u = 0;
    for (let i = 0; i < 6; i++) {
      // 50 us after the last: shorter than the max; once the window covers 50 us the vCPU is still polling.
      u += 50_000;
      interruptAt(short.sim, short.hv, short.v, u);
      grown.push(short.v.haltPollNs);
    }
    expect(grown.slice(0, 4)).toEqual([10_000, 20_000, 40_000, 80_000]);
    // Woken while polling (the window now covers the gap): the window is right and stays.
    expect(grown[4]).toBe(80_000);
    expect(grown[5]).toBe(80_000);
  });

  it('shrinks the window after a block longer than the max: to 0 with shrink 0, divided with shrink 2', () => {
    for (const [shrink, expected] of [
      [0, 0],
      [2, 40_000],
    ] as const) {
      const { sim, hv, v } = setUp({ haltPoll: { ...DEFAULT_HYPERVISOR_CONFIG.haltPoll, shrink } });
      let t = 0;
      for (let i = 0; i < 4; i++) interruptAt(sim, hv, v, (t += 50_000)); // window 10 -> 80 us
      expect(v.haltPollNs).toBe(80_000);
      interruptAt(sim, hv, v, (t += 2_000_000)); // blocked for ~2 ms
      expect(v.haltPollNs).toBe(expected);
    }
  });

  it('a polling vCPU notices the interrupt on its own pCPU; a blocked one waits for the host to wake its thread', () => {
    const enteredAfter = (gapNs: number): number => {
      const { sim, hv, v, entries } = setUp();
      let t = 0;
      for (let i = 0; i < 4; i++) interruptAt(sim, hv, v, (t += 50_000)); // window 80 us
      t += gapNs;
      interruptAt(sim, hv, v, t);
      sim.run({ until: t + 100_000 });
      return entries.find((e) => e >= t)! - t;
    };
    const costs = resolveCosts(KVM_SKYLAKE_2018);
    // Within the window: wire (self: 0) + haltPollNotice, then injection.
    expect(enteredAfter(20_000)).toBe(costs.haltPollNotice + costs.injection);
    // After the window: blocked, so the host wakes the thread (hostWakeLatency) before injection.
    expect(enteredAfter(150_000)).toBe(costs.hostWakeLatency + costs.injection);
  });

  it('a poller leaves its pCPU when another thread becomes runnable there (fair policies), not under fifo', () => {
    const pollerYields = (config: Partial<HypervisorConfig>): boolean => {
      const sim = new Simulation();
      const topology = new HostTopology({ sockets: 1, coresPerSocket: 1, threadsPerCore: 1, ghz: 2.5 });
      const hv = new Hypervisor(sim, new EventSink(), topology, resolveCosts(KVM_SKYLAKE_2018), { ...DEFAULT_HYPERVISOR_CONFIG, ...config });
      const a = hv.addVm({ name: 'a', vcpus: 1, placement: 'shared', apicMode: 'x2apic-physical', backend: 'none' }, noIpis).vcpu(0);
      const b = hv.addVm({ name: 'b', vcpus: 1, placement: 'shared', apicMode: 'x2apic-physical', backend: 'none' }, noIpis).vcpu(0);
      hv.start();
      let t = 0;
      // Teach a's window to grow while b sleeps: b has nothing to do and halts too.
      for (let i = 0; i < 4; i++) interruptAt(sim, hv, a, (t += 50_000));
      sim.run({ until: (t += 20_000) }); // a handled it and halted again, within its 80 us window
      if (!a.polling) throw new Error('setup: a should be polling');
      // b is woken while a polls on the only pCPU.
      hv.deliver(null, b, VECTOR, hv.newIpiId());
      return !a.polling && hv.runners[0]!.current !== a;
    };
    expect(pollerYields({})).toBe(true);
    expect(pollerYields({ hostScheduler: FIFO_POLICY, migrate: false })).toBe(false);
  });
});
