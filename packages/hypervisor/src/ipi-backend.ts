import type { IpiKind } from '@ipilab/events';
import type { PolicyFamily } from '@ipilab/di';
import type { Vcpu } from '@ipilab/vcpu';
import type { BackendHost, BackendVm } from './contracts';

/** One IPI a guest kernel asks to send: a vector to a set of its own vCPUs. */
export interface IpiRequest {
  readonly sender: Vcpu;
  /**
   * Destination vCPUs of the sender's VM (never empty; may be only the sender for a self-IPI).
   * The guest reuses this list for later sends, as Linux reuses its per-CPU cpumask: read it
   * while sending (every built-in backend is done with it by `done`); copy it to keep it.
   */
  readonly targets: readonly Vcpu[];
  readonly vector: number;
  readonly kind: IpiKind;
  /** Id of this send in events (`ipi-sent` / `ipi-handled`). */
  readonly id: number;
}

/**
 * How a VM's IPIs get from the sending vCPU to the targets: the contract every backend —
 * built-in or plugin — implements. A backend charges the sender what its mechanism costs
 * (VM exits, hypercalls, nothing) and hands each target to the hypervisor's delivery path.
 * `done` is called when the sender's guest code may continue (the send instruction or
 * hypercall has retired); it is not a wait for the handlers.
 */
export interface IpiBackend {
  readonly name: string;
  /** Send one IPI: charge the sender what the mechanism costs, hand each target to the delivery path, and call `done` when the sender may continue. */
  send(req: IpiRequest, done: () => void): void;
}

/** Builds a backend for one VM. Backends are chosen per VM by name. */
/** Makes a VM's backend from what a backend may use: the host's side of sending (`BackendHost`) and its VM (`BackendVm`). */
export type IpiBackendFactory = (host: BackendHost, vm: BackendVm) => IpiBackend;

/** The DI token of the IPI-backend registry. */
export const IpiBackendRegistry: unique symbol = Symbol('IpiBackendRegistry');
/** The DI token a module binds an IPI-backend contribution to. */
export const IpiBackendContribution: unique symbol = Symbol('IpiBackendContribution');
/** The IPI-backend family (`hypervisor.backend`): contribute with `contributePolicy(options, ipiBackends, name, factory)`. */
export const ipiBackends: PolicyFamily<IpiBackendFactory> = {
  registry: IpiBackendRegistry,
  contribution: IpiBackendContribution,
  kind: 'IPI backend',
  defaultName: 'trap',
};
