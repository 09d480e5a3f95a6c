import type { PolicyFamily } from '@ipilab/di';
import { CfsRunqueue, EevdfRunqueue, type FairRunqueue, type RunqueueContext } from '@ipilab/hypervisor';
import type { Task } from './task';

/**
 * The guest kernel's fair scheduling class (`vms[].scheduler.policy`): the contract every guest
 * policy — built-in or plugin — implements. The guest's Scheduler owns dispatch, wake-ups, the
 * push balancer and the IPIs; the policy owns each vCPU's run queue order, with the same
 * FairRunqueue contract as the host's policies (hypervisor sched/host-scheduler.ts), over tasks.
 */
export interface GuestSchedulerPolicy {
  readonly name: string;
  /** Whether it takes `vms[].scheduler.slice` (EEVDF's slice, in `ctx.sliceNs`); one that does not refuses it. */
  readonly takesSlice: boolean;
  /** One vCPU's run queue: `ctx.pcpu` is the vCPU's index, `ctx.nrCpus` the VM's vCPUs, `ctx.timeSliceNs` its effective slice. */
  createRunqueue(ctx: RunqueueContext): FairRunqueue<Task>;
}

/** EEVDF (Linux >= 6.6). */
export const EEVDF_GUEST_POLICY: GuestSchedulerPolicy = { name: 'eevdf', takesSlice: true, createRunqueue: (ctx) => new EevdfRunqueue<Task>(ctx) };
/** CFS (Linux <= 6.5): its period and granularities follow sysctl_sched_latency, so no slice. */
export const CFS_GUEST_POLICY: GuestSchedulerPolicy = { name: 'cfs', takesSlice: false, createRunqueue: (ctx) => new CfsRunqueue<Task>(ctx) };

/** Token of the guest-scheduler PolicyRegistry. */
export const GuestSchedulerRegistry: unique symbol = Symbol('GuestSchedulerRegistry');
/** Token under which modules contribute guest scheduler policies. */
export const GuestSchedulerContribution: unique symbol = Symbol('GuestSchedulerContribution');
/** The guest-scheduler family (`vms[].scheduler.policy`; default `eevdf`). */
export const guestSchedulers: PolicyFamily<GuestSchedulerPolicy> = {
  registry: GuestSchedulerRegistry,
  contribution: GuestSchedulerContribution,
  kind: 'guest scheduler policy',
  defaultName: 'eevdf',
};
