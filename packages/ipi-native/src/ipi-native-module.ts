import { ContainerModule } from 'inversify';
import { contributePolicy } from '@ipilab/di';
import { ipiBackends } from '@ipilab/hypervisor';
import { NativeBackend } from './native-backend';

/** Contributes the `native` IPI backend (the one a bare-metal run uses). */
export const ipiNativeModule = new ContainerModule((options) => {
  contributePolicy(options, ipiBackends, 'native', (hv, vm) => new NativeBackend(hv, vm));
});
