import { ContainerModule } from 'inversify';
import { bindPolicyRegistry, contributePolicy } from '@ipilab/di';
import { calibrationProfiles } from './calibration-profile-family';
import { CALIBRATION_PROFILES } from './profiles';

/** The calibration package's module: the profile registry and the built-in profiles, contributed as a plugin's would be. */
export const calibrationModule = new ContainerModule((options) => {
  bindPolicyRegistry(options, calibrationProfiles);
  for (const [name, profile] of Object.entries(CALIBRATION_PROFILES)) contributePolicy(options, calibrationProfiles, name, profile);
});
