#!/usr/bin/env node
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import Table from 'cli-table3';
import { BENCHMARKS } from './variants';

interface Sample {
  customers: number;
  events: number;
  meanWaitNs: number;
  endTimeNs: number;
  wallMs: number;
  peakRssBytes: number;
}

export interface VariantFigures {
  eventsPerSecond: number;
  customersPerSecond: number;
  peakRssBytes: number;
  wallMs: number;
  events: number;
  customers: number;
  meanWaitNs: number;
  repeats: number;
  ratioToCeiling?: number;
  ratioToSimjs?: number;
}

const USAGE = `usage: pnpm bench [--json] [--customers N] [--repeats N] [--seed N] [--only mm1/ipilab,...]

  --json          print one JSON document { "<benchmark>": { "<variant>": { eventsPerSecond, ... } } }
  --customers N   customers per M/M/1 run (default 1000000)
  --repeats N     fresh processes per variant; the median run is reported (default 3)
  --seed N        run seed (default 20261125)
  --only LIST     comma-separated benchmark/variant names to run (default: all)`;

export class BenchUsageError extends Error {}

export interface BenchOptions {
  json: boolean;
  help: boolean;
  customers: number;
  repeats: number;
  seed: number;
  only: string[];
}

function positiveInt(name: string, raw: string | undefined, dflt: number): number {
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0) throw new BenchUsageError(`--${name}: expected a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

/** Parses the bench command line; a mistake is a BenchUsageError naming the flag. */
export function parseBenchArgs(argv: string[]): BenchOptions {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        json: { type: 'boolean', default: false },
        customers: { type: 'string' },
        repeats: { type: 'string' },
        seed: { type: 'string' },
        only: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    throw new BenchUsageError((e as Error).message);
  }
  const seedRaw = values.seed ?? '20261125';
  const seed = Number(seedRaw);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new BenchUsageError(`--seed: expected a non-negative integer, got ${JSON.stringify(seedRaw)}`);
  const known = Object.entries(BENCHMARKS).flatMap(([b, vs]) => Object.keys(vs).map((v) => `${b}/${v}`));
  const only = values.only?.split(',').map((x) => x.trim()) ?? known;
  for (const name of only) {
    if (!known.includes(name)) throw new BenchUsageError(`--only: unknown variant ${JSON.stringify(name)}; known: ${known.join(', ')}`);
  }
  return {
    json: values.json === true,
    help: values.help === true,
    customers: positiveInt('customers', values.customers, 1_000_000),
    repeats: positiveInt('repeats', values.repeats, 3),
    seed,
    only,
  };
}

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
  const { customers, repeats, seed, only } = args;

  const worker = require.resolve('./worker');
  const results: Record<string, Record<string, VariantFigures>> = {};
  for (const name of only) {
    const [benchmark, variant] = name.split('/') as [string, string];
    if (!args.json) process.stderr.write(`running ${name} x${repeats} (${customers} customers)...\n`);
    const samples: Sample[] = [];
    for (let i = 0; i < repeats; i++) {
      const out = execFileSync(process.execPath, [worker, benchmark, variant, String(customers), String(seed)], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      samples.push(JSON.parse(out) as Sample);
    }
    const wallMs = median(samples.map((s) => s.wallMs));
    const first = samples[0]!;
    (results[benchmark] ??= {})[variant] = {
      eventsPerSecond: first.events / (wallMs / 1000),
      customersPerSecond: first.customers / (wallMs / 1000),
      peakRssBytes: Math.max(...samples.map((s) => s.peakRssBytes)),
      wallMs,
      events: first.events,
      customers: first.customers,
      meanWaitNs: first.meanWaitNs,
      repeats,
    };
  }

  for (const variants of Object.values(results)) {
    const ceiling = variants['ceiling']?.eventsPerSecond;
    const simjs = variants['simjs']?.eventsPerSecond;
    for (const f of Object.values(variants)) {
      if (ceiling !== undefined) f.ratioToCeiling = f.eventsPerSecond / ceiling;
      if (simjs !== undefined) f.ratioToSimjs = f.eventsPerSecond / simjs;
    }
    // Every variant draws the same numbers in the same order: any difference is a kernel bug.
    const waits = new Set(Object.values(variants).map((f) => f.meanWaitNs));
    if (waits.size > 1) {
      process.stderr.write(`bench: variants disagree on the simulated mean wait: ${[...waits].join(' vs ')}\n`);
      process.exitCode = 1;
    }
  }

  if (args.json) {
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    return;
  }
  for (const [benchmark, variants] of Object.entries(results)) {
    const table = new Table({
      head: ['variant', 'events/s', 'customers/s', 'peak RSS', 'vs ceiling', 'vs simjs', 'mean wait'],
      colAligns: ['left', 'right', 'right', 'right', 'right', 'right', 'right'],
      style: { head: [], border: [] },
    });
    for (const [variant, f] of Object.entries(variants)) {
      table.push([
        variant,
        `${(f.eventsPerSecond / 1e6).toFixed(2)} M`,
        `${(f.customersPerSecond / 1e6).toFixed(2)} M`,
        `${(f.peakRssBytes / 2 ** 20).toFixed(0)} MiB`,
        f.ratioToCeiling === undefined ? '-' : `${(f.ratioToCeiling * 100).toFixed(0)} %`,
        f.ratioToSimjs === undefined ? '-' : `${f.ratioToSimjs.toFixed(1)}x`,
        `${(f.meanWaitNs / 1000).toFixed(3)} us`,
      ]);
    }
    const first = Object.values(variants)[0]!;
    process.stdout.write(
      `${benchmark}: M/M/1 at load 0.9, ${first.customers} customers (${first.events} events), median of ${first.repeats} fresh processes, seed ${seed}\n`,
    );
    process.stdout.write(`${table.toString()}\n`);
  }
}

if (require.main === module) main();
