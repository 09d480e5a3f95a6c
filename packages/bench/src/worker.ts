import { performance } from 'node:perf_hooks';
import { BENCHMARKS } from './variants';

/**
 * Runs one variant in a process of its own, so its peak RSS is its own, and prints one JSON
 * line. Its modules are loaded first; then the warm-up per the benchmark (see `Benchmark.warmup`):
 * two full-size runs, the first timed as the cold figure, or a short untimed one; then the timed run.
 */
async function main(): Promise<void> {
  const [benchmark = '', variant = '', sizeArg = '', seedArg = ''] = process.argv.slice(2);
  const bm = BENCHMARKS[benchmark];
  const v = bm?.variants[variant];
  if (bm === undefined || v === undefined) {
    process.stderr.write(`worker: unknown benchmark/variant ${benchmark}/${variant}\n`);
    process.exit(2);
  }
  const size = Number(sizeArg);
  const seed = Number(seedArg);
  v.load?.();
  let coldWallMs: number | undefined;
  if (bm.warmup === 'full') {
    const t = performance.now();
    await v.run(size, seed);
    coldWallMs = performance.now() - t;
    await v.run(size, seed + 1);
  } else {
    await v.run(Math.max(1, Math.floor(size / 20)), seed + 1);
  }
  const t0 = performance.now();
  const r = await v.run(size, seed);
  const wallMs = performance.now() - t0;
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;
  process.stdout.write(`${JSON.stringify({ ...r, wallMs, ...(coldWallMs === undefined ? {} : { coldWallMs }), peakRssBytes })}\n`);
}

void main();
