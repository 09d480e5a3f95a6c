import { ContainerModule } from 'inversify';
import { contributePolicy } from '@ipilab/di';
import { ipiBackends } from '@ipilab/hypervisor';
import { PostedBackend } from './posted-backend';

/** Contributes the `posted` IPI backend. */
export const ipiPostedModule = new ContainerModule((options) => {
  contributePolicy(options, ipiBackends, 'posted', (hv, vm) => new PostedBackend(hv, vm));
});
