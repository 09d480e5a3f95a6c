import { InvalidParameterError } from '@ipilab/core';
import type { Vcpu } from '@ipilab/vcpu';
import { ROUND_ROBIN, addVm, exitsBy, rig, vmSpec } from '../test/harness';

/** One cross-call from `sender` to `targets` once the VM runs; returns when it finished. */
function oneCall(r: ReturnType<typeof rig>, kernel: { crossCall: (s: Vcpu, t: readonly Vcpu[], d: () => void) => void }, sender: Vcpu, targets: Vcpu[]): { doneAt: number } {
  const out = { doneAt: -1 };
  sender.pushWork(1_000, () => kernel.crossCall(sender, targets, () => (out.doneAt = r.sim.now)));
  return out;
}

describe('exit counts follow the APIC mode', () => {
  const broadcast = (backend: 'trap' | 'pv' | 'posted', mode: 'xapic' | 'x2apic-physical' | 'x2apic-cluster', vcpus: number, extra = {}, config = {}) => {
    const r = rig({ host: 'skylake-2s-80t', config });
    const { vm, kernel } = addVm(r, backend, vmSpec(vcpus, mode, extra));
    const call = oneCall(r, kernel, vm.vcpu(0), vm.vcpus.slice(1));
    r.hv.start();
    r.sim.run({ until: 10_000_000 });
    expect(call.doneAt).toBeGreaterThan(0);
    return exitsBy(r.events, 0);
  };

  it('79 targets in x2APIC physical: 79 exits under trap, 1 hypercall under pv', () => {
    expect(broadcast('trap', 'x2apic-physical', 80)).toEqual({ 'apic-write': 79 });
    expect(broadcast('pv', 'x2apic-physical', 80)).toEqual({ hypercall: 1 });
  });

  it('x2APIC cluster: one exit per cluster of 16 (IDs 1..79 span 5 clusters)', () => {
    expect(broadcast('trap', 'x2apic-cluster', 80)).toEqual({ 'apic-write': 5 });
  });

  it('xAPIC: ICR2 and ICR both trap without APICv; only ICR with it', () => {
    expect(broadcast('trap', 'xapic', 20, {}, { postedInterrupts: false })['apic-write']).toBe(2 * 19 + 0);
    expect(broadcast('trap', 'xapic', 20)).toEqual({ 'apic-write': 19 });
  });

  it('an all-but-self shorthand is one exit in any mode', () => {
    expect(broadcast('trap', 'x2apic-physical', 80, { shorthand: true })).toEqual({ 'apic-write': 1 });
  });

  it('pv needs one hypercall per 128-APIC-ID window', () => {
    const r = rig({ host: 'epyc-7642-2s' });
    const { vm, kernel } = addVm(r, 'pv', vmSpec(192, 'x2apic-physical'));
    oneCall(r, kernel, vm.vcpu(0), vm.vcpus.slice(1));
    r.hv.start();
    r.sim.run({ until: 10_000_000 });
    // IDs 1..191: windows [1, 128] and [129, 191].
    expect(exitsBy(r.events, 0)).toEqual({ hypercall: 2 });
    expect(r.events.filter((e) => e.type === 'hypercall').map((e) => (e.type === 'hypercall' ? e.targets : 0))).toEqual([128, 63]);
  });

  it('posted (avic): a unicast to a running target takes no exit anywhere; to a blocked one, one incomplete-IPI exit', () => {
    for (const busy of [true, false]) {
      const r = rig({ config: { postedFlavour: 'avic' } });
      const { vm, kernel } = addVm(r, 'posted', vmSpec(4, 'x2apic-physical'));
      if (busy) vm.vcpu(1).pushWork(1_000_000, () => undefined);
      oneCall(r, kernel, vm.vcpu(0), [vm.vcpu(1)]);
      r.hv.start();
      r.sim.run({ until: 500_000 });
      const senderExits = exitsBy(r.events, 0);
      const targetExits = exitsBy(r.events, 1);
      if (busy) {
        expect(senderExits).toEqual({});
        expect(targetExits).toEqual({});
      } else {
        expect(senderExits).toEqual({ 'incomplete-ipi': 1 });
      }
    }
  });

  it('posted (avic): a target in halt polling still has IsRunning set, so the sender does not exit and the poll loop takes the IPI', () => {
    const r = rig({ config: { postedFlavour: 'avic' } });
    const { vm, kernel } = addVm(r, 'posted', vmSpec(4, 'x2apic-physical'));
    // Short wake-ups teach vCPU 1 a poll window, then one more IPI arrives while it polls.
    const at = [50_000, 100_000, 150_000, 200_000, 250_000];
    vm.vcpu(0).pushWork(10_000_000, () => undefined); // the sender stays busy between sends
    for (const t of at) r.sim.schedule(t, () => kernel.crossCall(vm.vcpu(0), [vm.vcpu(1)], () => undefined));
    r.hv.start();
    r.sim.run({ until: 240_000 });
    expect(vm.vcpu(1).polling).toBe(true);
    const before = exitsBy(r.events, 0)['incomplete-ipi'] ?? 0;
    r.sim.run({ until: 400_000 });
    expect(exitsBy(r.events, 0)['incomplete-ipi'] ?? 0).toBe(before);
    expect(r.events.filter((e) => e.type === 'ipi-handled' && e.to.vcpu === 1)).toHaveLength(at.length);
  });

  it('posted (ipiv): the sender never exits, whether the target runs, is blocked or is preempted; each handles the IPI once', () => {
    const r = rig({ config: { ...ROUND_ROBIN, timeSliceNs: 1_000_000, postedFlavour: 'ipiv' } });
    // vCPU 1 idles (blocked in HLT); vCPUs 2 and 3 share pCPU 2 and are busy, so one is preempted.
    const { vm, kernel } = addVm(r, 'posted', vmSpec(4, 'x2apic-physical', { placement: 'shared', pcpus: [0, 1, 2] }));
    vm.vcpu(0).pushWork(10_000_000, () => undefined); // the sender stays busy
    vm.vcpu(2).pushWork(5_000_000, () => undefined);
    vm.vcpu(3).pushWork(5_000_000, () => undefined);
    const preempted: number[] = [];
    r.sim.schedule(500_000, () => {
      preempted.push(...vm.vcpus.filter((v) => v.state === 'preempted').map((v) => v.index));
      for (const t of [1, 2, 3]) kernel.crossCall(vm.vcpu(0), [vm.vcpu(t)], () => undefined);
    });
    r.hv.start();
    r.sim.run({ until: 10_000_000 });
    expect(preempted).toHaveLength(1);
    expect(exitsBy(r.events, 0)).toEqual({});
    const delivered = r.events.filter((e) => e.type === 'ipi-delivered');
    expect(delivered.filter((e) => e.type === 'ipi-delivered' && e.to.vcpu === preempted[0]).map((e) => e.type === 'ipi-delivered' && e.via)).toEqual(['pending']);
    for (const t of [1, 2, 3]) expect(r.events.filter((e) => e.type === 'ipi-handled' && e.to.vcpu === t)).toHaveLength(1);
    // The same sends under avic: the blocked and the preempted target each cost the sender an exit.
    const a = rig({ config: { ...ROUND_ROBIN, timeSliceNs: 1_000_000, postedFlavour: 'avic' } });
    const b = addVm(a, 'posted', vmSpec(4, 'x2apic-physical', { placement: 'shared', pcpus: [0, 1, 2] }));
    b.vm.vcpu(0).pushWork(10_000_000, () => undefined);
    b.vm.vcpu(2).pushWork(5_000_000, () => undefined);
    b.vm.vcpu(3).pushWork(5_000_000, () => undefined);
    a.sim.schedule(500_000, () => {
      for (const t of [1, 2, 3]) b.kernel.crossCall(b.vm.vcpu(0), [b.vm.vcpu(t)], () => undefined);
    });
    a.hv.start();
    a.sim.run({ until: 10_000_000 });
    expect(exitsBy(a.events, 0)).toEqual({ 'incomplete-ipi': 2 });
  });

  it('pv unicast uses the emulated ICR write (Linux keeps send_IPI native)', () => {
    const r = rig();
    const { vm, kernel } = addVm(r, 'pv', vmSpec(4, 'x2apic-physical'));
    oneCall(r, kernel, vm.vcpu(0), [vm.vcpu(2)]);
    r.hv.start();
    r.sim.run({ until: 500_000 });
    expect(exitsBy(r.events, 0)).toEqual({ 'apic-write': 1 });
  });
});

describe('delivery semantics', () => {
  it('a halted target is woken and handles the IPI after it was sent', () => {
    const r = rig();
    const { vm, kernel } = addVm(r, 'trap', vmSpec(4, 'x2apic-physical'));
    const call = oneCall(r, kernel, vm.vcpu(0), [vm.vcpu(3)]);
    r.hv.start();
    r.sim.run({ until: 1_000_000 });
    const sent = r.events.find((e) => e.type === 'ipi-sent')!;
    const handled = r.events.find((e) => e.type === 'ipi-handled')!;
    // Out of HLT into the host's entry path, then into the guest.
    const woke = r.events.find((e) => e.type === 'vcpu-state' && e.vcpu.vcpu === 3 && e.from === 'halted' && e.to === 'exited' && e.t > sent.t);
    expect(woke).toBeDefined();
    const entered = r.events.find((e) => e.type === 'vcpu-state' && e.vcpu.vcpu === 3 && e.from === 'exited' && e.to === 'in-guest' && e.t >= woke!.t);
    expect(entered).toBeDefined();
    expect(handled.t).toBeGreaterThan(entered!.t);
    expect(call.doneAt).toBeGreaterThan(handled.t);
  });

  it('a running target without posted interrupts is kicked: one external-interrupt exit', () => {
    const r = rig({ config: { postedInterrupts: false } });
    const { vm, kernel } = addVm(r, 'trap', vmSpec(4, 'x2apic-physical'));
    vm.vcpu(1).pushWork(2_000_000, () => undefined);
    oneCall(r, kernel, vm.vcpu(0), [vm.vcpu(1)]);
    r.hv.start();
    r.sim.run({ until: 1_000_000 });
    // The kick forces an exit; the handler's EOI traps too (no APICv).
    expect(exitsBy(r.events, 1)).toEqual({ 'external-interrupt': 1, 'apic-write': 1 });
    expect(r.events.some((e) => e.type === 'ipi-handled' && e.to.vcpu === 1)).toBe(true);
  });

  it('a preempted target keeps the IPI pending and handles it only when it next runs', () => {
    // vCPUs 0 and 2 share pCPU 0, vCPU 1 has pCPU 1; both sharers are busy, so one is always preempted.
    const r = rig({ config: { ...ROUND_ROBIN, timeSliceNs: 1_000_000 } });
    const { vm, kernel } = addVm(r, 'trap', vmSpec(3, 'x2apic-physical', { placement: 'shared', pcpus: [0, 1] }));
    vm.vcpu(0).pushWork(5_000_000, () => undefined);
    vm.vcpu(2).pushWork(5_000_000, () => undefined);
    const call = { doneAt: -1 };
    vm.vcpu(1).pushWork(100_000, () => kernel.crossCall(vm.vcpu(1), [vm.vcpu(2)], () => (call.doneAt = r.sim.now)));
    r.hv.start();
    r.sim.run({ until: 20_000_000 });
    const sent = r.events.find((e) => e.type === 'ipi-sent')!;
    const delivered = r.events.find((e) => e.type === 'ipi-delivered' && e.to.vcpu === 2)!;
    expect(delivered.type === 'ipi-delivered' && delivered.via).toBe('pending');
    const nextRun = r.events.find((e) => e.type === 'vcpu-state' && e.vcpu.vcpu === 2 && e.to === 'in-guest' && e.t >= sent.t)!;
    const handled = r.events.find((e) => e.type === 'ipi-handled')!;
    expect(handled.t).toBeGreaterThanOrEqual(nextRun.t);
    // It waited for vCPU 0's slice to end: about a millisecond.
    expect(handled.t - sent.t).toBeGreaterThan(500_000);
    expect(call.doneAt).toBeGreaterThan(handled.t);
  });

  it('boostIpiTargets does not reorder the host run queue (KVM marks the woken vCPU ready for directed yield): without PLE a preempted IPI target waits its turn either way', () => {
    const latency = (boostIpiTargets: boolean): number => {
      const r = rig({ config: { ...ROUND_ROBIN, timeSliceNs: 1_000_000, boostIpiTargets } });
      const { vm, kernel } = addVm(r, 'trap', vmSpec(3, 'x2apic-physical', { placement: 'shared', pcpus: [0, 1] }));
      vm.vcpu(0).pushWork(5_000_000, () => undefined);
      vm.vcpu(2).pushWork(5_000_000, () => undefined);
      vm.vcpu(1).pushWork(100_000, () => kernel.crossCall(vm.vcpu(1), [vm.vcpu(2)], () => undefined));
      r.hv.start();
      r.sim.run({ until: 20_000_000 });
      const h = r.events.find((e) => e.type === 'ipi-handled');
      return h?.type === 'ipi-handled' ? h.latency : Infinity;
    };
    expect(latency(true)).toBeGreaterThan(500_000);
    expect(latency(true)).toBe(latency(false));
  });

  it.each(['trap', 'pv', 'posted'] as const)('PV sched yield under %s (a guest feature, whatever the backend): after a multicast the sender yields to a preempted target, which then runs at once', (backend) => {
    const run = (schedYield: boolean): { yields: number; latency: number } => {
      const r = rig({ config: { ...ROUND_ROBIN, timeSliceNs: 1_000_000 } });
      // vCPUs 0 and 3 start on pCPU 0 (both busy: 3 waits behind 0), 1 and 2 on pCPUs 1 and 2.
      const { vm, kernel } = addVm(r, backend, vmSpec(4, 'x2apic-physical', { placement: 'shared', pcpus: [0, 1, 2], pv: { schedYield } }));
      vm.vcpu(0).pushWork(5_000_000, () => undefined);
      vm.vcpu(3).pushWork(5_000_000, () => undefined);
      // A multicast (call-function) IPI from vCPU 1 to vCPUs 3 and 2.
      vm.vcpu(1).pushWork(100_000, () => kernel.crossCall(vm.vcpu(1), [vm.vcpu(3), vm.vcpu(2)], () => undefined));
      r.hv.start();
      r.sim.run({ until: 20_000_000 });
      const yields = r.events.filter((e) => e.type === 'hypercall' && e.name === 'KVM_HC_SCHED_YIELD').length;
      const handled = r.events.filter((e) => e.type === 'ipi-handled' && e.to.vcpu === 3);
      return { yields, latency: handled[0]?.type === 'ipi-handled' ? handled[0].latency : Infinity };
    };
    const on = run(true);
    const off = run(false);
    expect(on.yields).toBe(1);
    expect(off.yields).toBe(0);
    // Without the yield the preempted target waits for the other vCPU's slice (~1 ms).
    expect(off.latency).toBeGreaterThan(500_000);
    expect(on.latency).toBeLessThan(100_000);
  });

  it.each(['trap', 'pv', 'posted'] as const)('PV TLB flush under %s (a guest feature, whatever the backend): a preempted target gets flush-on-entry instead of an IPI, the sender does not wait for it, and the host flushes it on its next entry', (backend) => {
    const r = rig({ config: { ...ROUND_ROBIN, timeSliceNs: 1_000_000 } });
    const { vm, kernel } = addVm(r, backend, vmSpec(4, 'x2apic-physical', { placement: 'shared', pcpus: [0, 1, 2] }));
    // vCPU 3 shares pCPU 0 with vCPU 0; both busy, so at the flush one of them is preempted.
    vm.vcpu(0).pushWork(5_000_000, () => undefined);
    vm.vcpu(3).pushWork(5_000_000, () => undefined);
    const flushedAt: number[] = [];
    kernel.onHostTlbFlush((v) => flushedAt.push(v.index * 1e12 + r.sim.now));
    let ipied: readonly Vcpu[] = [];
    let preemptedAtSend: Vcpu | undefined;
    let doneAt = -1;
    vm.vcpu(1).pushWork(100_000, () => {
      preemptedAtSend = vm.vcpus.find((v) => v.state === 'preempted');
      ipied = kernel.deferPreempted(vm.vcpu(1), [vm.vcpu(0), vm.vcpu(2), vm.vcpu(3)]);
      kernel.crossCall(vm.vcpu(1), ipied, () => (doneAt = r.sim.now));
    });
    r.hv.start();
    r.sim.run({ until: 20_000_000 });
    expect(preemptedAtSend).toBeDefined();
    expect(ipied).not.toContain(preemptedAtSend);
    expect(ipied.length).toBe(2);
    expect(doneAt).toBeGreaterThan(0);
    expect(doneAt).toBeLessThan(200_000); // did not wait ~1 ms for the preempted vCPU
    const flush = flushedAt.find((x) => Math.floor(x / 1e12) === preemptedAtSend!.index);
    expect(flush).toBeDefined();
    expect(flush! % 1e12).toBeGreaterThan(doneAt);
    expect(r.hv.hasFlushOnEntry(preemptedAtSend!)).toBe(false);
  });

  it('the same run twice gives the identical event trace', () => {
    const trace = (): string => {
      const r = rig();
      const { vm, kernel } = addVm(r, 'pv', vmSpec(12, 'x2apic-cluster', { placement: 'shared', pcpus: [0, 1, 2, 3] }));
      for (let i = 0; i < 3; i++) oneCall(r, kernel, vm.vcpu(i), vm.vcpus.filter((v) => v.index !== i));
      r.hv.start();
      r.sim.run({ until: 50_000_000 });
      return JSON.stringify(r.events);
    };
    const a = trace();
    expect(a.length).toBeGreaterThan(1_000);
    expect(trace()).toBe(a);
  });
});

describe('shared hypervisor service', () => {
  it("one VM's exit storm makes another VM's exits queue when capacity is limited, and not when it is unlimited", () => {
    const queuedFor = (serviceCapacity: number): { victim: number; culprit: number } => {
      const r = rig({ config: { serviceCapacity } });
      const a = addVm(r, 'trap', vmSpec(6, 'x2apic-physical', { name: 'noisy' }));
      const b = addVm(r, 'trap', vmSpec(2, 'x2apic-physical', { name: 'victim' }));
      const storm = (i: number): void => {
        if (i === 20) return;
        a.kernel.crossCall(a.vm.vcpu(0), a.vm.vcpus.slice(1), () => storm(i + 1));
      };
      a.vm.vcpu(0).pushWork(0, () => storm(0));
      a.vm.vcpu(1).pushWork(0, () => a.kernel.crossCall(a.vm.vcpu(1), [a.vm.vcpu(2), a.vm.vcpu(3)], () => undefined));
      b.vm.vcpu(0).pushWork(5_000, () => b.kernel.crossCall(b.vm.vcpu(0), [b.vm.vcpu(1)], () => undefined));
      r.hv.start();
      r.sim.run({ until: 10_000_000 });
      let victim = 0;
      let culprit = 0;
      for (const e of r.events) if (e.type === 'service-queued') e.vcpu.vm === 1 ? (victim += e.waited) : (culprit += e.waited);
      return { victim, culprit };
    };
    expect(queuedFor(1).victim).toBeGreaterThan(0);
    expect(queuedFor(Infinity)).toEqual({ victim: 0, culprit: 0 });
  });
});

describe('halt polling (KVM adaptive window)', () => {
  it('grows from 0 to 10 us and doubles after short blocks, and resets to 0 after a block longer than the maximum', () => {
    const r = rig();
    const { vm, kernel } = addVm(r, 'trap', vmSpec(2, 'x2apic-physical'));
    const target = vm.vcpu(1);
    const windows: number[] = [];
    const gaps = [50_000, 50_000, 50_000, 50_000, 500_000, 50_000];
    const step = (i: number): void => {
      windows.push(target.haltPollNs);
      if (i === gaps.length) return;
      vm.vcpu(0).pushWork(gaps[i]!, () => kernel.crossCall(vm.vcpu(0), [target], () => step(i + 1)));
    };
    vm.vcpu(0).pushWork(0, () => step(0));
    r.hv.start();
    r.sim.run({ until: 5_000_000 });
    expect(windows).toEqual([0, 10_000, 20_000, 40_000, 80_000, 0, 10_000]);
  });
});

describe('bad configuration names the field', () => {
  const cases: [string, () => unknown, string][] = [
    ['zero vCPUs', () => addVm(rig(), 'trap', vmSpec(0, 'x2apic-physical')), 'vms[0].vcpus: expected a positive integer, got 0'],
    ['more pinned vCPUs than pCPUs', () => addVm(rig(), 'trap', vmSpec(17, 'x2apic-physical')), 'vms[0].vcpus: expected at most 16 pinned vCPUs: only 16 pCPUs are free for pinning, got 17'],
    ['an unknown APIC mode', () => addVm(rig(), 'trap', vmSpec(2, 'x3apic' as never)), 'vms[0].apicMode: expected one of "xapic", "x2apic-physical", "x2apic-cluster", got "x3apic"'],
    ['APIC IDs beyond the mode', () => addVm(rig({ host: 'epyc-7642-2s' }), 'trap', vmSpec(300, 'xapic', { placement: 'shared' })), 'vms[0].vcpus: expected at most 255 vCPUs: APIC IDs 0..299 exceed the xapic range, got 300'],
    ['a pCPU that does not exist', () => addVm(rig(), 'trap', vmSpec(2, 'xapic', { placement: 'shared', pcpus: [0, 99] })), 'vms[0].pcpus[1]: expected a pCPU number in [0, 15], got 99'],
    ['an unknown placement', () => addVm(rig(), 'trap', vmSpec(2, 'xapic', { placement: 'floating' as never })), 'vms[0].placement: expected "pinned" or "shared", got "floating"'],
    ['posted without posted interrupts', () => addVm(rig({ config: { postedInterrupts: false } }), 'posted', vmSpec(2, 'xapic')), 'vms[0].backend: expected a hypervisor with postedInterrupts enabled'],
    ['no service capacity', () => rig({ config: { serviceCapacity: 0 } }), 'hypervisor.serviceCapacity: expected a number of servers >= 1 (Infinity for none), got 0'],
    ['a non-integer time slice', () => rig({ config: { timeSliceNs: 1.5 } }), 'hypervisor.timeSliceNs: expected a positive integer number of ns, got 1.5'],
  ];
  it.each(cases)('%s', (_n, act, text) => {
    expect(act).toThrow(InvalidParameterError);
    expect(act).toThrow(text);
  });

  it('a second VM cannot pin pCPUs the first one holds', () => {
    const r = rig();
    addVm(r, 'trap', vmSpec(10, 'x2apic-physical'));
    expect(() => addVm(r, 'trap', vmSpec(8, 'x2apic-physical'))).toThrow('vms[1].vcpus: expected at most 6 pinned vCPUs: only 6 pCPUs are free for pinning, got 8');
  });
});
