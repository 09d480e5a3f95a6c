import type { PolicyFamily } from '@ipilab/di';
import type { HostTopology } from '@ipilab/host';

/** What a placement policy is told of one VM being placed. */
export interface PlacementRequest {
  /** The VM's key for messages (`vms[2]`): a refusal throws InvalidParameterError(`${field}.vcpus`, ...) or `.pcpus`. */
  readonly field: string;
  readonly vcpus: number;
  /** The pCPUs the VM asked for (`vms[].pcpus`, each a pCPU of the host), or undefined. */
  readonly pcpus: readonly number[] | undefined;
  readonly topology: HostTopology;
  /** Whether an exclusive (pinned) VM placed earlier holds `pcpu`. */
  isTaken(pcpu: number): boolean;
}

/**
 * Where a VM's vCPU threads may run (`vms[].placement`): the contract every placement — built-in
 * or plugin — implements. Called once per VM while the model is assembled.
 */
export interface PlacementPolicy {
  readonly name: string;
  /**
   * True: each vCPU gets one pCPU of its own (`place` returns one pCPU per vCPU, none taken),
   * which no later VM may use; its threads never migrate. False: the vCPUs share their sets.
   */
  readonly exclusive: boolean;
  /** Each vCPU's allowed pCPUs (its affinity mask, non-empty); vCPU i starts on the first of its set. */
  place(req: PlacementRequest): (readonly number[])[];
}

/** Token of the vCPU-placement PolicyRegistry. */
export const PlacementRegistry: unique symbol = Symbol('PlacementRegistry');
/** Token under which modules contribute placement policies. */
export const PlacementContribution: unique symbol = Symbol('PlacementContribution');
/** The vCPU-placement family (`vms[].placement`; default `pinned`). */
export const placementPolicies: PolicyFamily<PlacementPolicy> = {
  registry: PlacementRegistry,
  contribution: PlacementContribution,
  kind: 'vCPU placement',
  defaultName: 'pinned',
};
