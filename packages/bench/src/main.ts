#!/usr/bin/env node
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import Table from 'cli-table3';
import { BENCHMARKS, type BenchmarkRun } from './variants';

interface Sample extends BenchmarkRun {
  wallMs: number;
  coldWallMs: number;
  peakRssBytes: number;
  /** Benchmarks with `allocation`: bytes the run allocated, estimated by sampling. */
  allocatedBytes?: number;
}

/** One variant's figures in `pnpm bench --json`. `<unit>s` / `<unit>sPerSecond` are named per benchmark (customers, operations). */
export type VariantFigures = {
  /** Steady state: the third run of a process. */
  eventsPerSecond: number;
  /** The first run of a process (V8 still compiling, sweep threads starting). */
  coldEventsPerSecond: number;
  coldWallMs: number;
  peakRssBytes: number;
  wallMs: number;
  events: number;
  repeats: number;
  ratioToCeiling?: number;
  ratioToSimjs?: number;
  /** Benchmarks with `allocation`: bytes allocated per event, estimated with V8's sampling heap profiler (median over processes). */
  bytesAllocatedPerEventSampled?: number;
} & Record<string, number>;

const ALL = Object.entries(BENCHMARKS).flatMap(([b, bm]) => Object.keys(bm.variants).map((v) => `${b}/${v}`));
/** What runs without --only: every variant but those of opt-in benchmarks (too slow for every run). */
const DEFAULT = ALL.filter((name) => BENCHMARKS[name.split('/')[0]!]!.optIn !== true);
const OPT_IN = Object.entries(BENCHMARKS)
  .filter(([, b]) => b.optIn === true)
  .map(([name]) => name);

const USAGE = `usage: pnpm bench [--json] [--repeats N] [--seed N] [--only LIST] ${Object.values(BENCHMARKS)
  .map((b) => `[--${b.sizeFlag} N]`)
  .join(' ')}

  --json          print one JSON document { "<benchmark>": { "<variant>": { eventsPerSecond, ... } } }
  --repeats N     fresh processes per variant; the median run is reported (default 3; 1 for ${OPT_IN.join(', ')})
  --seed N        run seed (default 20261125)
  --only LIST     comma-separated benchmark or benchmark/variant names (default: all but ${OPT_IN.join(', ')}, which are slow): ${ALL.join(', ')}
${Object.values(BENCHMARKS)
  .map((b) => `  --${b.sizeFlag.padEnd(14)}${b.sizeUnit ?? `${b.unit}s`} per ${b.title} run (default ${b.defaultSize})`)
  .join('\n')}`;

export class BenchUsageError extends Error {}

export interface BenchOptions {
  json: boolean;
  help: boolean;
  repeats: number;
  /** Processes per variant of a `once` benchmark (one-off runs): 1 unless --repeats is given. */
  oneOffRepeats: number;
  seed: number;
  only: string[];
  /** Size per benchmark name. */
  sizes: Record<string, number>;
}

function positiveInt(name: string, raw: string | undefined, dflt: number): number {
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0) throw new BenchUsageError(`--${name}: expected a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

/** Parses the bench command line; a mistake is a BenchUsageError naming the flag. */
export function parseBenchArgs(argv: string[]): BenchOptions {
  const sizeOptions = Object.fromEntries(Object.values(BENCHMARKS).map((b) => [b.sizeFlag, { type: 'string' as const }]));
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: {
        json: { type: 'boolean', default: false },
        repeats: { type: 'string' },
        seed: { type: 'string' },
        only: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
        ...sizeOptions,
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    throw new BenchUsageError((e as Error).message);
  }
  const str = (k: string): string | undefined => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const seedRaw = str('seed') ?? '20261125';
  const seed = Number(seedRaw);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new BenchUsageError(`--seed: expected a non-negative integer, got ${JSON.stringify(seedRaw)}`);
  const only = (str('only')?.split(',').map((x) => x.trim()) ?? DEFAULT).flatMap((name) => {
    // A benchmark's name stands for all its variants.
    const whole = Object.hasOwn(BENCHMARKS, name) ? ALL.filter((v) => v.startsWith(`${name}/`)) : [];
    if (whole.length > 0) return whole;
    if (!ALL.includes(name)) throw new BenchUsageError(`--only: unknown benchmark or variant ${JSON.stringify(name)}; known: ${ALL.join(', ')}`);
    return [name];
  });
  const sizes: Record<string, number> = {};
  for (const [name, b] of Object.entries(BENCHMARKS)) sizes[name] = positiveInt(b.sizeFlag, str(b.sizeFlag), b.defaultSize);
  return { json: values['json'] === true, help: values['help'] === true, repeats: positiveInt('repeats', str('repeats'), 3), oneOffRepeats: positiveInt('repeats', str('repeats'), 1), seed, only, sizes };
}

/** 5.7 k, 0.53, 12.0: thousands above 10^4, plain below. */
function rate(x: number): string {
  return x >= 10_000 ? `${(x / 1e3).toFixed(1)} k` : x.toFixed(2);
}

/** `speedupVs1Worker` -> `coldSpeedupVs1Worker`: the same ratio from the cold runs. */
const coldName = (name: string): string => `cold${name[0]!.toUpperCase()}${name.slice(1)}`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function main(): void {
  let args: BenchOptions;
  try {
    args = parseBenchArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof BenchUsageError)) throw e;
    process.stderr.write(`bench: ${e.message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const { seed, only } = args;
  const worker = require.resolve('./worker');
  const results: Record<string, Record<string, VariantFigures>> = {};
  for (const name of only) {
    const [benchmark, variant] = name.split('/') as [string, string];
    const bm = BENCHMARKS[benchmark]!;
    const size = args.sizes[benchmark]!;
    const missing = bm.requires?.();
    if (missing !== undefined) {
      process.stderr.write(`skipping ${name}: ${missing}\n`);
      continue;
    }
    const repeats = bm.once === true ? args.oneOffRepeats : args.repeats;
    if (!args.json) process.stderr.write(`running ${name} x${repeats} (${size} ${bm.sizeUnit ?? `${bm.unit}s`})...\n`);
    const samples: Sample[] = [];
    for (let i = 0; i < repeats; i++) {
      const out = execFileSync(process.execPath, [worker, benchmark, variant, String(size), String(seed)], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      samples.push(JSON.parse(out) as Sample);
    }
    const wallMs = median(samples.map((s) => s.wallMs));
    const first = samples[0]!;
    const coldWallMs = median(samples.map((s) => s.coldWallMs));
    const figures: VariantFigures = {
      eventsPerSecond: first.events / (wallMs / 1000),
      coldEventsPerSecond: first.events / (coldWallMs / 1000),
      [`${bm.unit}sPerSecond`]: first.units / (wallMs / 1000),
      peakRssBytes: Math.max(...samples.map((s) => s.peakRssBytes)),
      wallMs,
      coldWallMs,
      events: first.events,
      [`${bm.unit}s`]: first.units,
      repeats,
    } as VariantFigures;
    if (bm.checkName !== undefined && first.check !== undefined) figures[bm.checkName] = first.check;
    if (samples.every((x) => x.allocatedBytes !== undefined)) figures.bytesAllocatedPerEventSampled = median(samples.map((x) => x.allocatedBytes! / x.events));
    (results[benchmark] ??= {})[variant] = figures;
  }

  for (const [benchmark, variants] of Object.entries(results)) {
    const ceiling = variants['ceiling']?.eventsPerSecond;
    const simjs = variants['simjs']?.eventsPerSecond;
    for (const f of Object.values(variants)) {
      if (ceiling !== undefined) f.ratioToCeiling = f.eventsPerSecond / ceiling;
      if (simjs !== undefined) f.ratioToSimjs = f.eventsPerSecond / simjs;
    }
    for (const r of BENCHMARKS[benchmark]!.ratios ?? []) {
      const [a, b] = [variants[r.variant], variants[r.over]];
      if (a === undefined || b === undefined) continue;
      const ratio = (x: number, y: number): number => (r.inverse === true ? x / y : y / x);
      if (r.of === 'peakRssBytes') {
        a[r.name] = ratio(a.peakRssBytes, b.peakRssBytes);
        continue;
      }
      a[r.name] = ratio(a.wallMs, b.wallMs);
      a[coldName(r.name)] = ratio(a.coldWallMs, b.coldWallMs);
    }
    for (const d of BENCHMARKS[benchmark]!.perUnitDifferences ?? []) {
      const [a, b] = [variants[d.variant], variants[d.over]];
      if (a === undefined || b === undefined) continue;
      const unit = `${BENCHMARKS[benchmark]!.unit}s`;
      a[d.name] = a.wallMs / a[unit]! - b.wallMs / b[unit]!;
      a[coldName(d.name)] = a.coldWallMs / a[unit]! - b.coldWallMs / b[unit]!;
    }
    // Variants of a benchmark with a check figure draw the same numbers in the same order: any difference is a kernel bug.
    const checkName = BENCHMARKS[benchmark]!.checkName;
    if (checkName !== undefined) {
      const checks = new Set(Object.values(variants).map((f) => f[checkName]));
      if (checks.size > 1) {
        process.stderr.write(`bench: ${benchmark} variants disagree on ${checkName}: ${[...checks].join(' vs ')}\n`);
        process.exitCode = 1;
      }
    }
  }

  if (args.json) {
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    return;
  }
  for (const [benchmark, variants] of Object.entries(results)) {
    const bm = BENCHMARKS[benchmark]!;
    const hasRatios = Object.values(variants).some((f) => f.ratioToCeiling !== undefined || f.ratioToSimjs !== undefined);
    const hasAllocation = Object.values(variants).some((f) => f.bytesAllocatedPerEventSampled !== undefined);
    const once = bm.once === true;
    const head = [
      'variant',
      'events/s',
      ...(once ? ['wall', 'events'] : ['cold events/s']),
      `${bm.unit}s/s`,
      'peak RSS',
      ...(hasAllocation ? ['bytes/event (sampled)'] : []),
      ...(hasRatios ? ['vs ceiling', 'vs simjs'] : []),
      ...(bm.checkName !== undefined ? [bm.checkName] : []),
    ];
    const table = new Table({ head, colAligns: head.map((_, i) => (i === 0 ? 'left' : 'right')), style: { head: [], border: [] } });
    for (const [variant, f] of Object.entries(variants)) {
      table.push([
        variant,
        `${(f.eventsPerSecond / 1e6).toFixed(2)} M`,
        ...(once ? [`${(f.wallMs / 1000).toFixed(1)} s`, `${(f.events / 1e6).toFixed(2)} M`] : [`${(f.coldEventsPerSecond / 1e6).toFixed(2)} M`]),
        rate(f[`${bm.unit}sPerSecond`]!),
        `${(f.peakRssBytes / 2 ** 20).toFixed(0)} MiB`,
        ...(hasAllocation ? [f.bytesAllocatedPerEventSampled === undefined ? '-' : f.bytesAllocatedPerEventSampled.toFixed(0)] : []),
        ...(hasRatios
          ? [f.ratioToCeiling === undefined ? '-' : `${(f.ratioToCeiling * 100).toFixed(0)} %`, f.ratioToSimjs === undefined ? '-' : `${f.ratioToSimjs.toFixed(1)}x`]
          : []),
        ...(bm.checkName !== undefined ? [String(f[bm.checkName]?.toFixed(1))] : []),
      ]);
    }
    const first = Object.values(variants)[0]!;
    process.stdout.write(
      once
        ? `${benchmark}: ${bm.title}, median of ${first.repeats} fresh processes, one run each (a one-off run: V8 compiling included)${hasAllocation ? '; bytes/event: V8\'s sampling heap profiler, an estimate' : ''}, seed ${seed}\n`
        : `${benchmark}: ${bm.title}, ${first[`${bm.unit}s`]} ${bm.unit}s (${first.events} events), median of ${first.repeats} fresh processes (events/s: the third run of the process, warm; cold events/s: its first), seed ${seed}\n`,
    );
    process.stdout.write(`${table.toString()}\n`);
    for (const r of bm.ratios ?? []) {
      const f = variants[r.variant];
      if (f?.[r.name] === undefined) continue;
      if (r.of === 'peakRssBytes') {
        process.stdout.write(`${r.name}: ${r.variant} peak RSS / ${r.over} peak RSS: ${f[r.name]!.toFixed(2)}x\n`);
        continue;
      }
      process.stdout.write(`${r.name}: ${r.variant} ${r.inverse === true ? 'wall / ' : 'speed-up over '}${r.over}${r.inverse === true ? ' wall' : ''}: ${f[r.name]!.toFixed(2)}x warm, ${f[coldName(r.name)]!.toFixed(2)}x cold\n`);
    }
    for (const d of bm.perUnitDifferences ?? []) {
      const f = variants[d.variant];
      if (f?.[d.name] === undefined) continue;
      process.stdout.write(`${d.name}: ${d.variant} wall per ${bm.unit} less ${d.over}'s: ${f[d.name]!.toFixed(2)} ms warm, ${f[coldName(d.name)]!.toFixed(2)} ms cold\n`);
    }
  }
}

if (require.main === module) main();
