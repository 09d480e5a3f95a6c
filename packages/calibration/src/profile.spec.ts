import fc from 'fast-check';
import { InvalidParameterError } from '@ipilab/core';
import {
  CALIBRATION_PROFILES,
  COST_FIELDS,
  COST_NAMES,
  KVM_EPYC_2021,
  KVM_SKYLAKE_2018,
  calibrationProfile,
  resolveCosts,
  type CostName,
} from './index';
import { expectParameterError } from '@ipilab/testing';


describe('resolveCosts on kvm-skylake-2018', () => {
  const costs = resolveCosts(KVM_SKYLAKE_2018);

  it('converts cycle figures at 2.5 GHz, rounding to integer ns', () => {
    expect(costs.exitRoundTrip).toBe(475); // 1188 cycles / 2.5 = 475.2
    expect(costs.apicWriteEmulation).toBe(480); // 1200 / 2.5
    expect(costs.ipivSend).toBe(858); // 2145 / 2.5
    expect(costs.postNotifySend).toBe(60); // 150 / 2.5
  });

  it('keeps ns figures as they are', () => {
    expect(costs.ipiWireSmt).toBe(100);
    expect(costs.ipiWireRemote).toBe(450);
    expect(costs.externalInterruptExit).toBe(710);
    expect(costs.hostWakeLatency).toBe(5_000);
    expect(costs.benchLoopOverhead).toBe(24);
  });

  it('resolves the bare-metal fields: a native ICR write in cycles, the C1 exit latency and residency, a 1-D page walk', () => {
    expect(costs.nativeIcrWrite).toBe(60); // 150 cycles / 2.5
    expect(costs.idleExitLatency).toBe(2_000); // intel_idle skx_cstates C1
    expect(costs.idleTargetResidency).toBe(2_000);
    expect(costs.nativePageWalk).toBe(50);
    expect(costs.nativePageWalk).toBeLessThan(costs.pageWalk);
  });

  it('keeps the count field deliverTargetLines as a count', () => {
    expect(costs.deliverTargetLines).toBe(3);
  });

  it('resolves every field, and only the fields, to a non-negative integer (ratios stay as they are)', () => {
    expect(Object.keys(costs).sort()).toEqual([...COST_NAMES].sort());
    for (const k of COST_NAMES) {
      if (KVM_SKYLAKE_2018.costs[k].unit === 'ratio') expect(costs[k]).toBe(KVM_SKYLAKE_2018.costs[k].value);
      else expect(Number.isSafeInteger(costs[k])).toBe(true);
      expect(costs[k]).toBeGreaterThanOrEqual(0);
    }
  });

  it('does not modify the profile', () => {
    resolveCosts(KVM_SKYLAKE_2018, { exitRoundTrip: 5000 });
    expect(KVM_SKYLAKE_2018.costs.exitRoundTrip.value).toBe(1_188);
  });
});

describe('resolveCosts overrides', () => {
  const base = resolveCosts(KVM_SKYLAKE_2018);

  it('an override replaces one field, in its own unit, and leaves the others', () => {
    const cycles = resolveCosts(KVM_SKYLAKE_2018, { exitRoundTrip: 2_500 });
    expect(cycles.exitRoundTrip).toBe(1_000); // cycles, converted at 2.5 GHz
    expect({ ...cycles, exitRoundTrip: base.exitRoundTrip }).toEqual(base);

    const nsField = resolveCosts(KVM_SKYLAKE_2018, { ipiWireSocket: 333.6 });
    expect(nsField.ipiWireSocket).toBe(334); // ns, only rounded
    expect({ ...nsField, ipiWireSocket: base.ipiWireSocket }).toEqual(base);

    const count = resolveCosts(KVM_SKYLAKE_2018, { deliverTargetLines: 7 });
    expect(count.deliverTargetLines).toBe(7);
    expect({ ...count, deliverTargetLines: base.deliverTargetLines }).toEqual(base);
  });

  it('an override of 0 is honoured, not taken as absent', () => {
    expect(resolveCosts(KVM_SKYLAKE_2018, { exitRoundTrip: 0 }).exitRoundTrip).toBe(0);
    expect(resolveCosts(KVM_SKYLAKE_2018, { handlerBody: 0 }).handlerBody).toBe(0);
  });

  it('any single override changes exactly that field, by the unit rule (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(KVM_SKYLAKE_2018, KVM_EPYC_2021),
        fc.constantFrom(...COST_NAMES),
        fc.double({ min: 0, max: 1e7, noNaN: true }),
        (profile, name, value) => {
          const before = resolveCosts(profile);
          const after = resolveCosts(profile, { [name]: value });
          const fig = profile.costs[name];
          expect(after[name]).toBe(fig.unit === 'cycles' ? Math.round(value / profile.ghz) : fig.unit === 'ratio' ? value : Math.round(value));
          for (const k of COST_NAMES) if (k !== name) expect(after[k]).toBe(before[k]);
        },
      ),
    );
  });

  it('an unknown override key is refused, naming calibration.overrides.<key>', () => {
    expectParameterError(() => resolveCosts(KVM_SKYLAKE_2018, { exitRoundtrip: 10 }), 'calibration.overrides.exitRoundtrip', 'a cost field of the profile (one of ipiWireSmt');
    expectParameterError(() => resolveCosts(KVM_SKYLAKE_2018, { bogus: 1 }), 'calibration.overrides.bogus', 'got "bogus"');
  });

  it('a negative, NaN, infinite or non-number override is refused, naming the field and its unit', () => {
    expectParameterError(() => resolveCosts(KVM_SKYLAKE_2018, { exitRoundTrip: -1 }), 'calibration.overrides.exitRoundTrip', 'a non-negative, finite number of cycles, got -1');
    expectParameterError(() => resolveCosts(KVM_SKYLAKE_2018, { ipiWireSmt: NaN }), 'calibration.overrides.ipiWireSmt', 'a non-negative, finite number of ns, got NaN');
    expectParameterError(() => resolveCosts(KVM_SKYLAKE_2018, { deliverTargetLines: Infinity }), 'calibration.overrides.deliverTargetLines', 'a non-negative, finite number of count, got Infinity');
    expectParameterError(() => resolveCosts(KVM_SKYLAKE_2018, { handlerBody: '81' }), 'calibration.overrides.handlerBody', 'got "81"');
  });

  it('the field prefix is the caller\'s', () => {
    expectParameterError(() => resolveCosts(KVM_SKYLAKE_2018, { injection: -3 }, 'vms[1].overrides'), 'vms[1].overrides.injection', 'got -3');
  });
});

describe('resolveCosts at the host clock', () => {
  const cycleFields = (p: typeof KVM_SKYLAKE_2018): CostName[] => COST_NAMES.filter((k) => p.costs[k].unit === 'cycles');
  const otherFields = (p: typeof KVM_SKYLAKE_2018): CostName[] => COST_NAMES.filter((k) => p.costs[k].unit !== 'cycles');

  it('without a clock, converts at the profile\'s own (the old call is unchanged)', () => {
    for (const p of [KVM_SKYLAKE_2018, KVM_EPYC_2021]) {
      expect(resolveCosts(p, {}, 'calibration.overrides', p.ghz)).toEqual(resolveCosts(p));
    }
  });

  it('converts cycle figures at the given clock: a 5 GHz host halves the 2.5 GHz ns', () => {
    const at5 = resolveCosts(KVM_SKYLAKE_2018, {}, 'calibration.overrides', 5);
    expect(at5.exitRoundTrip).toBe(238); // 1188 cycles / 5 = 237.6
    expect(at5.apicWriteEmulation).toBe(240); // 1200 / 5
    expect(at5.ipivSend).toBe(429); // 2145 / 5
    expect(at5.ipiWireRemote).toBe(450); // ns: as measured
    expect(at5.hostWakeLatency).toBe(5_000);
    expect(at5.deliverTargetLines).toBe(3);
  });

  it('doubling the clock halves every cycles cost (to the rounding) and leaves ns and count fields alone (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(KVM_SKYLAKE_2018, KVM_EPYC_2021),
        fc.double({ min: 0.5, max: 5, noNaN: true }),
        fc.dictionary(fc.constantFrom(...COST_NAMES), fc.double({ min: 0, max: 1e7, noNaN: true }), { maxKeys: 4 }),
        (profile, ghz, overrides) => {
          const slow = resolveCosts(profile, overrides, 'calibration.overrides', ghz);
          const fast = resolveCosts(profile, overrides, 'calibration.overrides', 2 * ghz);
          for (const k of cycleFields(profile)) {
            const cycles = overrides[k] ?? profile.costs[k].value;
            expect(slow[k]).toBe(Math.round(cycles / ghz));
            expect(fast[k]).toBe(Math.round(cycles / (2 * ghz)));
            // Each side rounds once (at most half a ns off), so twice the fast figure is within 1 ns of the slow one.
            expect(Math.abs(2 * fast[k] - slow[k])).toBeLessThanOrEqual(1);
          }
          for (const k of otherFields(profile)) expect(fast[k]).toBe(slow[k]);
        },
      ),
    );
  });

  it('a clock that is not a positive, finite number of GHz is refused', () => {
    for (const bad of [0, -2.5, NaN, Infinity]) {
      expectParameterError(() => resolveCosts(KVM_SKYLAKE_2018, {}, 'calibration.overrides', bad), 'ghz', 'a positive, finite clock rate in GHz');
    }
  });
});

describe('calibration profiles', () => {
  const profiles = Object.entries(CALIBRATION_PROFILES);

  it('are registered under their own names', () => {
    expect(Object.keys(CALIBRATION_PROFILES).sort()).toEqual(['kvm-epyc-2021', 'kvm-skylake-2018']);
    for (const [key, p] of profiles) {
      expect(p.name).toBe(key);
      expect(calibrationProfile(key)).toBe(p);
    }
  });

  it.each(profiles)('%s: every cost field is present, and only those, each with a unit, a non-negative value and a source', (_key, p) => {
    expect(Object.keys(p.costs).sort()).toEqual([...COST_NAMES].sort());
    expect(p.ghz).toBeGreaterThan(0);
    expect(p.description.length).toBeGreaterThan(0);
    for (const k of COST_NAMES) {
      const fig = p.costs[k];
      expect(fig).toBeDefined();
      expect(Number.isFinite(fig.value)).toBe(true);
      expect(fig.value).toBeGreaterThanOrEqual(0);
      expect(['cycles', 'ns', 'count', 'ratio']).toContain(fig.unit);
      expect(typeof fig.source).toBe('string');
      expect(fig.source.trim().length).toBeGreaterThan(0);
      if (fig.estimate !== undefined) expect(fig.estimate.trim().length).toBeGreaterThan(0);
    }
  });

  it('only the count fields are counts (and stay unconverted); every field has a description', () => {
    for (const p of Object.values(CALIBRATION_PROFILES)) {
      const counts = COST_NAMES.filter((k) => p.costs[k].unit === 'count');
      expect(counts).toEqual<CostName[]>(['deliverTargetLines', 'tlbSinglePageFlushCeiling', 'tlbEntries', 'invlpgbOutstanding']);
      const resolved = resolveCosts(p);
      for (const k of counts) expect(resolved[k]).toBe(p.costs[k].value);
    }
    for (const k of COST_NAMES) expect(COST_FIELDS[k].length).toBeGreaterThan(0);
  });

  it('kvm-epyc-2021 converts its cycle figures at 2.3 GHz', () => {
    const c = resolveCosts(KVM_EPYC_2021);
    expect(KVM_EPYC_2021.ghz).toBe(2.3);
    expect(c.exitRoundTrip).toBe(517); // 1188 / 2.3 = 516.5
    expect(c.ipivSend).toBe(965); // 2219 / 2.3 = 964.8
    expect(c.apicWriteEmulation).toBe(522); // 1200 / 2.3 = 521.7
    expect(c.ipiWireSocket).toBe(250);
    expect(c.ipiWireRemote).toBe(550);
    expect(c.deliverTargetLines).toBe(3);
  });

  it('calibrationProfile refuses an unknown name, listing the known ones', () => {
    expectParameterError(() => calibrationProfile('nope'), 'calibration.profile', 'one of "kvm-skylake-2018", "kvm-epyc-2021", got "nope"');
  });
});

describe('profile look-up by name ignores inherited properties', () => {
  it.each(['toString', 'constructor', '__proto__'])('%s is an unknown profile', (name) => {
    expect(() => calibrationProfile(name)).toThrow(InvalidParameterError);
    expect(() => calibrationProfile(name)).toThrow(`calibration.profile: expected one of "kvm-skylake-2018", "kvm-epyc-2021", got "${name}"`);
  });
});
