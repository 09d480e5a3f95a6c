import { assertDeliveredExactlyOnce, assertDeterministic, assertTimeConserved, assertTlbCoherence } from '@ipilab/testing';
import { ParavirtualBackend } from './index';

describe('pv backend', () => {
  it('delivers every IPI to every target exactly once, never before it was sent (all APIC modes, pinned and overcommitted)', () => {
    assertDeliveredExactlyOnce((hv, vm) => new ParavirtualBackend(hv, vm));
  });

  it('keeps TLBs coherent: after a shootdown completes no vCPU uses a stale translation, and none is lost (sync, invlpgb, batched; SMP and AMP; CoW, remaps, huge splits, context switches, preemption)', () => {
    assertTlbCoherence((hv, vm) => new ParavirtualBackend(hv, vm));
  });

  it('conserves time: each vCPU\'s ledger adds up to the run and agrees with its state clock', () => {
    assertTimeConserved((hv, vm) => new ParavirtualBackend(hv, vm));
  });

  it('is deterministic: one scenario run twice gives the same events', () => {
    assertDeterministic((hv, vm) => new ParavirtualBackend(hv, vm));
  });
});
