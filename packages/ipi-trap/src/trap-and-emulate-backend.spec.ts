import { assertDeliveredExactlyOnce } from '@ipilab/testing';
import { TrapAndEmulateBackend } from './index';

describe('trap backend', () => {
  it('delivers every IPI to every target exactly once, never before it was sent (all APIC modes, pinned and overcommitted)', () => {
    assertDeliveredExactlyOnce((hv, vm) => new TrapAndEmulateBackend(hv, vm));
  });
});
