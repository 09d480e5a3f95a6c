import { icrWrites, type IcrWrite } from '@ipilab/host';
import type { BackendHost, BackendVm, IpiBackend, IpiRequest } from '@ipilab/hypervisor';
import type { Vcpu } from '@ipilab/vcpu';

const apicIdOf = (v: Vcpu): number => v.apicId;

/**
 * Trap-and-emulate: every ICR write the guest makes is a VM exit. The number of writes follows
 * the guest's APIC mode (one per destination in x2APIC physical, one per cluster of 16 in
 * x2APIC cluster, ICR2 + ICR per destination in xAPIC; one for an all-but-self shorthand).
 * Each exit decodes the write, then the host delivers to that write's targets in turn.
 */
export class TrapAndEmulateBackend implements IpiBackend {
  readonly name: string = 'trap';

  constructor(
    protected readonly hv: BackendHost,
    protected readonly vm: BackendVm,
  ) {}

  /** Sends one IPI this way (see `IpiBackend.send` in @ipilab/hypervisor for the contract). */
  send(req: IpiRequest, done: () => void): void {
    if (req.kind === 'self') {
      this.hv.selfIpi(req.sender, req.vector, req.id, done);
      return;
    }
    const useShorthand = req.kind === 'broadcast' && this.vm.shorthand;
    const writes = icrWrites(this.vm.apicMode, req.targets, useShorthand, apicIdOf);
    this.trapWrites(req, writes, 0, done);
  }

  /** The writes, one after another: the guest issues the next only after the previous retires. */
  protected trapWrites(req: IpiRequest, writes: readonly IcrWrite<Vcpu>[], i: number, done: () => void): void {
    if (i === writes.length) {
      done();
      return;
    }
    const w = writes[i]!;
    const c = this.hv.costs;
    const emulate = c.exitRoundTrip + c.apicWriteEmulation;
    const next = (): void => this.trapWrites(req, writes, i + 1, done);
    const fire = (): void =>
      this.hv.exit(
        req.sender,
        'apic-write',
        emulate,
        (reenter) => this.hv.deliverAll(req.sender, w.destinations, req.vector, req.id, reenter),
        next,
      );
    // xAPIC: the ICR2 write traps too unless APIC-register virtualization (APICv) absorbs it.
    if (w.writes === 2 && !this.hv.features.postedInterrupts) {
      this.hv.exit(req.sender, 'apic-write', emulate, null, fire);
    } else {
      fire();
    }
  }
}
