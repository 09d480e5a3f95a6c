import { runMm1Ceiling } from './mm1/ceiling';
import { runMm1Ipilab } from './mm1/ipilab';
import type { Mm1Params, Mm1Result } from './mm1/params';
import { runMm1Simjs, runMm1SimjsTimers } from './mm1/simjs';

export interface BenchmarkVariant {
  readonly run: (p: Mm1Params) => Mm1Result;
  readonly description: string;
}

/** Benchmarks by name, each with its variants; later benchmarks slot in beside `mm1`. */
export const BENCHMARKS: Readonly<Record<string, Readonly<Record<string, BenchmarkVariant>>>> = {
  mm1: {
    ipilab: { run: runMm1Ipilab, description: '@ipilab/core Simulation, callbacks' },
    ceiling: { run: runMm1Ceiling, description: 'hand-written typed-array heap, inline event kinds' },
    simjs: { run: runMm1Simjs, description: 'SIM.JS 2.0.3 (npm simjs) as documented: timers + a FCFS Facility' },
    'simjs-timers': { run: runMm1SimjsTimers, description: 'SIM.JS 2.0.3 bare entity timers + the FIFO the others use' },
  },
};
