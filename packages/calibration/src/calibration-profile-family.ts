import type { PolicyFamily } from '@ipilab/di';
import type { CalibrationProfile } from './profile';

/**
 * Calibration profiles by name (`calibration.profile`): data, not code. A plugin adds a
 * CalibrationProfile (every cost field with its figure, unit and source; profile.ts) as it adds
 * any policy (`contributePolicy(options, calibrationProfiles, name, profile)`); with an options
 * schema its `configure` returns the profile for the options. `calibration.overrides` applies
 * over whichever profile is picked.
 */
export const CalibrationProfileRegistry: unique symbol = Symbol('CalibrationProfileRegistry');
export const CalibrationProfileContribution: unique symbol = Symbol('CalibrationProfileContribution');
export const calibrationProfiles: PolicyFamily<CalibrationProfile> = {
  registry: CalibrationProfileRegistry,
  contribution: CalibrationProfileContribution,
  kind: 'calibration profile',
  defaultName: 'kvm-skylake-2018',
};
