export { COST_FIELDS, COST_NAMES, type CostName, type Costs } from './cost-fields';
export { resolveCosts, POSTED_FLAVOURS, LAPIC_TIMER_MODES, type CalibrationProfile, type CostFigure, type CostOverrides, type PostedFlavour, type LapicTimerMode } from './profile';
export { KVM_SKYLAKE_2018, KVM_EPYC_2021, CALIBRATION_PROFILES, calibrationProfile } from './profiles';
