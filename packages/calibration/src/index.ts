/**
 * Calibration profiles as data: every per-operation cost with its source, resolved to ns, overridable field by field.
 *
 * @packageDocumentation
 * @module @ipilab/calibration
 */
export { COST_FIELDS, COST_NAMES, type CostName, type Costs } from './cost-fields';
export { resolveCosts, POSTED_FLAVOURS, LAPIC_TIMER_MODES, type CalibrationProfile, type CostFigure, type CostOverrides, type PostedFlavour, type LapicTimerMode } from './profile';
export { KVM_SKYLAKE_2018, KVM_EPYC_2021, CALIBRATION_PROFILES, calibrationProfile } from './profiles';
export { CalibrationProfileRegistry, CalibrationProfileContribution, calibrationProfiles } from './calibration-profile-family';
export { calibrationModule } from './calibration-module';
