import { assertDeliveredExactlyOnce, assertDeterministic, assertTimeConserved, assertTlbCoherence, runIpiScenario } from '@ipilab/testing';
import { NativeBackend } from './index';

describe('native backend (bare metal)', () => {
  it('delivers every IPI to every target exactly once, never before it was sent (all APIC modes, on bare metal)', () => {
    assertDeliveredExactlyOnce((hv, vm) => new NativeBackend(hv, vm), { bareMetal: true });
  });

  it('keeps TLBs coherent on bare metal (sync, invlpgb, batched; SMP and AMP; CoW, remaps, huge splits, context switches)', () => {
    assertTlbCoherence((hv, vm) => new NativeBackend(hv, vm), { bareMetal: true });
  });

  it('conserves time: each vCPU\'s ledger adds up to the run and agrees with its state clock', () => {
    assertTimeConserved((hv, vm) => new NativeBackend(hv, vm), { bareMetal: true });
  });

  it('is deterministic: one scenario run twice gives the same events', () => {
    assertDeterministic((hv, vm) => new NativeBackend(hv, vm), { bareMetal: true });
  });

  it('never exits: a bare-metal run publishes no vm-exit event', () => {
    const r = runIpiScenario(
      {
        vcpus: 6,
        apicMode: 'x2apic-cluster',
        placement: 'pinned',
        sharedPcpus: 1,
        postedInterrupts: false,
        boost: false,
        hostScheduler: 'eevdf',
        migrate: true,
        bareMetal: true,
        senders: [{ sender: 0, ops: [{ gap: 10_000, targets: [1, 2, 3, 4, 5] }, { gap: 50_000, targets: [3] }] }],
      },
      (hv, vm) => new NativeBackend(hv, vm),
    );
    expect(r.finishedSenders).toBe(1);
    expect(r.events.filter((e) => e.type === 'vm-exit')).toEqual([]);
    expect(r.events.filter((e) => e.type === 'ipi-delivered').every((e) => e.type === 'ipi-delivered' && e.via === 'native')).toBe(true);
  });

  it('is refused under kvm, naming the field', () => {
    expect(() =>
      runIpiScenario(
        { vcpus: 2, apicMode: 'x2apic-physical', placement: 'pinned', sharedPcpus: 1, postedInterrupts: true, boost: false, hostScheduler: 'eevdf', migrate: false, senders: [{ sender: 0, ops: [{ gap: 0, targets: [1] }] }] },
        (hv, vm) => new NativeBackend(hv, vm),
      ),
    ).toThrow(/vms\[0\]\.backend: expected a bare-metal host \(hypervisor\.mode: bare-metal/);
  });
});
