import { runMm1Ceiling } from './mm1/ceiling';
import { runMm1Ipilab } from './mm1/ipilab';
import type { Mm1Params, Mm1Result } from './mm1/params';
import { runMm1Simjs, runMm1SimjsTimers } from './mm1/simjs';

/** What one run reports: events executed, units of work done, and a figure every variant must agree on (if any). */
export interface BenchmarkRun {
  readonly events: number;
  readonly units: number;
  readonly check?: number;
}

export interface BenchmarkVariant {
  readonly run: (size: number, seed: number) => BenchmarkRun | Promise<BenchmarkRun>;
  /** Loads what `run` needs, before anything is timed (module loading is not the model's speed; the queue's Redis and workers). */
  readonly load?: () => void | Promise<void>;
  readonly description: string;
}

export interface Benchmark {
  readonly title: string;
  /** What a unit of work is, singular: `customer`, `operation`. JSON key: `<unit>sPerSecond`. */
  readonly unit: string;
  /** The flag that sets the size, and its default. */
  readonly sizeFlag: string;
  readonly defaultSize: number;
  /** What the size counts, plural, when it is not the units of work (`vCPUs`). */
  readonly sizeUnit?: string;
  /** Name of the check figure in the output, when variants must agree on it. */
  readonly checkName?: string;
  /**
   * Wall-time ratios to print and put in the JSON: on `variant`, field `name` = wall of `over`
   * / wall of `variant` (a speed-up), or its inverse when `inverse` (a slow-down); `cold<Name>`
   * the same from the cold runs.
   */
  readonly ratios?: readonly { readonly name: string; readonly variant: string; readonly over: string; readonly inverse?: boolean; /** The figure compared (default wallMs: a time ratio). */ readonly of?: 'wallMs' | 'peakRssBytes' }[];
  /** Wall-time differences per unit to print and put in the JSON: on `variant`, field `name` = its wall per unit less `over`'s, in ms (`cold<Name>` from the cold runs). */
  readonly perUnitDifferences?: readonly { readonly name: string; readonly variant: string; readonly over: string }[];
  /** Why the benchmark cannot run on this machine (a program it needs is missing), or undefined when it can: it is then skipped with that line. */
  readonly requires?: () => string | undefined;
  /**
   * Each process runs the variant once, not three times: the figures are a one-off run's (wall,
   * events/s, peak RSS), for runs too long to repeat. Processes default to one (`--repeats`).
   */
  readonly once?: boolean;
  /** Also estimate the bytes the run allocates per event (V8's sampling heap profiler; `once` only). */
  readonly allocation?: boolean;
  /** Too slow for every `pnpm bench`: runs only when `--only` names it (or one of its variants). */
  readonly optIn?: boolean;
  readonly variants: Readonly<Record<string, BenchmarkVariant>>;
}

const mm1 = (f: (p: Mm1Params) => Mm1Result) => (size: number, seed: number): BenchmarkRun => {
  const r = f({ customers: size, seed });
  return { events: r.events, units: r.customers, check: r.meanWaitNs };
};

const ipi = (backend: string, mode: 'x2apic-physical' | 'x2apic-cluster', accounting = false) => (size: number): BenchmarkRun => {
  // Loaded on use, so the M/M/1 workers' peak RSS does not include the whole model.
  const { runIpiBroadcast } = require('./ipi/ipi-broadcast') as typeof import('./ipi/ipi-broadcast');
  const r = runIpiBroadcast(backend, mode, size, accounting);
  return { events: r.events, units: r.operations };
};

const loadIpi = (): void => void require('./ipi/ipi-broadcast');
const loadIpiAccounting = (): void => {
  require('./ipi/ipi-broadcast');
  require('@ipilab/accounting');
};
const loadScenario = (): void => void require('@ipilab/scenario');

const ROOT = require('node:path').join(__dirname, '..', '..', '..') as string;
const EXAMPLES = require('node:path').join(ROOT, 'examples', 'scenarios') as string;

/** The reference scenario for `factor` x `size` ms of simulated time, accounting on. */
const reference = (factor: number) => (size: number, seed: number): BenchmarkRun => {
  const s = require('@ipilab/scenario') as typeof import('@ipilab/scenario');
  const ms = size * factor;
  const out = s.runScenario(s.loadScenario(`${EXAMPLES}/reference-large.yaml`, [`run.duration=${ms}ms`, `run.seed=${seed}`]));
  return { events: out.events, units: ms };
};

/** A sweep of 8 runs (4 vCPU counts x 2 replications) on `workers` threads, kept between sweeps (the first sweep of a process starts them: the cold figure). */
const sweep = (workers: number) => async (size: number, seed: number): Promise<BenchmarkRun> => {
  const s = require('@ipilab/scenario') as typeof import('@ipilab/scenario');
  const out = await s.sweepScenario(`${EXAMPLES}/amdahl-scaling.yaml`, [`run.duration=${size}ms`, 'run.replications=2', `run.seed=${seed}`], ['vms[0].vcpus=2,4,8,16'], { workers });
  return { events: out.events, units: out.points.length * out.replications };
};

/**
 * The same sweep as `sweep`, its runs through a BullMQ queue on a local Redis to `workers` worker
 * processes (one run at a time each), the coordinator being this process: what the queue costs
 * per run against the in-process pool (`sweep/workers-N`).
 */
const queued = (workers: number) => async (size: number, seed: number): Promise<BenchmarkRun> => {
  const s = require('@ipilab/scenario') as typeof import('@ipilab/scenario');
  const { benchQueueExecutor } = require('./queue/queued-sweep') as typeof import('./queue/queued-sweep');
  const { executor, done } = await benchQueueExecutor(workers);
  const out = await s.sweepScenario(`${EXAMPLES}/amdahl-scaling.yaml`, [`run.duration=${size}ms`, 'run.replications=2', `run.seed=${seed}`], ['vms[0].vcpus=2,4,8,16'], { executor });
  await done();
  return { events: out.events, units: out.points.length * out.replications };
};
/**
 * `reps` x 4 runs of 10 us simulated each (nearly nothing to run), in-process (one thread) or
 * through the queue (one worker): the difference in wall time per run is what the queue costs a
 * run (enqueue, take, report, collect), whatever the run.
 */
const tiny = (through: 'thread' | 'queue') => async (reps: number, seed: number): Promise<BenchmarkRun> => {
  const s = require('@ipilab/scenario') as typeof import('@ipilab/scenario');
  const queue = through === 'queue' ? await (require('./queue/queued-sweep') as typeof import('./queue/queued-sweep')).benchQueueExecutor(1) : undefined;
  const out = await s.sweepScenario(`${EXAMPLES}/amdahl-scaling.yaml`, ['run.duration=10us', `run.replications=${reps}`, `run.seed=${seed}`], ['vms[0].vcpus=2,4,8,16'], queue === undefined ? { workers: 1 } : { executor: queue.executor });
  await queue?.done();
  return { events: out.events, units: out.points.length * out.replications };
};
/** Redis and the workers start before anything is timed. */
const loadQueue = (workers: number) => async (): Promise<void> => {
  require('@ipilab/scenario');
  await (require('./queue/queued-sweep') as typeof import('./queue/queued-sweep')).queueParts(workers);
};

const CHURN = require('node:path').join(__dirname, '..', 'scenarios', 'churn-1024-pcpus.yaml') as string;

/**
 * packages/bench/scenarios/churn-1024-pcpus.yaml (one VM churning shootdowns on a 1,024-pCPU
 * host) with `vcpus` vCPUs for `ms` simulated ms; 'size' takes the benchmark's size.
 */
const churn = (vcpus: number | 'size', ms: number | 'size') => (size: number, seed: number): BenchmarkRun => {
  const s = require('@ipilab/scenario') as typeof import('@ipilab/scenario');
  const n = vcpus === 'size' ? size : vcpus;
  const d = ms === 'size' ? size : ms;
  const out = s.runScenario(s.loadScenario(CHURN, [`vms[0].vcpus=${n}`, `run.duration=${d}ms`, `run.seed=${seed}`]));
  return { events: out.events, units: d };
};

const CLI = require('node:path').join(ROOT, 'packages', 'cli', 'dist', 'main.js') as string;

/**
 * `calls` whole `ipilab` processes one after another, as a user starts them from the repository
 * root (`command` 'direct': node on the built CLI; 'npx': the repository's bin through npx), each
 * with `args`; a run's events are read from its --json output. Wall per call is a one-off
 * command's whole cost: Node's start-up, module loading, V8 compiling the model, the work.
 */
const startup = (command: 'direct' | 'npx', args: readonly string[]) => (calls: number): BenchmarkRun => {
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
  let events = 0;
  for (let i = 0; i < calls; i++) {
    const [cmd, argv] = command === 'direct' ? [process.execPath, [CLI, ...args]] : ['npx', ['ipilab', ...args]];
    const r = spawnSync(cmd, argv, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
    if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')}: exit ${r.status}: ${r.stderr.split('\n')[0]}`);
    if (args.includes('--json')) events += (JSON.parse(r.stdout) as { events: number }).events;
  }
  return { events, units: calls };
};

const litmus = (which: 'classic' | 'largest') => (size: number): BenchmarkRun => {
  const l = require('./litmus/litmus') as typeof import('./litmus/litmus');
  return which === 'classic' ? l.runClassic(size) : l.runLargest(size);
};
const loadLitmus = (): void => (require('./litmus/litmus') as typeof import('./litmus/litmus')).loadLitmus();

/** Benchmarks by name, each with its variants. */
export const BENCHMARKS: Readonly<Record<string, Benchmark>> = {
  mm1: {
    title: 'M/M/1 at load 0.9',
    unit: 'customer',
    sizeFlag: 'customers',
    defaultSize: 1_000_000,
    checkName: 'meanWaitNs',
    variants: {
      ipilab: { run: mm1(runMm1Ipilab), description: '@ipilab/core Simulation, callbacks' },
      ceiling: { run: mm1(runMm1Ceiling), description: 'hand-written typed-array heap, inline event kinds' },
      simjs: { run: mm1(runMm1Simjs), description: 'SIM.JS 2.0.3 (npm simjs) as documented: timers + a FCFS Facility' },
      'simjs-timers': { run: mm1(runMm1SimjsTimers), description: 'SIM.JS 2.0.3 bare entity timers + the FIFO the others use' },
    },
  },
  'ipi-broadcast': {
    title: 'IPI microbenchmark, broadcast, 80-vCPU VM on skylake-2s-80t (no event listener unless -accounting)',
    unit: 'operation',
    sizeFlag: 'ipi-ops',
    defaultSize: 2_000,
    variants: {
      'trap-physical': { run: ipi('trap', 'x2apic-physical'), load: loadIpi, description: 'trap backend, x2APIC physical (79 exits per broadcast)' },
      'trap-cluster': { run: ipi('trap', 'x2apic-cluster'), load: loadIpi, description: 'trap backend, x2APIC cluster (5 exits per broadcast)' },
      'pv-physical': { run: ipi('pv', 'x2apic-physical'), load: loadIpi, description: 'pv backend (1 hypercall per broadcast)' },
      'posted-physical': { run: ipi('posted', 'x2apic-physical'), load: loadIpi, description: 'posted backend (broadcasts take the trap path)' },
      'pv-physical-accounting': { run: ipi('pv', 'x2apic-physical', true), load: loadIpiAccounting, description: 'pv-physical with the accounting streams subscribed' },
    },
  },
  reference: {
    title: 'examples/scenarios/reference-large.yaml (2 sockets, 80 threads, 4 overcommitted VMs, shootdown-heavy, accounting on)',
    unit: 'simulated-ms',
    sizeFlag: 'reference-ms',
    ratios: [{ name: 'wallVs1x', variant: 'duration-2x', over: 'duration-1x', inverse: true }],
    defaultSize: 100,
    variants: {
      'duration-1x': { run: reference(1), load: loadScenario, description: 'the reference scenario for N ms' },
      'duration-2x': { run: reference(2), load: loadScenario, description: 'the same for 2N ms: wall time should stay within 2.2x' },
    },
  },
  sweep: {
    title: 'ipilab sweep of examples/scenarios/amdahl-scaling.yaml: 4 points x 2 replications',
    unit: 'run',
    sizeFlag: 'sweep-ms',
    ratios: [{ name: 'speedupVs1Worker', variant: 'workers-2', over: 'workers-1' }],
    defaultSize: 100,
    variants: {
      'workers-1': { run: sweep(1), load: loadScenario, description: 'one worker thread' },
      'workers-2': { run: sweep(2), load: loadScenario, description: 'two worker threads (target: >= 1.7x faster on 2 cores)' },
    },
  },
  queue: {
    title: 'the sweep benchmark\'s sweep (8 runs) through a BullMQ queue on a local redis-server, against the in-process pool',
    unit: 'run',
    sizeFlag: 'queue-ms',
    ratios: [
      { name: 'slowdownVsInProcess', variant: 'redis-1-worker', over: 'in-process-1', inverse: true },
      { name: 'slowdownVsInProcess', variant: 'redis-2-workers', over: 'in-process-2', inverse: true },
    ],
    requires: () => (require('./queue/queued-sweep') as typeof import('./queue/queued-sweep')).redisMissing(),
    defaultSize: 100,
    variants: {
      'in-process-1': { run: sweep(1), load: loadScenario, description: 'one worker thread in the sweep\'s process (as sweep/workers-1)' },
      'in-process-2': { run: sweep(2), load: loadScenario, description: 'two worker threads in the sweep\'s process (as sweep/workers-2)' },
      'redis-1-worker': { run: queued(1), load: loadQueue(1), description: 'one worker process through Redis (target: slowdown < 1.05, the queue\'s cost per run < 5% of a 100 ms run)' },
      'redis-2-workers': { run: queued(2), load: loadQueue(2), description: 'two worker processes through Redis' },
    },
  },
  'queue-overhead': {
    title: 'the queue\'s cost per run: 4 x N runs of 10 us simulated (almost nothing to run), in-process against through Redis, one worker each',
    unit: 'run',
    sizeFlag: 'overhead-reps',
    ratios: [{ name: 'slowdownVsInProcess', variant: 'redis-1-worker', over: 'in-process-1', inverse: true }],
    perUnitDifferences: [{ name: 'queueCostPerRunMs', variant: 'redis-1-worker', over: 'in-process-1' }],
    requires: () => (require('./queue/queued-sweep') as typeof import('./queue/queued-sweep')).redisMissing(),
    defaultSize: 16,
    variants: {
      'in-process-1': { run: tiny('thread'), load: loadScenario, description: 'one worker thread in the sweep\'s process' },
      'redis-1-worker': { run: tiny('queue'), load: loadQueue(1), description: 'one worker process through Redis: 1/(runs/s) less in-process-1\'s is the queue\'s cost per run' },
    },
  },
  scale: {
    title: 'packages/bench/scenarios/churn-1024-pcpus.yaml (ebizzy free=madvise, trap, x2APIC cluster, 1,024 pCPUs) by vCPU count',
    unit: 'simulated-ms',
    sizeFlag: 'scale-ms',
    defaultSize: 100,
    once: true,
    allocation: true,
    optIn: true,
    variants: {
      'vcpus-64': { run: churn(64, 'size'), load: loadScenario, description: '64 vCPUs for N simulated ms' },
      'vcpus-256': { run: churn(256, 'size'), load: loadScenario, description: '256 vCPUs' },
      'vcpus-1024': { run: churn(1024, 'size'), load: loadScenario, description: '1,024 vCPUs (target: events/s within 25 % of vcpus-64)' },
    },
  },
  duration: {
    title: 'packages/bench/scenarios/churn-1024-pcpus.yaml by simulated duration at N vCPUs (peak RSS should not grow with it)',
    unit: 'simulated-ms',
    sizeFlag: 'duration-vcpus',
    defaultSize: 256,
    sizeUnit: 'vCPUs',
    once: true,
    optIn: true,
    ratios: [{ name: 'peakRssVs100ms', variant: 'ms-1000', over: 'ms-100', inverse: true, of: 'peakRssBytes' }],
    variants: {
      'ms-10': { run: churn('size', 10), load: loadScenario, description: '10 simulated ms' },
      'ms-100': { run: churn('size', 100), load: loadScenario, description: '100 simulated ms' },
      'ms-1000': { run: churn('size', 1000), load: loadScenario, description: '1,000 simulated ms (target: peak RSS within 1.3x of ms-100)' },
    },
  },
  startup: {
    title: 'one-off ipilab commands, whole processes started one after another from the repository root',
    unit: 'call',
    sizeFlag: 'startup-calls',
    defaultSize: 5,
    once: true,
    variants: {
      'help-direct': { run: startup('direct', ['--help']), description: 'node packages/cli/dist/main.js --help (target: < 0.3 s a call)' },
      'help-npx': { run: startup('npx', ['--help']), description: 'npx ipilab --help: npx\'s own start-up, then the same' },
      'reference-oneoff': { run: startup('direct', ['run', 'examples/scenarios/reference-large.yaml', '--json']), description: 'ipilab run reference-large.yaml --json: events/s of a one-off run, against reference/duration-1x\'s warm figure (target: within 1.5x)' },
    },
  },
  litmus: {
    title: 'LKMM litmus checking (ipilab litmus) of examples/litmus/classic; events are candidate executions examined',
    unit: 'test',
    sizeFlag: 'litmus-passes',
    defaultSize: 20,
    variants: {
      classic: { run: litmus('classic'), load: loadLitmus, description: 'every test of the classic set, N passes: tests checked per second' },
      largest: { run: litmus('largest'), load: loadLitmus, description: 'the classic test with the most candidate executions, N times: 1 / tests per second is its time' },
    },
  },
};
