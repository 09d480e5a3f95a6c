import { BenchUsageError, parseBenchArgs } from './main';

describe('pnpm bench arguments', () => {
  it('defaults to every variant, the default sizes, 3 repeats, the fixed seed', () => {
    expect(parseBenchArgs([])).toEqual({
      json: false,
      help: false,
      repeats: 3,
      seed: 20261125,
      only: ['mm1/ipilab', 'mm1/ceiling', 'mm1/simjs', 'mm1/simjs-timers', 'ipi-broadcast/trap-physical', 'ipi-broadcast/trap-cluster', 'ipi-broadcast/pv-physical', 'ipi-broadcast/posted-physical', 'ipi-broadcast/pv-physical-accounting', 'reference/duration-1x', 'reference/duration-2x', 'sweep/workers-1', 'sweep/workers-2', 'queue/in-process-1', 'queue/in-process-2', 'queue/redis-1-worker', 'queue/redis-2-workers', 'queue-overhead/in-process-1', 'queue-overhead/redis-1-worker', 'litmus/classic', 'litmus/largest'],
      sizes: { mm1: 1_000_000, 'ipi-broadcast': 2_000, reference: 100, sweep: 100, queue: 100, 'queue-overhead': 16, litmus: 20 },
    });
    expect(parseBenchArgs(['--json', '--customers', '5000', '--ipi-ops', '10', '--only', 'mm1/ipilab, mm1/ceiling'])).toMatchObject({
      json: true,
      sizes: { mm1: 5000, 'ipi-broadcast': 10, reference: 100, sweep: 100, queue: 100, 'queue-overhead': 16, litmus: 20 },
      only: ['mm1/ipilab', 'mm1/ceiling'],
    });
  });

  it.each([
    [['--customers=-4'], '--customers: expected a positive integer, got "-4"'],
    [['--customers', '0'], '--customers: expected a positive integer, got "0"'],
    [['--ipi-ops', '1.5'], '--ipi-ops: expected a positive integer, got "1.5"'],
    [['--repeats', 'two'], '--repeats: expected a positive integer, got "two"'],
    [['--seed', '1.5'], '--seed: expected a non-negative integer, got "1.5"'],
    [['--only', 'mm1/foo'], '--only: unknown variant "mm1/foo"; known: mm1/ipilab, mm1/ceiling'],
    [['--frobnicate'], "Unknown option '--frobnicate'"],
  ])('%j is a usage error naming the flag', (argv, text) => {
    expect(() => parseBenchArgs(argv)).toThrow(BenchUsageError);
    expect(() => parseBenchArgs(argv)).toThrow(text);
  });
});
