import { assertDeliveredExactlyOnce } from '@ipilab/testing';
import { PostedBackend } from './index';

describe('posted backend', () => {
  it('delivers every IPI to every target exactly once, never before it was sent (all APIC modes, pinned and overcommitted)', () => {
    assertDeliveredExactlyOnce((hv, vm) => new PostedBackend(hv, vm), { requiresPostedInterrupts: true });
  });
});
