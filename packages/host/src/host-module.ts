import { ContainerModule } from 'inversify';
import { bindPolicyRegistry, contributePolicy } from '@ipilab/di';
import { hostPresets } from './host-preset';
import { HOST_PRESETS } from './topology';

/** The host package's module: the host-preset registry and the built-in presets, contributed as a plugin's would be. */
export const hostModule = new ContainerModule((options) => {
  bindPolicyRegistry(options, hostPresets);
  for (const [name, preset] of Object.entries(HOST_PRESETS)) contributePolicy(options, hostPresets, name, preset);
});
