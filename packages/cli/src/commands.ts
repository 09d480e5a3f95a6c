import type { SingleBar } from 'cli-progress';
import type { GridAxis, IncompleteFigure, Override, Provenance, ScenarioRef, SetArg } from '@ipilab/scenario';
import { OutputPlan } from './outputs';
import { progressOn, tally, type ProgressStream, type WallClock } from './progress';
import { UsageError } from './usage-error';
import { toolVersion } from './version';

// The scenario package loads the model, zod, YAML and inversify; the formatters and reports load
// it too. Required when a command runs, never for --help or --version.
type ScenarioPackage = typeof import('@ipilab/scenario');
const scenarioPackage = (): ScenarioPackage => require('@ipilab/scenario') as ScenarioPackage;
type Format = typeof import('./format');
const format = (): Format => require('./format') as Format;
type Report = typeof import('@ipilab/report');
const report = (): Report => require('@ipilab/report') as Report;

/** Where a command prints, and what it runs. */
export interface Io {
  /** stdout: the results and nothing else. */
  readonly out: (s: string) => void;
  /** stderr: messages, and progress when it is a terminal. */
  readonly err: ProgressStream;
  /** The scenario is one recorded in an output's meta with its --set already applied (rerun). */
  readonly recorded?: boolean;
  /** The wall clock progress reads (tests give a fake one). */
  readonly clock?: WallClock;
}

/** Some output files could not be written after the run; the results went to stdout (exit 3). */
export class OutputsNotWritten extends Error {}
/** Some sweep runs failed (each was reported; the others were printed and written). */
export class SweepFailures extends Error {}

export interface RunFlags {
  readonly set: readonly string[];
  /** --metric: the figures each VM is judged by (run.metrics); absent or empty: the scenario's. */
  readonly metric?: readonly string[];
  readonly json?: boolean;
  readonly csv?: boolean;
  readonly out?: string;
  readonly html?: string;
}
export interface CompareFlags extends RunFlags {
  /** Every --vary given: compareScenario refuses all but one. */
  readonly vary: readonly string[];
}
export interface SweepFlags extends RunFlags {
  readonly grid: readonly string[];
  /** Read unless the scenario is recorded (rerun), whose grid file's axes are `gridFileAxes`. */
  readonly gridFile?: string;
  readonly gridFileAxes?: readonly GridAxis[];
  readonly workers?: string;
}
export interface TraceFlags {
  readonly set: readonly string[];
  /** The trace file; without it (rerun) the trace is printed. */
  readonly out?: string;
  readonly from?: string;
  readonly to?: string;
}

interface Started {
  readonly at: Date;
  readonly t0: number;
}
const start = (): Started => ({ at: new Date(), t0: performance.now() });

interface Base {
  readonly scenario: Readonly<Record<string, unknown>>;
  readonly resolved: boolean;
  readonly file: string;
  readonly dir: string;
}

function meta(started: Started, command: Provenance['command'], base: Base, overrides: Provenance['overrides'], seeds: readonly number[], replications: number): Provenance {
  return scenarioPackage().provenance({
    ipilab: toolVersion(),
    command,
    scenarioFile: base.file,
    scenarioDir: base.dir,
    scenario: base.scenario,
    resolved: base.resolved,
    overrides,
    seeds,
    replications,
    startedAt: started.at,
    wallSeconds: (performance.now() - started.t0) / 1000,
  });
}

/** The JSON output: the results' fields as they always were, then `meta`. */
function jsonDocument(result: object, m: Provenance): string {
  return `${JSON.stringify(scenarioPackage().toJsonValue({ ...result, meta: m }), null, 2)}\n`;
}

/** A CSV's provenance, beside it (its first line stays the header scripts read). */
function sidecar(m: Provenance): string {
  return `${JSON.stringify({ meta: m }, null, 2)}\n`;
}

/**
 * `--metric` as overrides of `run.metrics`: the whole list, then each item again with its own
 * origin, so a problem with `run.metrics[1]` is named after the `--metric` that gave it.
 */
export function metricOverrides(metrics: readonly string[] | undefined): Override[] {
  if (metrics === undefined || metrics.length === 0) return [];
  return [{ path: 'run.metrics', value: [...metrics], origin: `--metric ${metrics[0]}` }, ...metrics.map((m, i) => ({ path: `run.metrics[${i}]`, value: m, origin: `--metric ${m}` }))];
}

/** What a command applies to the scenario: --set, then --metric; nothing for a recorded scenario (rerun), which has them. */
function overridesOf(o: { readonly set: readonly string[]; readonly metric?: readonly string[] }, io: Io): SetArg[] {
  return io.recorded === true ? [] : [...o.set, ...metricOverrides(o.metric)];
}

/** The overrides a command's provenance records: --set always, --metric when given. */
function recorded(o: { readonly set: readonly string[]; readonly metric?: readonly string[] }): Provenance['overrides'] {
  return { set: [...o.set], ...(o.metric === undefined || o.metric.length === 0 ? {} : { metric: [...o.metric] }) };
}

/** The base scenario of a compare or sweep, read before the run; its errors are the command's to report. */
function tryBase(ref: ScenarioRef, sets: readonly SetArg[]): Base | undefined {
  try {
    return scenarioPackage().baseScenario(ref, sets);
  } catch {
    return undefined;
  }
}

/**
 * Writes the files, then prints `stdout`. When a file cannot be written the command still
 * delivers: the results go to stdout as JSON (unless stdout is that JSON already), stderr says
 * which file failed and why, and the caller exits 3. Returns whether every file was written.
 */
function deliver(io: Io, plan: OutputPlan, files: ReadonlyMap<string, string>, stdout: string, json: string): boolean {
  const failures = plan.write(files);
  io.out(stdout);
  if (failures.length === 0) return true;
  for (const f of failures) io.err.write(`ipilab: could not write ${f.shown}: ${f.reason}\n`);
  if (stdout === json) {
    io.err.write('ipilab: the results are not lost: they are the JSON on stdout\n');
  } else {
    io.out(json);
    io.err.write('ipilab: the results are not lost: they follow on stdout as JSON\n');
  }
  return false;
}

/** One stderr line per figure a run did not produce: whose, which, and what to change. */
function warnIncomplete(io: Io, figures: readonly IncompleteFigure[]): void {
  for (const f of figures) io.err.write(`${scenarioPackage().incompleteWarning(f)}\n`);
}

/** `ipilab run`. */
export async function runCommand(ref: ScenarioRef, o: RunFlags, io: Io): Promise<void> {
  const started = start();
  const plan = new OutputPlan();
  const dir = o.out === undefined ? undefined : plan.dir('--out', o.out, ['run.json', 'run.csv', 'run.csv.meta.json']);
  const html = o.html === undefined ? undefined : plan.file('--html', o.html);
  plan.check();
  const s = scenarioPackage();
  const loaded = s.loadScenarioRef(ref, overridesOf(o, io));
  const view = progressOn('run', io.err, io.clock);
  const t = view === undefined ? undefined : tally(view);
  let result;
  try {
    result = s.runWithSlowdown(loaded, undefined, t === undefined ? undefined : (p) => t(0, 1, p));
  } finally {
    view?.stop();
  }
  const m = meta(started, 'run', { scenario: loaded.scenario, resolved: true, file: loaded.file, dir: loaded.dir }, recorded(o), [result.seed], 1);
  const json = jsonDocument(result, m);
  const csv = format().runCsv(result);
  const files = new Map<string, string>();
  if (dir !== undefined) {
    files.set(dir['run.json']!, json);
    files.set(dir['run.csv']!, csv);
    files.set(dir['run.csv.meta.json']!, sidecar(m));
  }
  if (html !== undefined) files.set(html, await report().runReportHtml({ ...result, meta: m }, s.scenarioTopology(loaded.scenario)));
  warnIncomplete(io, s.incompleteOfRun(result));
  if (!deliver(io, plan, files, o.json === true ? json : o.csv === true ? csv : format().runTables(result), json)) throw new OutputsNotWritten();
}

/** `ipilab compare`. */
export async function compareCommand(ref: ScenarioRef, o: CompareFlags, io: Io): Promise<void> {
  const started = start();
  const plan = new OutputPlan();
  const dir = o.out === undefined ? undefined : plan.dir('--out', o.out, ['compare.json']);
  const html = o.html === undefined ? undefined : plan.file('--html', o.html);
  plan.check();
  const s = scenarioPackage();
  const sets = overridesOf(o, io);
  const base = tryBase(ref, sets);
  const view = progressOn('compare', io.err, io.clock);
  const t = view === undefined ? undefined : tally(view);
  let result;
  try {
    result = s.compareScenario(ref, sets, o.vary, undefined, t === undefined ? undefined : (done, total, p) => t(done, total, p, `run ${done + 1} of ${total}: `));
  } finally {
    view?.stop();
  }
  // compareScenario took exactly one --vary.
  const m = meta(started, 'compare', base ?? s.baseScenario(ref, sets), { ...recorded(o), vary: o.vary[0]! }, result.seeds, result.replications);
  const json = jsonDocument(result, m);
  const files = new Map<string, string>();
  if (dir !== undefined) files.set(dir['compare.json']!, json);
  if (html !== undefined) files.set(html, await report().compareReportHtml({ ...result, meta: m }));
  warnIncomplete(io, s.incompleteOfCompare(result));
  if (!deliver(io, plan, files, o.json === true ? json : format().compareTable(result), json)) throw new OutputsNotWritten();
}

/** `ipilab sweep`. */
export async function sweepCommand(ref: ScenarioRef, o: SweepFlags, io: Io): Promise<void> {
  const started = start();
  let workers: number | undefined;
  if (o.workers !== undefined) {
    workers = Number(o.workers);
    if (!Number.isSafeInteger(workers) || workers < 1) throw new UsageError(`--workers: expected a positive integer, got ${JSON.stringify(o.workers)}`);
  }
  const plan = new OutputPlan();
  const dir = o.out === undefined ? undefined : plan.dir('--out', o.out, ['sweep.json', 'sweep.csv', 'sweep.csv.meta.json']);
  const html = o.html === undefined ? undefined : plan.file('--html', o.html);
  plan.check();
  const s = scenarioPackage();
  const sets = overridesOf(o, io);
  const base = tryBase(ref, sets);
  // A progress bar with ETA on a terminal; nothing when output is piped.
  let bar: SingleBar | undefined;
  const result = await s.sweepScenario(ref, sets, o.grid, {
    ...(workers === undefined ? {} : { workers }),
    ...(io.recorded === true ? { recordedAxes: o.gridFileAxes ?? [] } : o.gridFile === undefined ? {} : { gridFile: o.gridFile }),
    onProgress: (done, total) => {
      if (io.err.isTTY !== true) return;
      if (bar === undefined) {
        const { SingleBar: Bar } = require('cli-progress') as typeof import('cli-progress');
        bar = new Bar({ stream: io.err as NodeJS.WritableStream, format: 'sweep [{bar}] {value}/{total} runs | ETA {eta_formatted}', hideCursor: true });
        bar.start(total, 0);
      }
      bar.update(done);
      if (done === total) bar.stop();
    },
  });
  // The grid file's axes follow the --grid ones (one each) in the output's grid: recorded, a rerun needs no grid file.
  const gridFile = o.gridFile === undefined ? {} : { gridFile: o.gridFile, gridFileAxes: result.grid.slice(o.grid.length).map((a) => ({ path: a.path, values: [...a.values] })) };
  const m = meta(started, 'sweep', base ?? s.baseScenario(ref, sets), { ...recorded(o), grid: [...o.grid], ...gridFile, workers: result.workers }, result.seeds, result.replications);
  const json = jsonDocument(result, m);
  const csv = s.sweepCsv(result);
  const files = new Map<string, string>();
  if (dir !== undefined) {
    files.set(dir['sweep.json']!, json);
    files.set(dir['sweep.csv']!, csv);
    files.set(dir['sweep.csv.meta.json']!, sidecar(m));
  }
  if (html !== undefined) files.set(html, await report().sweepReportHtml({ ...result, meta: m }));
  warnIncomplete(io, s.incompleteOfSweep(result));
  const written = deliver(io, plan, files, o.json === true ? json : o.csv === true ? csv : format().sweepTable(result), json);
  const failed = result.points.reduce((n, p) => n + p.errors.length, 0);
  for (const p of result.points) for (const e of p.errors) io.err.write(`ipilab: sweep point ${JSON.stringify(p.params)} seed ${e.seed} failed: ${e.message}\n`);
  if (!written) throw new OutputsNotWritten();
  if (failed > 0) throw new SweepFailures(`${failed} sweep run(s) failed`);
}

/** `ipilab trace`. */
export function traceCommand(ref: ScenarioRef, o: TraceFlags, io: Io): void {
  const started = start();
  const plan = new OutputPlan();
  const file = o.out === undefined ? undefined : plan.file('--out', o.out);
  plan.check();
  const s = scenarioPackage();
  const time = (flag: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const ns = s.parseDuration(/^\d+(\.\d+)?$/.test(v) ? Number(v) : v);
    if (ns === undefined) throw new s.ScenarioError(`--${flag}: expected a time such as 1ms or 250us, got ${JSON.stringify(v)}`);
    return ns;
  };
  const from = time('from', o.from);
  const to = time('to', o.to);
  const loaded = s.loadScenarioRef(ref, io.recorded === true ? [] : o.set);
  // The window must lie inside the run and not be empty: checked before anything runs.
  const durationNs0 = loaded.scenario.run.duration;
  const shown = (ns: number): string => `${+(ns / 1e6).toFixed(6)}ms`;
  if (from !== undefined && from >= durationNs0) throw new s.ScenarioError(`--from ${o.from}: expected a time before the end of the run (run.duration ${shown(durationNs0)})`);
  if (to !== undefined && to > durationNs0) throw new s.ScenarioError(`--to ${o.to}: expected a time no later than the end of the run (run.duration ${shown(durationNs0)})`);
  if (to !== undefined && to <= (from ?? 0)) throw new s.ScenarioError(`--to ${o.to}: expected a time after --from (${o.from ?? '0'})`);
  const view = progressOn('trace', io.err, io.clock);
  const t = view === undefined ? undefined : tally(view);
  const durationNs = loaded.scenario.run.duration;
  let trace;
  try {
    trace = s.traceScenario(loaded, {
      ...(from === undefined ? {} : { from }),
      ...(to === undefined ? {} : { to }),
      ...(t === undefined ? {} : { onProgress: (simulatedNs: number, events: number) => t(0, 1, { run: 1, runs: 1, simulatedNs, durationNs, events }) }),
    });
  } finally {
    view?.stop();
  }
  const overrides: Provenance['overrides'] = { set: [...o.set], ...(o.from === undefined ? {} : { from: o.from }), ...(o.to === undefined ? {} : { to: o.to }) };
  const m = meta(started, 'trace', { scenario: loaded.scenario, resolved: true, file: loaded.file, dir: loaded.dir }, overrides, [loaded.scenario.run.seed], 1);
  const json = `${JSON.stringify({ ...trace, meta: m })}\n`;
  if (file === undefined) {
    io.out(json);
    return;
  }
  const failures = plan.write(new Map([[file, json]]));
  if (failures.length === 0) {
    io.out(`wrote ${trace.traceEvents.length} trace events to ${o.out}\n`);
    return;
  }
  for (const f of failures) io.err.write(`ipilab: could not write ${f.shown}: ${f.reason}\n`);
  io.out(json);
  io.err.write('ipilab: the trace is not lost: it is on stdout\n');
  throw new OutputsNotWritten();
}
