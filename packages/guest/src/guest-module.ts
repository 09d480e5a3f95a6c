import { ContainerModule } from 'inversify';
import { bindPolicyRegistry, contributePolicy } from '@ipilab/di';
import { BatchedShootdown, BroadcastInvalidation, shootdownStrategies, SynchronousShootdown } from './mm/shootdown-strategy';
import { guestBalancers, NO_BALANCER, PUSH_BALANCER } from './sched/guest-load-balancer';
import { CFS_GUEST_POLICY, EEVDF_GUEST_POLICY, guestSchedulers } from './sched/guest-scheduler-policy';
import { WORKLOAD_PARAMS, WORKLOADS } from './workloads/registry';
import { workloadKinds } from './workloads/workload-policy';

/**
 * The guest package's module: the registries of shootdown strategies, guest scheduler policies,
 * guest load balancers and workload kinds, with their built-ins, each contributed as a plugin's would be. Guest kernels
 * and memory managers are built per VM by the composition root (they need the VM).
 */
export const guestModule = new ContainerModule((options) => {
  bindPolicyRegistry(options, shootdownStrategies);
  contributePolicy(options, shootdownStrategies, 'sync', new SynchronousShootdown());
  contributePolicy(options, shootdownStrategies, 'invlpgb', new BroadcastInvalidation());
  contributePolicy(options, shootdownStrategies, 'invlpgb-all', new BroadcastInvalidation('always'));
  contributePolicy(options, shootdownStrategies, 'batched', new BatchedShootdown());
  bindPolicyRegistry(options, guestSchedulers);
  for (const p of [EEVDF_GUEST_POLICY, CFS_GUEST_POLICY]) contributePolicy(options, guestSchedulers, p.name, p);
  bindPolicyRegistry(options, guestBalancers);
  for (const b of [PUSH_BALANCER, NO_BALANCER]) contributePolicy(options, guestBalancers, b.name, b);
  bindPolicyRegistry(options, workloadKinds);
  for (const [kind, create] of Object.entries(WORKLOADS)) contributePolicy(options, workloadKinds, kind, { params: WORKLOAD_PARAMS[kind]!, create });
});
