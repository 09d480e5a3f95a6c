import { ContainerModule } from 'inversify';
import { bindPolicyRegistry, contributePolicy } from '@ipilab/di';
import { BatchedShootdown, BroadcastInvalidation, shootdownStrategies, SynchronousShootdown } from './mm/shootdown-strategy';

/**
 * The guest package's module: the shootdown-strategy registry and its built-ins. Guest kernels
 * and memory managers are built per VM by the composition root (they need the VM).
 */
export const guestModule = new ContainerModule((options) => {
  bindPolicyRegistry(options, shootdownStrategies);
  contributePolicy(options, shootdownStrategies, 'sync', new SynchronousShootdown());
  contributePolicy(options, shootdownStrategies, 'invlpgb', new BroadcastInvalidation());
  contributePolicy(options, shootdownStrategies, 'invlpgb-all', new BroadcastInvalidation('always'));
  contributePolicy(options, shootdownStrategies, 'batched', new BatchedShootdown());
});
