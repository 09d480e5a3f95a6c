import { performance } from 'node:perf_hooks';
import { BENCHMARKS } from './variants';

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
