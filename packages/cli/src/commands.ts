import { existsSync, rmSync, statfsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { SingleBar } from 'cli-progress';
import type { GridAxis, IncompleteFigure, Override, Provenance, ScenarioRef, SetArg } from '@ipilab/scenario';
import { OutputPlan } from './outputs';
import { progressOn, tally, type ProgressStream, type WallClock } from './progress';
import { UsageError } from './usage-error';
import { prefetchToolVersion, toolVersion } from './version';
import { queueExecutor, queueFlag, type QueuedSetup } from './queue-commands';

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
  /**
   * Set when the command runs on `--timeout`'s watched thread (watchdog.ts): it does not start
   * another, and a sweep stops, as on Ctrl-C, when this aborts (its reason: 'timeout', 'SIGINT', 'SIGTERM').
   */
  readonly watched?: AbortSignal;
  /** `--max-input-size`: the largest input file read (default: DEFAULT_MAX_INPUT_BYTES, rerun's results DEFAULT_MAX_RESULT_BYTES). */
  readonly maxInputBytes?: number;
}

/** The command ran on a watched thread (--timeout) and ended with this exit code (already reported). */
export class ExitCode extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** Some output files could not be written after the run; the results went to stdout (exit 3). */
export class OutputsNotWritten extends Error {}
/** Some sweep runs failed (each was reported; the others were printed and written). */
export class SweepFailures extends Error {}
/** A sweep stopped by a signal (the process exits 128 + its number) or by --timeout (exit 1) after writing what finished. */
export class Interrupted extends Error {
  constructor(readonly signal: 'SIGINT' | 'SIGTERM' | 'timeout') {
    super(`interrupted by ${signal}`);
  }
}

export interface RunFlags {
  readonly set: readonly string[];
  /** --metric: the figures each VM is judged by (run.metrics); absent or empty: the scenario's. */
  readonly metric?: readonly string[];
  /** --plugin: files or packages added to the scenario's plugins. */
  readonly plugin?: readonly string[];
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
  /** Run only the runs the journal in --out does not have (an interrupted sweep's); with --queue, the runs not in Redis. */
  readonly resume?: boolean;
  /** `--queue redis://...`: queue the runs for workers on any machine (docs/scale-out.md) instead of running them here. */
  readonly queue?: string;
}
export interface TraceFlags {
  readonly set: readonly string[];
  readonly plugin?: readonly string[];
  /** The trace file; without it (rerun) the trace is printed. */
  readonly out?: string;
  readonly from?: string;
  readonly to?: string;
  /** The largest trace to write (`--max-size`, default DEFAULT_TRACE_MAX). */
  readonly maxSize?: string;
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

/**
 * `--plugin FILE|PACKAGE` as overrides appending to the scenario's `plugins`: a path (or a package
 * found from the current directory) as an absolute path, so the scenario's folder and a rerun from
 * anywhere load the same file; a package name not found here is left for the scenario's folder.
 */
export function pluginOverrides(plugins: readonly string[] | undefined, cwd: string = process.cwd()): Override[] {
  if (plugins === undefined) return [];
  const s = scenarioPackage();
  return plugins.map((p) => {
    const where = s.locatePlugin(p, cwd);
    const value = 'file' in where ? (s.isPackageName(p) ? where.file : resolve(cwd, p)) : s.isPackageName(p) ? p : resolve(cwd, p);
    return { path: 'plugins', value, origin: `--plugin ${p}`, append: true };
  });
}

type OverrideFlags = { readonly set: readonly string[]; readonly metric?: readonly string[]; readonly plugin?: readonly string[] };

/** What a command applies to the scenario: --set, then --metric, then --plugin; nothing for a recorded scenario (rerun), which has them. */
export function overridesOf(o: OverrideFlags, io: Pick<Io, 'recorded'>): SetArg[] {
  return io.recorded === true ? [] : [...o.set, ...metricOverrides(o.metric), ...pluginOverrides(o.plugin)];
}

/** The overrides a command's provenance records: --set always, --metric and --plugin when given. */
function recorded(o: OverrideFlags): Provenance['overrides'] {
  return { set: [...o.set], ...(o.metric === undefined || o.metric.length === 0 ? {} : { metric: [...o.metric] }), ...(o.plugin === undefined || o.plugin.length === 0 ? {} : { plugin: [...o.plugin] }) };
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
  // git's answer (for meta) is fetched while the model runs.
  const version = prefetchToolVersion();
  const s = scenarioPackage();
  const loaded = s.loadScenarioRef(s.sourceOf(ref, io.maxInputBytes), overridesOf(o, io));
  const view = progressOn('run', io.err, io.clock);
  const t = view === undefined ? undefined : tally(view);
  let result;
  try {
    result = s.runWithSlowdown(loaded, undefined, t === undefined ? undefined : (p) => t(0, 1, p));
  } finally {
    view?.stop();
  }
  await version;
  const m = meta(started, 'run', { scenario: loaded.scenario, resolved: true, file: loaded.file, dir: loaded.dir }, recorded(o), [result.seed], 1);
  const json = jsonDocument(result, m);
  const csv = format().runCsv(result);
  const files = new Map<string, string>();
  if (dir !== undefined) {
    files.set(dir['run.json']!, json);
    files.set(dir['run.csv']!, csv);
    files.set(dir['run.csv.meta.json']!, sidecar(m));
  }
  if (html !== undefined) files.set(html, await report().runReportHtml({ ...result, meta: m }, s.scenarioTopology(loaded)));
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
  // git's answer (for meta) is fetched while the model runs.
  const version = prefetchToolVersion();
  const s = scenarioPackage();
  const sets = overridesOf(o, io);
  // The file is read once: every step below gets what was read.
  const src = s.sourceOf(ref, io.maxInputBytes);
  const base = tryBase(src, sets);
  const view = progressOn('compare', io.err, io.clock);
  const t = view === undefined ? undefined : tally(view);
  let result;
  try {
    result = s.compareScenario(src, sets, o.vary, undefined, t === undefined ? undefined : (done, total, p) => t(done, total, p, `run ${done + 1} of ${total}: `));
  } finally {
    view?.stop();
  }
  // compareScenario took exactly one --vary.
  await version;
  const m = meta(started, 'compare', base ?? s.baseScenario(src, sets), { ...recorded(o), vary: o.vary[0]! }, result.seeds, result.replications);
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
  // A queue URL is checked before anything else: a mistyped one costs no work.
  const queueUrl = o.queue === undefined ? undefined : queueFlag(o.queue);
  if (queueUrl !== undefined && workers !== undefined) throw new UsageError('--workers: not with --queue: each worker takes as many runs at once as its own --concurrency says');
  const plan = new OutputPlan();
  const dir = o.out === undefined ? undefined : plan.dir('--out', o.out, ['sweep.json', 'sweep.csv', 'sweep.csv.meta.json']);
  const html = o.html === undefined ? undefined : plan.file('--html', o.html);
  plan.check();
  const s = scenarioPackage();
  // The journal lives in --out: finished runs survive an interruption there, and --resume reads them.
  // A queued sweep's finished runs are in Redis instead: no journal.
  const journalPath = o.out === undefined || queueUrl !== undefined ? undefined : join(resolve(o.out), s.JOURNAL_NAME);
  if (o.resume === true && journalPath === undefined && queueUrl === undefined) throw new UsageError('--resume: expected --out dir, the directory of the interrupted sweep (its journal is there)');
  // Redis is reached, and judged fit for a queue, before the scenario is read: within seconds.
  const queued = queueUrl === undefined ? undefined : await queueExecutor(queueUrl, o.resume === true, io);
  try {
    await sweepWith(ref, o, io, { started, workers, plan, dir, html, journalPath, queued });
  } finally {
    queued?.connection.disconnect();
  }
}

/** What sweepCommand settled before the sweep. */
interface SweepSetup {
  readonly started: Started;
  readonly workers: number | undefined;
  readonly plan: OutputPlan;
  readonly dir: Record<string, string> | undefined;
  readonly html: string | undefined;
  readonly journalPath: string | undefined;
  readonly queued: QueuedSetup | undefined;
}

async function sweepWith(ref: ScenarioRef, o: SweepFlags, io: Io, setup: SweepSetup): Promise<void> {
  const { started, workers, plan, dir, html, journalPath, queued } = setup;
  const s = scenarioPackage();
  if (o.resume !== true && journalPath !== undefined && existsSync(journalPath)) {
    const p = s.SweepJournal.progress(journalPath);
    throw new UsageError(`--out ${o.out}: holds an unfinished sweep (${s.JOURNAL_NAME}${p === undefined ? '' : `, ${p.runs} of ${p.of} runs done`}): add --resume to finish it, or remove the file to start again`);
  }
  const sets = overridesOf(o, io);
  // The file is read once: every step below (and every point) gets what was read.
  const src = s.sourceOf(ref, io.maxInputBytes);
  const base = tryBase(src, sets);
  // A progress bar with ETA on a terminal; nothing when output is piped.
  let bar: SingleBar | undefined;
  // Ctrl-C or SIGTERM: no run starts after it, the runs under way are stopped, what finished is written.
  // A second one ends the process at once (the handlers are `once`).
  const stop = new AbortController();
  let stoppedBy: 'SIGINT' | 'SIGTERM' | 'timeout' | undefined;
  const onSignal = (sig: 'SIGINT' | 'SIGTERM' | 'timeout') => (): void => {
    stoppedBy ??= sig;
    stop.abort();
  };
  const handlers = { SIGINT: onSignal('SIGINT'), SIGTERM: onSignal('SIGTERM') };
  process.once('SIGINT', handlers.SIGINT);
  process.once('SIGTERM', handlers.SIGTERM);
  // On --timeout's thread the main thread passes the signals, and the timeout, on as this.
  const watched = io.watched;
  const onWatched = (): void => onSignal((watched?.reason as 'SIGINT' | 'SIGTERM' | 'timeout' | undefined) ?? 'timeout')();
  watched?.addEventListener('abort', onWatched, { once: true });
  // Said once the points are checked, as the first run starts: a sweep refused for its input says only why.
  const cores = availableParallelism();
  let warned = workers === undefined || workers <= cores;
  let result;
  try {
    result = await s.sweepScenario(src, sets, o.grid, {
      ...(workers === undefined ? {} : { workers }),
      onRunStart: () => {
        if (warned) return;
        warned = true;
        io.err.write(`ipilab: --workers ${workers}: this machine has ${cores} cores; more workers than cores slow a sweep down (each thread loads and compiles the model, and they take turns on the cores)\n`);
      },
      ...(io.maxInputBytes === undefined ? {} : { maxInputBytes: io.maxInputBytes }),
      ...(io.recorded === true ? { recordedAxes: o.gridFileAxes ?? [] } : o.gridFile === undefined ? {} : { gridFile: o.gridFile }),
      ...(journalPath === undefined ? {} : { journal: { path: journalPath, resume: o.resume === true, shown: o.out! } }),
      ...(queued === undefined ? {} : { executor: queued.executor }),
      signal: stop.signal,
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
  } finally {
    // The terminal gets its cursor back whatever happened.
    bar?.stop();
    process.removeListener('SIGINT', handlers.SIGINT);
    process.removeListener('SIGTERM', handlers.SIGTERM);
    watched?.removeEventListener('abort', onWatched);
  }
  // The grid file's axes follow the --grid ones (one each) in the output's grid: recorded, a rerun needs no grid file.
  const gridFile = o.gridFile === undefined ? {} : { gridFile: o.gridFile, gridFileAxes: result.grid.slice(o.grid.length).map((a) => ({ path: a.path, values: [...a.values] })) };
  const m = meta(started, 'sweep', base ?? s.baseScenario(src, sets), { ...recorded(o), grid: [...o.grid], ...gridFile, ...(result.workers > 0 ? { workers: result.workers } : {}), ...(queued === undefined ? {} : { queue: queued.url.shown }) }, result.seeds, result.replications);
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
  if (result.interrupted !== undefined) {
    const { runs, of } = result.interrupted;
    const inQueue = queued?.queue.queued;
    const how =
      queued !== undefined
        ? `finish it with the same command and --resume (the finished runs are in Redis${inQueue === undefined ? '' : `, queue ${inQueue.queue}`}; runs under way finish there too)`
        : journalPath === undefined
          ? 'give --out dir to a sweep to make it resumable'
          : `finish it with the same command and --resume (the ${runs} finished runs are in ${join(o.out!, s.JOURNAL_NAME)})`;
    const by = stoppedBy === 'timeout' ? '--timeout' : (stoppedBy ?? 'a signal');
    io.err.write(`ipilab: sweep interrupted by ${by} after ${runs} of ${of} runs: the outputs have those, marked interrupted; ${how}\n`);
    throw new Interrupted(stoppedBy ?? 'SIGINT');
  }
  if (!written) throw new OutputsNotWritten();
  // Every output is written: the journal (or the queue's records) has served.
  if (journalPath !== undefined) rmSync(journalPath, { force: true });
  await queued?.queue.finish();
  if (failed > 0) throw new SweepFailures(`${failed} sweep run(s) failed`);
}

/** A trace larger than this is refused unless `--max-size` raises it: about what ui.perfetto.dev opens in a browser (docs/traces.md). */
export const DEFAULT_TRACE_MAX = '1GB';
/** A trace expected to be at least this large is announced on stderr, with its size, once the run has estimated it. */
const TRACE_NOTICE_BYTES = 100e6;

/** `500MB`, `2GB`, `1.5G`, `64MiB` or a number of bytes; undefined when not a size. Decimal units (kB = 1000 B), binary with `i`. */
export function parseSize(v: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(?:([kmgt])(i?)b?|b)?$/i.exec(v.trim());
  if (m === null) return undefined;
  const power = m[2] === undefined ? 0 : 'kmgt'.indexOf(m[2].toLowerCase()) + 1;
  const n = Number(m[1]) * (m[3] === '' || m[3] === undefined ? 1000 : 1024) ** power;
  return Number.isFinite(n) && n >= 1 ? Math.floor(n) : undefined;
}

/** `20.5 MB`, `1.93 GB`: decimal units, as `parseSize` reads them. */
export function sizeText(bytes: number): string {
  if (bytes < 1e6) return `${Math.max(1, Math.round(bytes / 1e3))} kB`;
  if (bytes < 1e9) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${(bytes / 1e9).toFixed(2)} GB`;
}

/** Bytes free to this user on the file system holding `dir`; undefined when it cannot be told. */
function freeBytes(dir: string): number | undefined {
  try {
    const st = statfsSync(dir);
    return Number(st.bavail) * Number(st.bsize);
  } catch {
    return undefined;
  }
}

/**
 * `ipilab trace`. The trace is streamed: written to the file (a temporary beside it, renamed at
 * the end) chunk by chunk as the run produces it, never held whole. Its size is estimated from
 * the first sixteenth of the window: a trace that would pass `--max-size` (default 1 GB) or the
 * free space is refused then, with exit 2 and nothing written, as is one that passes the cap later.
 */
export function traceCommand(ref: ScenarioRef, o: TraceFlags, io: Io): void {
  const started = start();
  const plan = new OutputPlan();
  const file = o.out === undefined ? undefined : plan.file('--out', o.out);
  plan.check();
  const maxShown = o.maxSize ?? DEFAULT_TRACE_MAX;
  const maxBytes = parseSize(maxShown);
  if (maxBytes === undefined) throw new UsageError(`--max-size: expected a size such as 500MB or 4GB, got ${JSON.stringify(o.maxSize)}`);
  const s = scenarioPackage();
  const time = (flag: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const ns = s.parseDuration(/^\d+(\.\d+)?$/.test(v) ? Number(v) : v);
    if (ns === undefined) throw new s.ScenarioError(`--${flag}: expected a time such as 1ms or 250us, got ${JSON.stringify(v)}`);
    return ns;
  };
  const from = time('from', o.from);
  const to = time('to', o.to);
  const loaded = s.loadScenarioRef(s.sourceOf(ref, io.maxInputBytes), overridesOf(o, io));
  // The window must lie inside the run and not be empty: checked before anything runs.
  const durationNs = loaded.scenario.run.duration;
  const shown = (ns: number): string => `${+(ns / 1e6).toFixed(6)}ms`;
  if (from !== undefined && from >= durationNs) throw new s.ScenarioError(`--from ${o.from}: expected a time before the end of the run (run.duration ${shown(durationNs)})`);
  if (to !== undefined && to > durationNs) throw new s.ScenarioError(`--to ${o.to}: expected a time no later than the end of the run (run.duration ${shown(durationNs)})`);
  if (to !== undefined && to <= (from ?? 0)) throw new s.ScenarioError(`--to ${o.to}: expected a time after --from (${o.from ?? '0'})`);
  const windowFrom = from ?? 0;
  const windowNs = (to ?? durationNs) - windowFrom;
  const free = file === undefined ? undefined : freeBytes(dirname(file));
  const cut = 'cut it with --from/--to (docs/traces.md)';

  const view = progressOn('trace', io.err, io.clock);
  const t = view === undefined ? undefined : tally(view);
  const produce = (write: (chunk: string) => void): { events: number; bytes: number } => {
    const writer = new s.TraceJsonWriter(write);
    let estimated = false;
    /** After each slice of the run: the size so far against the cap, and once, the size to expect. */
    const watch = (simulatedNs: number): void => {
      const size = writer.size;
      if (size > maxBytes) throw new UsageError(`--max-size ${maxShown}: the trace passed ${sizeText(maxBytes)} at ${shown(simulatedNs)} of simulated time; ${cut} or raise --max-size`);
      const seen = Math.min(simulatedNs, windowFrom + windowNs) - windowFrom;
      if (estimated || seen < windowNs / 16) return;
      estimated = true;
      const expected = (size * windowNs) / seen;
      const basis = `${sizeText(size)} for the first ${shown(seen)} of the ${shown(windowNs)} traced`;
      if (expected > maxBytes) throw new UsageError(`--max-size ${maxShown}: the trace would be about ${sizeText(expected)} (${basis}); ${cut} or raise --max-size`);
      if (free !== undefined && expected > free) throw new UsageError(`--out ${o.out}: the trace would be about ${sizeText(expected)} (${basis}), more than the ${sizeText(free)} free there; ${cut} or free some space`);
      if (expected >= TRACE_NOTICE_BYTES) io.err.write(`ipilab: trace: about ${sizeText(expected)} to write (${basis})\n`);
    };
    let summary;
    try {
      summary = s.streamTrace(loaded, (e) => writer.event(e), {
        ...(from === undefined ? {} : { from }),
        ...(to === undefined ? {} : { to }),
        onProgress: (simulatedNs: number, events: number) => {
          watch(simulatedNs);
          t?.(0, 1, { run: 1, runs: 1, simulatedNs, durationNs, events });
        },
      });
    } finally {
      view?.stop();
    }
    const overrides: Provenance['overrides'] = { ...recorded(o), ...(o.from === undefined ? {} : { from: o.from }), ...(o.to === undefined ? {} : { to: o.to }) };
    const m = meta(started, 'trace', { scenario: loaded.scenario, resolved: true, file: loaded.file, dir: loaded.dir }, overrides, [loaded.scenario.run.seed], 1);
    writer.end({ meta: m });
    return { events: summary.events, bytes: writer.bytes };
  };
  if (file === undefined) {
    produce(io.out);
    return;
  }
  const r = plan.stream(file, produce);
  if (r.ok) {
    io.out(`wrote ${r.result.events} trace events (${sizeText(r.result.bytes)}) to ${o.out}\n`);
    return;
  }
  io.err.write(`ipilab: could not write ${r.failure.shown}: ${r.failure.reason}\n`);
  io.err.write(`ipilab: the trace is lost: it was written to the file as it ran, and nothing is left of it; ${cut} or make room\n`);
  throw new OutputsNotWritten();
}
