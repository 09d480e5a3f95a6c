import { cyclesToNs, InvalidParameterError } from '@ipilab/core';
import { COST_NAMES, type CostName, type Costs } from './cost-fields';

/** One cost as published (or estimated): its value, unit and where it comes from. */
export interface CostFigure {
  readonly value: number;
  readonly unit: 'cycles' | 'ns' | 'count' | 'ratio';
  /** Publication, patch or document the figure comes from (or rests on, for an estimate). */
  readonly source: string;
  /** Present when the figure is not a direct measurement: how it was estimated or derived. */
  readonly estimate?: string;
}

/** A calibration profile: the measured machine's clock and vendor, and every per-operation cost with its source. */
export interface CalibrationProfile {
  readonly name: string;
  readonly description: string;
  /**
   * Clock rate of the machine the figures were measured on: the default clock the cycle figures
   * convert at, and the clock workload CPU-work parameters are defined at.
   */
  readonly ghz: number;
  /**
   * The vendor's send-side IPI virtualization, which the `posted` backend follows unless the
   * scenario says otherwise: `ipiv` (Intel VT-x IPI virtualization) or `avic` (AMD AVIC).
   */
  readonly postedFlavour: PostedFlavour;
  /**
   * How KVM emulates the guest's TSC-deadline timer on this vendor: `preemption-timer` (Intel VMX
   * preemption timer, kvm_intel.preemption_timer, on by default) or `hrtimer` (a host hrtimer:
   * AMD has no preemption timer).
   */
  readonly lapicTimer: LapicTimerMode;
  /** The processor vendor: its pause-loop exiting defaults and units (Intel PLE, AMD pause filter). */
  readonly vendor: 'intel' | 'amd';
  /** Every cost field (`COST_FIELDS` says what each one is) with its value, unit and source. */
  readonly costs: Readonly<Record<CostName, CostFigure>>;
}

/** Send-side IPI virtualization: Intel IPIv or AMD AVIC (see @ipilab/ipi-posted). */
export type PostedFlavour = 'ipiv' | 'avic';
/** Both send-side IPI virtualizations. */
export const POSTED_FLAVOURS: readonly PostedFlavour[] = ['ipiv', 'avic'];

/** See `CalibrationProfile.lapicTimer`. */
export type LapicTimerMode = 'preemption-timer' | 'hrtimer';
/** Both ways KVM emulates the guest's TSC-deadline timer. */
export const LAPIC_TIMER_MODES: readonly LapicTimerMode[] = ['preemption-timer', 'hrtimer'];

/** Field-by-field overrides, each in the field's own unit. */
export type CostOverrides = Partial<Record<CostName, number>>;

/**
 * A profile with overrides applied, resolved to integer ns. An override names a field of the
 * profile and gives a non-negative, finite value in that field's unit; anything else is an
 * error naming the field.
 *
 * Cycle figures convert at `ghz`, the clock of the host being modelled (default: the profile's
 * own clock): a cycle count is work the core does, so a faster core does it in fewer ns. ns
 * figures are kept as measured (wire and cache-line latencies, wake-up and scheduler delays do
 * not follow the core clock, and those published in ns carry no cycle count to rescale), and
 * counts stay counts. docs/calibration.md, "Clock rate", lists which field is which.
 */
export function resolveCosts(profile: CalibrationProfile, overrides: Record<string, unknown> = {}, field = 'calibration.overrides', ghz: number = profile.ghz): Costs {
  if (typeof ghz !== 'number' || !(Number.isFinite(ghz) && ghz > 0)) {
    throw new InvalidParameterError('ghz', ghz, 'a positive, finite clock rate in GHz to convert the cycle figures at');
  }
  for (const [k, v] of Object.entries(overrides)) {
    if (!(COST_NAMES as string[]).includes(k)) {
      throw new InvalidParameterError(`${field}.${k}`, k, `a cost field of the profile (one of ${COST_NAMES.join(', ')})`);
    }
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new InvalidParameterError(`${field}.${k}`, v, `a non-negative, finite number of ${profile.costs[k as CostName].unit}`);
    }
  }
  const out = {} as Record<CostName, number>;
  for (const k of COST_NAMES) {
    const fig = profile.costs[k];
    const value = (overrides[k] as number | undefined) ?? fig.value;
    out[k] = fig.unit === 'cycles' ? cyclesToNs(value, ghz) : fig.unit === 'ratio' ? value : Math.round(value);
  }
  return out;
}
