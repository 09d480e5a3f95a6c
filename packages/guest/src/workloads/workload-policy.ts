import type { OptionsSchema, PolicyFamily } from '@ipilab/di';
import type { Workload, WorkloadContext } from './workload';

/**
 * A workload kind (`vms[].workload`): the contract every workload — built-in or plugin —
 * implements. A scenario gives its parameters either beside the kind (`{ kind: ebizzy, chunks: 4 }`)
 * or as options (`{ name: ebizzy, options: { chunks: 4 } }`); either way `params` validates them
 * first (zod-compatible `safeParse`, see @ipilab/di policy-options.ts; make it strict so a
 * misspelt parameter is refused), then `create` builds one VM's workload with them (unparsed:
 * the keys as given) while the model is assembled. `create` may throw InvalidParameterError
 * with field `workload.<param>` for what depends on the VM (a vCPU index it lacks).
 */
export interface WorkloadPolicy {
  /** The parameters it takes (strict; zod-compatible). */
  readonly params: OptionsSchema;
  /** One VM's workload, with the parameters as given (already checked against `params`). */
  create(ctx: WorkloadContext, params: Record<string, unknown>): Workload;
}

/** Token of the workload-kind PolicyRegistry. */
export const WorkloadRegistry: unique symbol = Symbol('WorkloadRegistry');
/** Token under which modules contribute workload kinds. */
export const WorkloadContribution: unique symbol = Symbol('WorkloadContribution');
/** The workload-kind family (`vms[].workload`; no default: a VM names its workload). */
export const workloadKinds: PolicyFamily<WorkloadPolicy> = {
  registry: WorkloadRegistry,
  contribution: WorkloadContribution,
  kind: 'workload kind',
};
