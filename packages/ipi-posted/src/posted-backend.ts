import { InvalidParameterError } from '@ipilab/core';
import type { BackendHost, BackendVm, IpiBackend, IpiRequest } from '@ipilab/hypervisor';
import { TrapAndEmulateBackend } from '@ipilab/ipi-trap';

/**
 * Hardware IPI virtualization, by vendor (`hypervisor.postedFlavour`): a unicast,
 * physical-destination send is done by the processor, costing the sender `ipivSend` of guest
 * time and no exit, then
 * - `ipiv` (Intel): the vector is posted whatever the target is doing; a blocked target is woken
 *   through its descriptor's wake-up vector, a preempted one takes it at its next entry. The
 *   sender never exits.
 * - `avic` (AMD): delivered while the target's IsRunning bit is set (in guest mode, or in KVM's
 *   halt polling); otherwise the sender takes AVIC_INCOMPLETE_IPI and the host delivers and
 *   wakes the target.
 * Multicast, broadcast and logical (cluster) destinations are not accelerated (IPIv handles
 * physical unicasts only; this model treats AVIC alike): they take the emulated path.
 */
export class PostedBackend implements IpiBackend {
  readonly name: string = 'posted';
  private readonly emulated: TrapAndEmulateBackend;

  constructor(
    private readonly hv: BackendHost,
    private readonly vm: BackendVm,
  ) {
    if (!hv.features.postedInterrupts) {
      throw new InvalidParameterError(
        `vms[${vm.index}].backend`,
        'posted',
        'a hypervisor with postedInterrupts enabled (IPI virtualization needs APICv/AVIC), or the trap or pv backend',
      );
    }
    this.emulated = new TrapAndEmulateBackend(hv, vm);
  }

  /** Sends one IPI this way (see `IpiBackend.send` in @ipilab/hypervisor for the contract). */
  send(req: IpiRequest, done: () => void): void {
    const target = req.targets[0];
    const accelerated = req.kind === 'unicast' && this.vm.apicMode !== 'x2apic-cluster' && target !== undefined && target !== req.sender;
    if (!accelerated) {
      this.emulated.send(req, done);
      return;
    }
    const c = this.hv.costs;
    // The ICR write itself, executed by the processor without leaving the guest.
    req.sender.pushWork(c.ipivSend, () => {
      if (this.hv.features.postedFlavour === 'ipiv') {
        this.hv.ipivPost(req.sender, target, req.vector, req.id);
        done();
        return;
      }
      if (this.hv.hardwarePost(req.sender, target, req.vector, req.id)) {
        done();
        return;
      }
      this.hv.exit(
        req.sender,
        'incomplete-ipi',
        c.exitRoundTrip + c.incompleteIpiExit,
        (reenter) => this.hv.deliverAll(req.sender, [target], req.vector, req.id, reenter),
        done,
      );
    });
  }
}
