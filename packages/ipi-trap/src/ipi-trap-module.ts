import { ContainerModule } from 'inversify';
import { contributePolicy } from '@ipilab/di';
import { ipiBackends } from '@ipilab/hypervisor';
import { TrapAndEmulateBackend } from './trap-and-emulate-backend';

/** Contributes the `trap` IPI backend. */
export const ipiTrapModule = new ContainerModule((options) => {
  contributePolicy(options, ipiBackends, 'trap', (hv, vm) => new TrapAndEmulateBackend(hv, vm));
});
