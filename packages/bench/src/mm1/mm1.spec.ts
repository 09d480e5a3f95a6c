import { runMm1Ceiling } from './ceiling';
import { runMm1Ipilab } from './ipilab';
import { runMm1Simjs, runMm1SimjsTimers } from './simjs';

describe('M/M/1 benchmark models', () => {
  it('every variant simulates the same queue: identical mean wait, events and end time', () => {
    const p = { customers: 20_000, seed: 11 };
    const ref = runMm1Ceiling(p);
    expect(ref.events).toBe(40_000);
    for (const run of [runMm1Ipilab, runMm1Simjs, runMm1SimjsTimers]) {
      expect(run(p)).toEqual(ref);
    }
  });

  it('the kernel reproduces queueing theory: Wq = rho / (1 - rho) x mean service', () => {
    // At load 0.5 with 1 us service, Wq = 1 us; 200k customers keep the estimate within a few %.
    const r = runMm1Ipilab({ customers: 200_000, seed: 3, load: 0.5 });
    expect(r.meanWaitNs / 1_000).toBeGreaterThan(0.95);
    expect(r.meanWaitNs / 1_000).toBeLessThan(1.05);
  });
});
