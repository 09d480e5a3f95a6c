import { InvalidParameterError, cyclesToNs, formatTime, ms, ns, nsToCycles, seconds, toMicroseconds, us } from './index';

describe('time helpers', () => {
  it('convert units to integer nanoseconds, rounding to nearest', () => {
    expect(us(2.24)).toBe(2_240);
    expect(us(0.0004)).toBe(0);
    expect(ms(1.5)).toBe(1_500_000);
    expect(seconds(2)).toBe(2_000_000_000);
    expect(ns(10.6)).toBe(11);
    expect(toMicroseconds(2_510)).toBe(2.51);
  });

  it('convert cycles at a clock rate to ns and back', () => {
    // 1,181 cycles (a trivial vmcall exit, kvm-unit-tests) at 2.5 GHz.
    expect(cyclesToNs(1_181, 2.5)).toBe(472);
    expect(cyclesToNs(3_756, 2.3)).toBe(1_633);
    expect(nsToCycles(472, 2.5)).toBe(1_180);
  });

  it('format a time in its best unit', () => {
    expect(formatTime(999)).toBe('999 ns');
    expect(formatTime(2_240)).toBe('2.240 us');
    expect(formatTime(3_500_000)).toBe('3.500 ms');
    expect(formatTime(1_000_000_000)).toBe('1.000 s');
  });

  it('reject values that are not finite or clock rates that are not positive', () => {
    expect(() => us(NaN)).toThrow(new InvalidParameterError('us', NaN, 'a finite number'));
    expect(() => cyclesToNs(100, 0)).toThrow('ghz: expected a positive, finite clock rate in GHz, got 0');
    expect(() => cyclesToNs(-1, 2)).toThrow('cycles: expected a non-negative, finite cycle count, got -1');
    expect(() => seconds(1e10)).toThrow(InvalidParameterError);
  });
});
