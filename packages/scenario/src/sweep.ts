import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { Piscina } from 'piscina';
import { ScenarioError } from './errors';
import { parseAxis, readGridFile, type Axis } from './axes';
import { checkPoints, pointParams } from './check-points';
import { parseOverrideValue, type SetArg } from './load';
import { scenarioSha256, type Provenance } from './provenance';
import { SweepJournal } from './sweep-journal';
import { summarizeRanOn, type RanOnSummary } from './ran-on';
import { ownSeeds, replicationSeeds } from './replication-seeds';
import { scenarioFileOf, type ScenarioRef } from './scenario-source';
import { completeEstimate } from './incomplete';
import { metricEstimates, type MetricEstimate } from './metrics';
import { estimate, type Estimate } from './statistics';
import type { Scenario } from './schema';
import type { SweepTask, SweepTaskResult } from './sweep-worker';

/** One axis of a sweep's grid: a scenario key and its values. */
export interface GridAxis {
  readonly path: string;
  readonly values: readonly string[];
}

/** One point of the grid: its key values and each VM's replicated figures. */
export interface SweepPoint {
  /** This point's value for each grid path. */
  readonly params: Record<string, string>;
  /** The seeds this point ran, when not the output's `seeds` (run.seed or run.replications on an axis). */
  readonly seeds?: readonly number[];
  /** Per VM; `ranOn` and `pcpusUsed` (RanOnSummary) say where its vCPU threads ran, over the replications. */
  readonly vms: Record<string, { figure: string; higherIsBetter: boolean; estimate: Estimate; incomplete?: number; serialFraction: Estimate; slowdownVsAlone?: Estimate; slowdownVsBareMetal?: Estimate; metrics: MetricEstimate[] } & RanOnSummary>;
  /** Replications that failed, with the seed and the message; the others still count. */
  readonly errors: { seed: number; message: string }[];
  /** Replications not run because the sweep was interrupted (absent when all ran); the estimates count the others. */
  readonly missing?: number;
}

/** What `sweepScenario` returns: every point, the axes, and the replications. */
export interface SweepOutput {
  readonly scenario: string;
  readonly grid: readonly GridAxis[];
  /** The first point's replications and seeds; a point that ran others lists its own (SweepPoint.seeds). */
  readonly replications: number;
  readonly seeds: readonly number[];
  readonly workers: number;
  /**
   * Each worker thread that ran runs of this sweep (the journal's too, on --resume), in the order
   * of the first run each finished by point and seed: its runs and its largest V8 heap as its runs
   * ended, MiB. A measurement, like meta's times: it differs from one sweep to the next.
   */
  readonly workerHeap?: readonly WorkerHeap[];
  /** Simulated events over all runs (for throughput figures). */
  readonly events: number;
  readonly points: readonly SweepPoint[];
  /** The sweep was stopped (Ctrl-C, SIGTERM) after `runs` of its `of` runs: points lack replications (`missing`). */
  readonly interrupted?: { readonly runs: number; readonly of: number };
  /** What made this output (added by the CLI; provenance.ts). */
  readonly meta?: Provenance;
}

/** One worker thread of a sweep: how many of its runs it ran and its heap (SweepOutput.workerHeap). */
export interface WorkerHeap {
  readonly runs: number;
  /** The largest heap its isolate held (V8 total_heap_size) as one of its runs ended, MiB (0.1). */
  readonly heapMiB: number;
  /** The largest of its live and not yet collected objects then (V8 used_heap_size), MiB (0.1). */
  readonly usedMiB: number;
}

/** Per worker thread, from the results its runs returned (results without a sample are left out). */
export function workerHeaps(results: readonly SweepTaskResult[]): WorkerHeap[] {
  const by = new Map<string, { runs: number; heap: number; used: number }>();
  for (const r of results) {
    if (r.worker === undefined) continue;
    const w = by.get(r.worker.id) ?? { runs: 0, heap: 0, used: 0 };
    w.runs++;
    w.heap = Math.max(w.heap, r.worker.heapBytes);
    w.used = Math.max(w.used, r.worker.usedBytes);
    by.set(r.worker.id, w);
  }
  const mib = (b: number): number => Math.round(b / 104857.6) / 10;
  return [...by.values()].map((w) => ({ runs: w.runs, heapMiB: mib(w.heap), usedMiB: mib(w.used) }));
}

/** Parses `--grid path=v1,v2,...`: values split at top-level commas, YAML flow values (`[0,1]`) and ranges (`2..32*2`) allowed. */
export function parseGrid(arg: string): GridAxis {
  const a = parseAxis('--grid', arg, 'vms[0].vcpus=2,4,8');
  return { path: a.path, values: a.values.map((v) => v.text) };
}

/** Every combination of the axes' values, first axis slowest. */
export function gridPoints(axes: readonly GridAxis[]): Record<string, string>[] {
  let points: Record<string, string>[] = [{}];
  for (const a of axes) points = points.flatMap((p) => a.values.map((v) => ({ ...p, [a.path]: v })));
  return points;
}

/** How a sweep runs: workers, progress and run callbacks, a journal to resume from. */
export interface SweepOptions {
  /** Worker threads (default: available parallelism, at most the number of runs). */
  readonly workers?: number;
  /** Called as each run finishes, with the runs done and the total. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Called as each run is handed to a worker (which starts it at once), with its point and seed. */
  readonly onRunStart?: (params: Readonly<Record<string, string>>, seed: number) => void;
  /** A grid file (`--grid-file`, readGridFile): its axes come after the `--grid` ones. */
  readonly gridFile?: string;
  /** The largest grid file read (readInputText; default DEFAULT_MAX_INPUT_BYTES). */
  readonly maxInputBytes?: number;
  /**
   * A grid file's axes as a sweep's provenance recorded them (`meta.overrides.gridFileAxes`, the
   * output's `grid` form; `ipilab rerun`): after the others, each value read back as the YAML value
   * its text is, never split at commas nor expanded as a range.
   */
  readonly recordedAxes?: readonly GridAxis[];
  /**
   * The journal (sweep-journal.ts): each finished run is appended to `path` as it ends; with
   * `resume` the runs it holds are taken from it and only the others run. `shown` names its
   * directory in messages. The caller removes it once the outputs are written.
   */
  readonly journal?: { readonly path: string; readonly resume: boolean; readonly shown: string };
  /** Aborting stops the sweep: no run starts after it, runs under way are stopped; the output has what finished (`interrupted`). */
  readonly signal?: AbortSignal;
  /**
   * Where the runs run (default: this machine's worker threads, `workers` of them). A queue
   * (@ipilab/queue) spreads them over machines; the output is the same for the same seeds.
   */
  readonly executor?: SweepExecutor;
}

/** A sweep's runs as handed to an executor: checked, ordered, with the sweep's identity. */
export interface SweepPlan {
  /** The sweep's scenario name (or file name), for naming it (a queue's name). */
  readonly name: string;
  /** sweepIdentity: the same sweep (scenarios, points, seeds) gets the same identity. */
  readonly identity: string;
  /** Every run of the sweep. */
  readonly tasks: readonly SweepTask[];
  /** Indices into `tasks` of the runs to run, in the order to start them (longest first); runs already finished are left out. */
  readonly order: readonly number[];
  /** Each point's grid values, by point index. */
  readonly points: readonly Readonly<Record<string, string>>[];
}

/** What an executor tells the sweep as it goes. */
export interface SweepHooks {
  /** A run was started (on whichever worker). */
  readonly onStart: (task: SweepTask) => void;
  /** A run finished or failed (`error`); each run of the plan once at most. */
  readonly onResult: (result: SweepTaskResult) => void;
}

/**
 * Runs a sweep's runs somewhere: in worker threads here (the default), or through a job queue on
 * other machines. It returns once every run of `plan.order` has reported, or once `signal`
 * aborts (runs not reported are then missing from the output), with the number of workers that
 * ran them (the output's `workers`).
 */
export interface SweepExecutor {
  /** Runs `plan.order`'s runs, reporting each through `hooks`; stops taking runs when `signal` aborts. */
  execute(plan: SweepPlan, hooks: SweepHooks, signal?: AbortSignal): Promise<{ workers: number }>;
}

/** Which sweep this is, for its journal: every point's checked scenario, its parameters, and every run's seed. */
export function sweepIdentity(scenarios: readonly unknown[], points: readonly Record<string, string>[], tasks: readonly { point: number; seed: number }[]): string {
  return scenarioSha256({ scenarios, points, runs: tasks.map((t) => [t.point, t.seed]) });
}

/** Recorded axes (SweepOptions.recordedAxes) as axes: readGridFile writes each text so that it reads back as its value. */
function recordedAxes(axes: readonly GridAxis[]): Axis[] {
  const from = 'meta.overrides.gridFileAxes';
  return axes.map((a) => ({ path: a.path, values: a.values.map((text) => ({ text, value: parseOverrideValue(text), origin: `${from} ${a.path}=${text}` })), shown: `${from} ${a.path}` }));
}

/**
 * A point's expected cost, for ordering only: simulated vCPU-time (duration x vCPUs over every
 * VM copy), doubled when each VM is also run alone, and again when each also runs on bare metal
 * (cheaper runs than under KVM, so this over-ranks them a little). The model's events grow with
 * the vCPUs that run, so this ranks the runs of one sweep well enough without running them. An
 * estimate.
 */
export function estimatedWork(s: Scenario): number {
  const vcpus = s.vms.reduce((n, vm) => n + vm.vcpus * vm.count, 0);
  const copies = s.vms.reduce((n, vm) => n + vm.count, 0);
  const baselines = (s.run.slowdownVsAlone && copies > 1 ? 1 : 0) + (s.run.slowdownVsBareMetal && s.hypervisor.mode !== 'bare-metal' ? 1 : 0);
  return s.run.duration * vcpus * (1 + baselines);
}

/** Indices of `work` from the largest to the smallest; equal work keeps its order (seeds ascending). */
export function longestFirst(work: readonly number[]): number[] {
  return work.map((_, i) => i).sort((a, b) => work[b]! - work[a]! || a - b);
}

/**
 * Worker pools by size, kept between sweeps: a thread that has run a sweep has the model loaded
 * and compiled by V8's optimizing tier, so the next sweep in the same process starts at full
 * speed (a fresh thread spends ~0.5 s loading the model and its first second or so of runs at a
 * fraction of warm speed). A pool starts no thread until a run is handed to it, and at most one
 * per run under way (minThreads 0): a sweep of 3 runs starts 3 threads whatever the pool's size.
 * Idle threads do not keep the process alive (piscina unrefs them) and exit after a minute;
 * `closeSweepWorkers()` ends them at once.
 */
const pools = new Map<number, Piscina>();

function sweepPool(workers: number): Piscina {
  let pool = pools.get(workers);
  if (pool === undefined) {
    // Workers load compiled JavaScript: beside this file in dist/, or dist/ when running from sources (tests).
    const beside = resolve(__dirname, 'sweep-worker.js');
    const filename = existsSync(beside) ? beside : resolve(__dirname, '..', 'dist', 'sweep-worker.js');
    // atomics 'disabled': between runs the thread goes back to its event loop. With piscina's
    // default ('sync') it blocks in Atomics.wait inside the last run's microtask and takes the next
    // run from there, so the job never ends and V8 never drops what WeakRef.deref() kept alive for
    // it (inversify's planning caches hold the run's container through WeakRefs): every run's model stayed reachable,
    // +0.45 MiB a run of noisy-neighbour, +1.6 MiB a run of reference-large. A message costs
    // microseconds next to a run.
    pool = new Piscina({ filename, minThreads: 0, maxThreads: workers, idleTimeout: 60_000, atomics: 'disabled' });
    pools.set(workers, pool);
  }
  return pool;
}

/**
 * Runs one sweep run on a warm worker thread of the pool of `threads` threads (kept between
 * calls). Aborting `signal` stops the run's thread and rejects. A queue's worker runs its jobs
 * here, so a run gives the same figures whichever machine runs it.
 */
export async function runOnSweepThread(task: SweepTask, threads: number, signal?: AbortSignal): Promise<SweepTaskResult> {
  return (await sweepPool(threads).run(task, signal === undefined ? {} : { signal })) as SweepTaskResult;
}

/** The default executor: `workers` worker threads of this process, each taking the next run in the plan's order. */
export function threadExecutor(workers?: number): SweepExecutor {
  return {
    async execute(plan, hooks, signal) {
      // A lane with no run to take (a resumed sweep's) starts no thread: the pool starts them as runs arrive.
      const n = Math.max(1, Math.min(workers ?? availableParallelism(), plan.tasks.length));
      // A function, not a test of signal.aborted in place: an await between two reads can change it.
      const stopped = (): boolean => signal?.aborted === true;
      // One lane per worker, each taking the next run in `order` when its last one finishes: the
      // pool only ever holds as many runs as it has threads, so runs start exactly longest first
      // (handed all at once, piscina does not keep submission order between its threads).
      let next = 0;
      const lane = async (): Promise<void> => {
        while (next < plan.order.length && !stopped()) {
          const t = plan.tasks[plan.order[next++]!]!;
          hooks.onStart(t);
          let r: SweepTaskResult;
          try {
            // Aborted, the run's worker thread is stopped: the run is lost, not failed.
            r = await runOnSweepThread(t, n, signal);
          } catch (e) {
            if (stopped()) return;
            r = { point: t.point, seed: t.seed, error: String((e as Error | undefined)?.message ?? e).split('\n')[0]! };
          }
          hooks.onResult(r);
        }
      };
      await Promise.all(Array.from({ length: n }, lane));
      return { workers: n };
    },
  };
}

/** The worker threads alive in this process's sweep pools: started as runs arrive, ended an idle minute later. */
export function sweepThreads(): number {
  return [...pools.values()].reduce((n, p) => n + p.threads.length, 0);
}

/** Ends the worker threads kept for later sweeps (e.g. before a long pause, or in tests). */
export async function closeSweepWorkers(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.all(all.map((p) => p.destroy()));
}

/**
 * Runs every grid point `run.replications` times on worker threads (piscina). Replication k of
 * a point uses its seed run.seed + k (replicationSeeds: common random numbers across the points
 * whose run.seed agrees). Every point is
 * validated before anything runs; a run that fails is reported with its point and seed and
 * does not lose the others. `file` may be a recorded scenario (`ipilab rerun`).
 */
export async function sweepScenario(file: ScenarioRef, sets: readonly SetArg[], grids: readonly string[], options: SweepOptions = {}): Promise<SweepOutput> {
  const parsed: Axis[] = [
    ...grids.map((g) => parseAxis('--grid', g, 'vms[0].vcpus=2,4,8')),
    ...(options.gridFile === undefined ? [] : readGridFile(options.gridFile, options.maxInputBytes)),
    ...recordedAxes(options.recordedAxes ?? []),
  ];
  if (parsed.length === 0) throw new ScenarioError('sweep: expected at least one --grid path=v1,v2,... or a --grid-file');
  // Every point is checked, as `run` checks, before anything runs: a bad value fails fast, with
  // every problem of every point. Workers get the checked scenarios, so no run reads the file again.
  const checked = checkPoints(file, sets, parsed, '--grid');
  const validated = checked.loaded;
  const points = checked.points.map((pt) => pointParams(parsed, pt));
  const axes: GridAxis[] = parsed.map((a) => ({ path: a.path, values: a.values.map((v) => v.text) }));
  const first = validated[0]!.scenario;
  const reps = first.run.replications;
  const seeds = replicationSeeds(first);
  const pointSeeds = validated.map((l) => replicationSeeds(l.scenario));
  const tasks: SweepTask[] = validated.flatMap((loaded, point) => pointSeeds[point]!.map((seed) => ({ loaded, seed, point })));
  // Longest first (LPT): the runs that take longest start first, so no worker is left with one
  // long run at the end while the others idle. Results are placed by point, so the order never
  // shows in the output.
  const work = validated.map((l) => estimatedWork(l.scenario));
  // A journal's finished runs are not run again; the order of the others is as without it.
  const j = options.journal;
  const identity = sweepIdentity(validated.map((l) => l.scenario), points, tasks);
  const journal = j === undefined ? undefined : (j.resume ? SweepJournal.resume : (p: string, id: string) => SweepJournal.create(p, id, tasks.length))(j.path, identity, j.shown);
  const finished = new Set((journal?.done ?? []).map((r) => `${r.point}/${r.seed}`));
  const order = longestFirst(tasks.map((t) => work[t.point]!)).filter((k) => !finished.has(`${tasks[k]!.point}/${tasks[k]!.seed}`));
  const results: SweepTaskResult[] = [...(journal?.done ?? [])];
  let done = results.length;
  if (done > 0) options.onProgress?.(done, tasks.length);
  const executor = options.executor ?? threadExecutor(options.workers);
  const plan: SweepPlan = { name: first.name ?? scenarioFileOf(file), identity, tasks, order, points };
  let workers: number;
  try {
    ({ workers } = await executor.execute(
      plan,
      {
        onStart: (t) => options.onRunStart?.(points[t.point]!, t.seed),
        // An executor reports each run once (SweepHooks).
        onResult: (r) => {
          results.push(r);
          journal?.append(r);
          options.onProgress?.(++done, tasks.length);
        },
      },
      options.signal,
    ));
  } finally {
    journal?.close();
  }
  const interrupted = results.length < tasks.length;
  // Completion order depends on timing; the output must not.
  results.sort((a, b) => a.point - b.point || a.seed - b.seed);
  return {
    scenario: first.name ?? scenarioFileOf(file),
    grid: axes,
    replications: reps,
    seeds,
    workers,
    workerHeap: workerHeaps(results),
    events: results.reduce((n, r) => n + (r.events ?? 0), 0),
    ...(interrupted ? { interrupted: { runs: results.length, of: tasks.length } } : {}),
    points: points.map((params, i) => {
      const mine = results.filter((r) => r.point === i);
      const missing = tasks.filter((t) => t.point === i).length - mine.length;
      const ok = mine.filter((r) => r.error === undefined);
      const vms: SweepPoint['vms'] = {};
      const names = ok.length > 0 ? Object.keys(ok[0]!.vms!) : [];
      for (const name of names) {
        const rs = ok.map((r) => r.vms![name]!);
        const slow = rs.map((r) => r.slowdownVsAlone);
        const native = rs.map((r) => r.slowdownVsBareMetal);
        const own = completeEstimate(rs.map((r) => r.value));
        vms[name] = {
          figure: rs[0]!.figure,
          higherIsBetter: rs[0]!.higherIsBetter,
          estimate: own.estimate,
          ...(own.incomplete > 0 ? { incomplete: own.incomplete } : {}),
          serialFraction: estimate(rs.map((r) => r.serialFraction)),
          ...(slow.every((x) => x !== undefined) ? { slowdownVsAlone: completeEstimate(slow as number[]).estimate } : {}),
          ...(native.every((x) => x !== undefined) ? { slowdownVsBareMetal: completeEstimate(native as number[]).estimate } : {}),
          ...summarizeRanOn(rs.map((r) => r.ranOn)),
          metrics: metricEstimates(rs.map((r) => r.metrics)),
        };
      }
      return { params, ...ownSeeds(pointSeeds[i]!, seeds), vms, errors: mine.filter((r) => r.error !== undefined).map((r) => ({ seed: r.seed, message: r.error! })), ...(missing > 0 ? { missing } : {}) };
    }),
  };
}

/** A CSV text cell, quoted when it must be. */
export const csvText = (v: string): string => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

/** A CSV number cell: no NaN in a CSV, a figure not measured (incomplete, an interval from one replication) is empty. */
export const csvNum = (x: number | undefined): number | string => (x === undefined || !Number.isFinite(x) ? '' : x);

/** One CSV row per point and VM. */
export function sweepCsv(out: SweepOutput): string {
  const paths = out.grid.map((a) => a.path);
  // New columns go last: scripts that read columns by position keep working.
  const header = [...paths, 'vm', 'figure', 'mean', 'ci95Low', 'ci95High', 'n', 'serialFraction', 'slowdownVsAlone', 'errors', 'slowdownVsBareMetal', 'incomplete', 'metric', 'unit'];
  const q = csvText;
  const rows: string[] = [];
  for (const p of out.points) {
    const names = Object.keys(p.vms);
    if (names.length === 0) rows.push([...paths.map((k) => q(p.params[k]!)), '', '', '', '', '', '0', '', '', String(p.errors.length), '', '', '', ''].join(','));
    const num = csvNum;
    for (const name of names) {
      const v = p.vms[name]!;
      // One row per picked figure (one per VM by default).
      for (const m of v.metrics) {
        rows.push([...paths.map((k) => q(p.params[k]!)), q(name), q(m.figure), num(m.estimate.mean), num(m.estimate.ci95[0]), num(m.estimate.ci95[1]), m.estimate.n, num(v.serialFraction.mean), num(m.slowdownVsAlone?.mean), p.errors.length, num(m.slowdownVsBareMetal?.mean), m.incomplete ?? 0, q(m.metric), m.unit].join(','));
      }
    }
  }
  return `${header.join(',')}\n${rows.join('\n')}\n`;
}

