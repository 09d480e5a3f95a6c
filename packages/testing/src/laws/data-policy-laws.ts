import fc from 'fast-check';
import { CALIBRATION_PROFILES, COST_NAMES, LAPIC_TIMER_MODES, POSTED_FLAVOURS, resolveCosts, type CalibrationProfile } from '@ipilab/calibration';
import type { PolicyOptions } from '@ipilab/di';
import { HOST_PRESETS, HostTopology, type HostPreset } from '@ipilab/host';
import { assertLaw, type LawRunOptions } from '../law-runner';
import { MAX_VCPUS } from '../arbitraries';

/**
 * A data policy under test (a host preset or a calibration profile): a built-in's name, the
 * value, or the `options` form a plugin contributes (schema + configure) with an arbitrary of
 * the options to try.
 */
export type DataPolicyUnderTest<T> = string | T | { readonly options: PolicyOptions<T, any>; readonly arbitrary: fc.Arbitrary<unknown> };

/** Case counts of the data-policy laws (used only with the `options` form: each case configures one). */
export type DataLawOptions = LawRunOptions;

function isOptionsForm<T>(p: DataPolicyUnderTest<T>): p is { readonly options: PolicyOptions<T, any>; readonly arbitrary: fc.Arbitrary<unknown> } {
  return typeof p === 'object' && p !== null && 'arbitrary' in p && 'options' in p;
}

/** Checks `check` on the value, or on what `configure` gives for every option set the schema accepts. */
function assertData<T>(law: string, p: DataPolicyUnderTest<T>, builtins: Readonly<Record<string, T>>, check: (value: T) => void, options: DataLawOptions): void {
  if (typeof p === 'string') {
    const v = builtins[p];
    if (v === undefined) throw new Error(`${law}: no built-in ${JSON.stringify(p)} (${Object.keys(builtins).join(', ')})`);
    assertLaw(law, fc.constant(v), check, { numRuns: 1, ...options });
  } else if (isOptionsForm(p)) {
    assertLaw(
      law,
      p.arbitrary,
      (raw) => {
        const parsed = p.options.schema.safeParse(raw);
        fc.pre(parsed.success);
        if (parsed.success) check(p.options.configure(parsed.data));
      },
      { numRuns: 50, ...options },
    );
  } else {
    assertLaw(law, fc.constant(p), check, { numRuns: 1, ...options });
  }
}

const positiveInt = (x: unknown): boolean => Number.isSafeInteger(x) && (x as number) >= 1;

/**
 * A host preset is a host ipilab can build: whole, positive sockets, cores per socket and threads
 * per core, no more than 288 logical CPUs (the model's largest host); a finite clock above 0 and
 * below 10 GHz; a name and a one-line description; and the topology it gives numbers every pCPU
 * once, with distinct APIC IDs.
 */
export function checkHostPreset(p: HostPreset): void {
  if (typeof p.description !== 'string' || p.description.trim() === '' || p.description.includes('\n')) throw new Error(`description: expected one line of text, got ${JSON.stringify(p.description)}`);
  if (p.name !== undefined && (typeof p.name !== 'string' || p.name.trim() === '')) throw new Error(`name: expected a non-empty string, got ${JSON.stringify(p.name)}`);
  for (const k of ['sockets', 'coresPerSocket', 'threadsPerCore'] as const) if (!positiveInt(p[k])) throw new Error(`${k}: expected a whole number >= 1, got ${JSON.stringify(p[k])}`);
  if (!(typeof p.ghz === 'number' && Number.isFinite(p.ghz) && p.ghz > 0 && p.ghz < 10)) throw new Error(`ghz: expected a clock rate in (0, 10) GHz, got ${JSON.stringify(p.ghz)}`);
  const size = p.sockets * p.coresPerSocket * p.threadsPerCore;
  if (size > MAX_VCPUS) throw new Error(`${size} logical CPUs: more than the ${MAX_VCPUS} a host may have`);
  const t = new HostTopology(p);
  if (t.size !== size) throw new Error(`the topology has ${t.size} pCPUs, the preset says ${size}`);
  const ids = new Set(t.pcpus.map((c) => c.id));
  const apic = new Set(t.pcpus.map((c) => c.apicId));
  if (ids.size !== size || apic.size !== size) throw new Error(`pCPU numbers or APIC IDs repeat (${ids.size} numbers, ${apic.size} APIC IDs for ${size} pCPUs)`);
}

/** The host-preset law (checkHostPreset) for a preset by name, as a value, or in its options form. */
export function assertHostPresetLaws(preset: DataPolicyUnderTest<HostPreset>, options: DataLawOptions = {}): void {
  assertData('host preset', preset, HOST_PRESETS, checkHostPreset, options);
}

/**
 * A calibration profile is one ipilab can use and a reader can trust: a name, a description, a
 * clock in (0, 10) GHz, a posted-interrupt flavour, LAPIC timer mode and vendor it knows; every
 * cost field present with a finite value >= 0, a unit, a source and (when it is an estimate) how
 * it was estimated; it resolves at its own clock and at any host clock (a cycle figure takes
 * fewer ns on a faster host, an ns figure stays); and the distances are ordered as hardware is:
 * an SMT sibling no farther than a core of the socket, no farther than another socket, for both
 * the IPI wire and a cache line.
 */
export function checkCalibrationProfile(p: CalibrationProfile): void {
  for (const k of ['name', 'description'] as const) if (typeof p[k] !== 'string' || p[k].trim() === '') throw new Error(`${k}: expected a non-empty string, got ${JSON.stringify(p[k])}`);
  if (!(typeof p.ghz === 'number' && Number.isFinite(p.ghz) && p.ghz > 0 && p.ghz < 10)) throw new Error(`ghz: expected a clock rate in (0, 10) GHz, got ${JSON.stringify(p.ghz)}`);
  if (!POSTED_FLAVOURS.includes(p.postedFlavour)) throw new Error(`postedFlavour: expected one of ${POSTED_FLAVOURS.join(', ')}, got ${JSON.stringify(p.postedFlavour)}`);
  if (!LAPIC_TIMER_MODES.includes(p.lapicTimer)) throw new Error(`lapicTimer: expected one of ${LAPIC_TIMER_MODES.join(', ')}, got ${JSON.stringify(p.lapicTimer)}`);
  if (p.vendor !== 'intel' && p.vendor !== 'amd') throw new Error(`vendor: expected intel or amd, got ${JSON.stringify(p.vendor)}`);
  for (const name of COST_NAMES) {
    const f = p.costs[name];
    if (f === undefined) throw new Error(`costs.${name}: missing`);
    if (!(typeof f.value === 'number' && Number.isFinite(f.value) && f.value >= 0)) throw new Error(`costs.${name}.value: expected a finite number >= 0, got ${JSON.stringify(f.value)}`);
    if (!['cycles', 'ns', 'count', 'ratio'].includes(f.unit)) throw new Error(`costs.${name}.unit: expected cycles, ns, count or ratio, got ${JSON.stringify(f.unit)}`);
    if (typeof f.source !== 'string' || f.source.trim() === '') throw new Error(`costs.${name}.source: every figure names its source`);
    if (f.estimate !== undefined && (typeof f.estimate !== 'string' || f.estimate.trim() === '')) throw new Error(`costs.${name}.estimate: an estimate says how it was made`);
  }
  const own = resolveCosts(p);
  const fast = resolveCosts(p, {}, 'calibration.overrides', p.ghz * 2);
  for (const name of COST_NAMES) {
    const f = p.costs[name];
    if (f.unit === 'cycles' && fast[name] > own[name]) throw new Error(`costs.${name}: ${f.value} cycles take longer on a host twice as fast (${fast[name]} ns > ${own[name]} ns)`);
    if (f.unit !== 'cycles' && fast[name] !== own[name]) throw new Error(`costs.${name}: a ${f.unit} figure changed with the host clock`);
  }
  for (const [smt, socket, remote] of [['ipiWireSmt', 'ipiWireSocket', 'ipiWireRemote'], ['cacheLineSmt', 'cacheLineSocket', 'cacheLineRemote']] as const) {
    if (!(own[smt] <= own[socket] && own[socket] <= own[remote])) throw new Error(`${smt} <= ${socket} <= ${remote} does not hold: ${own[smt]}, ${own[socket]}, ${own[remote]} ns`);
  }
}

/** The calibration-profile law (checkCalibrationProfile) for a profile by name, as a value, or in its options form. */
export function assertCalibrationProfileLaws(profile: DataPolicyUnderTest<CalibrationProfile>, options: DataLawOptions = {}): void {
  assertData('calibration profile', profile, CALIBRATION_PROFILES, checkCalibrationProfile, options);
}
