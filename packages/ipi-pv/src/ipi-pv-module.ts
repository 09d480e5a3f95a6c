import { ContainerModule } from 'inversify';
import { contributePolicy } from '@ipilab/di';
import { ipiBackends } from '@ipilab/hypervisor';
import { ParavirtualBackend } from './paravirtual-backend';

/** Contributes the `pv` IPI backend. */
export const ipiPvModule = new ContainerModule((options) => {
  contributePolicy(options, ipiBackends, 'pv', (hv, vm) => new ParavirtualBackend(hv, vm));
});
