import { InvalidParameterError } from '@ipilab/core';
import { icrWrites, type IcrWrite } from '@ipilab/host';
import type { BackendHost, BackendVm, IpiBackend, IpiRequest } from '@ipilab/hypervisor';
import type { Vcpu } from '@ipilab/vcpu';

const apicIdOf = (v: Vcpu): number => v.apicId;

/** One send in flight: its writes and the next one to issue (one object per send, none per write). */
interface NativeSend {
  readonly backend: NativeBackend;
  readonly req: IpiRequest;
  readonly writes: readonly IcrWrite<Vcpu>[];
  readonly done: () => void;
  next: number;
}

// The write's cost has been paid as the sender's own work: the write retires and its message leaves.
const writeRetired = (s: unknown): void => (s as NativeSend).backend.retire(s as NativeSend);

/**
 * IPIs on bare metal (`hypervisor.mode: bare-metal`): the sending CPU writes its local APIC's
 * interrupt command register itself and nothing traps. It pays `nativeIcrWrite` per register
 * write its APIC mode needs, the same grouping the trap backend turns into exits (host
 * `icrWrites`): one per destination in x2APIC physical mode (x2apic_phys.c), one per cluster of
 * 16 in cluster mode (x2apic_cluster.c), ICR2 then ICR per destination in xAPIC mode, one for an
 * all-but-self shorthand; a self-IPI is one write of the x2APIC SELF IPI register. Writes are
 * sequential guest work; when a write retires its destinations' APICs receive the vector after
 * the wire latency (Hypervisor.deliver, which on bare metal is the fabric and nothing else).
 * No PV TLB flush: natively there is no preempted vCPU to skip.
 */
export class NativeBackend implements IpiBackend {
  readonly name: string = 'native';

  constructor(
    private readonly hv: BackendHost,
    private readonly vm: BackendVm,
  ) {
    if (hv.features.mode !== 'bare-metal') {
      throw new InvalidParameterError(
        `vms[${vm.index}].backend`,
        'native',
        'a bare-metal host (hypervisor.mode: bare-metal, which selects it by itself); under kvm use trap, pv, posted or a plugin\'s backend',
      );
    }
  }

  /** Sends one IPI this way (see `IpiBackend.send` in @ipilab/hypervisor for the contract). */
  send(req: IpiRequest, done: () => void): void {
    const writes =
      req.kind === 'self'
        ? [{ destinations: [req.sender], writes: 1 as const, shorthand: true }]
        : icrWrites(this.vm.apicMode, req.targets, req.kind === 'broadcast' && this.vm.shorthand, apicIdOf);
    const s: NativeSend = { backend: this, req, writes, done, next: 0 };
    this.issue(s);
  }

  /** Issues the next write as the sender's work, or ends the send. */
  private issue(s: NativeSend): void {
    if (s.next === s.writes.length) {
      s.done();
      return;
    }
    s.req.sender.pushWork(this.hv.costs.nativeIcrWrite * s.writes[s.next]!.writes, writeRetired, s);
  }

  /** @internal The current write has retired: its destinations are interrupted, then the next write. */
  retire(s: NativeSend): void {
    const { sender, vector, id } = s.req;
    const dests = s.writes[s.next++]!.destinations;
    for (let i = 0; i < dests.length; i++) this.hv.deliver(sender, dests[i]!, vector, id);
    this.issue(s);
  }
}
