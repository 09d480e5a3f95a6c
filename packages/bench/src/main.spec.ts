import { BenchUsageError, parseBenchArgs } from './main';
import { BENCHMARKS } from './variants';

describe('pnpm bench arguments', () => {
  it('defaults to every variant but the opt-in ones, the default sizes, 3 repeats (1 for one-off runs), the fixed seed', () => {
    expect(parseBenchArgs([])).toEqual({
      json: false,
      help: false,
      repeats: 3,
      oneOffRepeats: 1,
      seed: 20261125,
      only: ['mm1/ipilab', 'mm1/ceiling', 'mm1/simjs', 'mm1/simjs-timers', 'ipi-broadcast/trap-physical', 'ipi-broadcast/trap-cluster', 'ipi-broadcast/pv-physical', 'ipi-broadcast/posted-physical', 'ipi-broadcast/pv-physical-accounting', 'reference/duration-1x', 'reference/duration-2x', 'sweep/workers-1', 'sweep/workers-2', 'queue/in-process-1', 'queue/in-process-2', 'queue/redis-1-worker', 'queue/redis-2-workers', 'queue-overhead/in-process-1', 'queue-overhead/redis-1-worker', 'startup/help-direct', 'startup/help-npx', 'startup/reference-oneoff', 'litmus/classic', 'litmus/largest'],
      sizes: { mm1: 1_000_000, 'ipi-broadcast': 2_000, reference: 100, sweep: 100, queue: 100, 'queue-overhead': 16, scale: 100, duration: 256, startup: 5, litmus: 20 },
    });
    expect(parseBenchArgs(['--json', '--customers', '5000', '--ipi-ops', '10', '--only', 'mm1/ipilab, mm1/ceiling'])).toMatchObject({
      json: true,
      sizes: { mm1: 5000, 'ipi-broadcast': 10, reference: 100, sweep: 100, queue: 100, 'queue-overhead': 16, scale: 100, duration: 256, startup: 5, litmus: 20 },
      only: ['mm1/ipilab', 'mm1/ceiling'],
    });
  });

  it('runs the opt-in scale and duration benchmarks when --only names them, whole or by variant, with their sizes and one process each unless --repeats says', () => {
    expect(parseBenchArgs(['--only', 'scale,duration/ms-10', '--scale-ms', '10', '--duration-vcpus', '64'])).toMatchObject({
      only: ['scale/vcpus-64', 'scale/vcpus-256', 'scale/vcpus-1024', 'duration/ms-10'],
      sizes: { scale: 10, duration: 64 },
      repeats: 3,
      oneOffRepeats: 1,
    });
    expect(parseBenchArgs(['--only', 'duration', '--repeats', '2'])).toMatchObject({ only: ['duration/ms-10', 'duration/ms-100', 'duration/ms-1000'], repeats: 2, oneOffRepeats: 2 });
  });

  it('declares scale (64, 256, 1,024 vCPUs; one-off runs, allocation sampled) and duration (10, 100, 1,000 ms; one-off runs, peak RSS ratio)', () => {
    const { scale, duration } = BENCHMARKS;
    expect(scale).toMatchObject({ sizeFlag: 'scale-ms', defaultSize: 100, once: true, allocation: true, optIn: true });
    expect(Object.keys(scale!.variants)).toEqual(['vcpus-64', 'vcpus-256', 'vcpus-1024']);
    expect(duration).toMatchObject({ sizeFlag: 'duration-vcpus', defaultSize: 256, once: true, optIn: true, ratios: [{ name: 'peakRssVs100ms', variant: 'ms-1000', over: 'ms-100', inverse: true, of: 'peakRssBytes' }] });
    expect(Object.keys(duration!.variants)).toEqual(['ms-10', 'ms-100', 'ms-1000']);
  });

  it.each([
    [['--customers=-4'], '--customers: expected a positive integer, got "-4"'],
    [['--customers', '0'], '--customers: expected a positive integer, got "0"'],
    [['--ipi-ops', '1.5'], '--ipi-ops: expected a positive integer, got "1.5"'],
    [['--repeats', 'two'], '--repeats: expected a positive integer, got "two"'],
    [['--seed', '1.5'], '--seed: expected a non-negative integer, got "1.5"'],
    [['--only', 'mm1/foo'], '--only: unknown benchmark or variant "mm1/foo"; known: mm1/ipilab, mm1/ceiling'],
    [['--scale-ms', '0'], '--scale-ms: expected a positive integer, got "0"'],
    [['--frobnicate'], "Unknown option '--frobnicate'"],
  ])('%j is a usage error naming the flag', (argv, text) => {
    expect(() => parseBenchArgs(argv)).toThrow(BenchUsageError);
    expect(() => parseBenchArgs(argv)).toThrow(text);
  });
});
