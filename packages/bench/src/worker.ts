import { performance } from 'node:perf_hooks';
import { AllocationSampler } from './alloc/allocation-sampler';
import { BENCHMARKS, type BenchmarkRun } from './variants';

/**
 * Runs one variant in a process of its own, so its peak RSS is its own, and prints one JSON
 * line. Its modules are loaded first. Then it runs the variant three times at full size: the
 * first is timed as the cold figure (what a one-off run sees: V8 compiling the hot code, sweep
 * threads starting), the second only warms up (V8 needs about two runs of the reference
 * scenario to settle), and the third is the timed, steady-state figure.
 */
async function main(): Promise<void> {
  const [benchmark = '', variant = '', sizeArg = '', seedArg = ''] = process.argv.slice(2);
  const v = BENCHMARKS[benchmark]?.variants[variant];
  if (v === undefined) {
    process.stderr.write(`worker: unknown benchmark/variant ${benchmark}/${variant}\n`);
    process.exit(2);
  }
  const size = Number(sizeArg);
  const seed = Number(seedArg);
  await v.load?.();
  if (BENCHMARKS[benchmark]!.once === true) {
    process.stdout.write(`${JSON.stringify(await runOnce(() => v.run(size, seed), BENCHMARKS[benchmark]!.allocation === true))}\n`);
    process.exit(0);
  }
  const t = performance.now();
  await v.run(size, seed);
  const coldWallMs = performance.now() - t;
  await v.run(size, seed + 1);
  const t0 = performance.now();
  const r = await v.run(size, seed);
  const wallMs = performance.now() - t0;
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;
  process.stdout.write(`${JSON.stringify({ ...r, wallMs, coldWallMs, peakRssBytes })}\n`);
  // A variant may have started processes or connections (the queue's): they end with this one.
  process.exit(0);
}

void main();

/**
 * A benchmark that measures one-off runs (`Benchmark.once`): the variant runs once, so the
 * process's peak RSS is that run's, and its wall time is what one `ipilab run` of it takes
 * (V8 compiling the hot code included): the cold and steady figures are the same run. With
 * `allocation`, V8's sampling heap profiler counts what the run allocates (an estimate).
 */
async function runOnce(run: () => BenchmarkRun | Promise<BenchmarkRun>, allocation: boolean): Promise<BenchmarkRun & { wallMs: number; coldWallMs: number; peakRssBytes: number; allocatedBytes?: number }> {
  const sampler = allocation ? new AllocationSampler() : undefined;
  await sampler?.start();
  const t = performance.now();
  const r = await run();
  const wallMs = performance.now() - t;
  const allocated = await sampler?.stop();
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;
  return { ...r, wallMs, coldWallMs: wallMs, peakRssBytes, ...(allocated === undefined ? {} : { allocatedBytes: allocated.bytes }) };
}
