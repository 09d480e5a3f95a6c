import { InvalidParameterError } from '@ipilab/core';
import type { Hypervisor, IpiBackend, IpiRequest, Vm } from '@ipilab/hypervisor';
import { TrapAndEmulateBackend } from '@ipilab/ipi-trap';

/**
 * Hardware IPI virtualization (Intel IPIv, AMD AVIC): a unicast, physical-destination send is
 * done by the processor with no exit — it posts the vector and notifies a running target.
 * When the target is not running the sender takes an incomplete-IPI exit so the host can wake
 * it (AVIC's AVIC_INCOMPLETE_IPI). Multicast, broadcast and logical (cluster) destinations are
 * not accelerated: they take the emulated path.
 */
export class PostedBackend implements IpiBackend {
  readonly name: string = 'posted';
  private readonly emulated: TrapAndEmulateBackend;

  constructor(
    private readonly hv: Hypervisor,
    private readonly vm: Vm,
  ) {
    if (!hv.config.postedInterrupts) {
      throw new InvalidParameterError(
        `vms[${vm.index}].backend`,
        'posted',
        'a hypervisor with postedInterrupts enabled (IPI virtualization needs APICv/AVIC), or the trap or pv backend',
      );
    }
    this.emulated = new TrapAndEmulateBackend(hv, vm);
  }

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
