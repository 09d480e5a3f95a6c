import { performance } from 'node:perf_hooks';
import { BENCHMARKS } from './variants';

/**
 * Runs one variant in a process of its own, so its peak RSS is its own, and prints one JSON
 * line. A short warm-up run first lets the JIT settle, as it would in a long simulation.
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
  await v.run(Math.max(1, Math.floor(size / 20)), seed + 1);
  const t0 = performance.now();
  const r = await v.run(size, seed);
  const wallMs = performance.now() - t0;
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;
  process.stdout.write(`${JSON.stringify({ ...r, wallMs, peakRssBytes })}\n`);
}

void main();
