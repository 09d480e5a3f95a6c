import type { PolicyFamily } from '@ipilab/di';
import type { CalibrationProfile } from './profile';

/**
 * Calibration profiles by name (`calibration.profile`): data, not code. A plugin adds a
 * CalibrationProfile (every cost field with its figure, unit and source; profile.ts) as it adds
 * any policy (`contributePolicy(options, calibrationProfiles, name, profile)`); with an options
 * schema its `configure` returns the profile for the options. `calibration.overrides` applies
 * over whichever profile is picked.
 */
/** Token of the calibration-profile PolicyRegistry. */
export const CalibrationProfileRegistry: unique symbol = Symbol('CalibrationProfileRegistry');
/** Token under which modules contribute calibration profiles. */
export const CalibrationProfileContribution: unique symbol = Symbol('CalibrationProfileContribution');
/** The calibration-profile family (`calibration.profile`; default `kvm-skylake-2018`). */
export const calibrationProfiles: PolicyFamily<CalibrationProfile> = {
  registry: CalibrationProfileRegistry,
  contribution: CalibrationProfileContribution,
  kind: 'calibration profile',
  defaultName: 'kvm-skylake-2018',
};
