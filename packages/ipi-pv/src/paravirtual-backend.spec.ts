import { assertDeliveredExactlyOnce } from '@ipilab/testing';
import { ParavirtualBackend } from './index';

describe('pv backend', () => {
  it('delivers every IPI to every target exactly once, never before it was sent (all APIC modes, pinned and overcommitted)', () => {
    assertDeliveredExactlyOnce((hv, vm) => new ParavirtualBackend(hv, vm));
  });
});
