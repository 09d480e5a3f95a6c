import { isComplete } from './incomplete';
import 'reflect-metadata';
import { fileURLToPath } from 'node:url';
import { combineReducers, interferenceReducer, latencyReducer, vmLedgerReducer, AccountingService, type InterferenceMatrix, type LatencyDistributions, type VmLedger } from '@ipilab/accounting';
import { KernelError, type Simulation } from '@ipilab/core';
import { EventSink, type ModelEvent } from '@ipilab/events';
import { InjectedFaultError, type MmLockReport, type Workload } from '@ipilab/guest';
import type { HostTopology } from '@ipilab/host';
import { buildRun, startRun } from './build-run';
import { describeThrown, PluginError, ScenarioError } from './errors';
import type { LoadedScenario } from './load';
import { pluginFile } from './plugin-loader';
import { metricValue, metricVms, numberAt, resolveMetrics, type ResolvedMetric } from './metrics';
import type { Provenance } from './provenance';
import { eventBudget, eventBudgetMessage, heapOverBudget } from './resource-guard';
import type { Scenario } from './schema';

export { scenarioTopology } from './build-run';

/** What `ipilab run --json` prints (docs/cli.md, run-output.schema.json). */
export interface RunOutput {
  readonly scenario: string;
  readonly seed: number;
  readonly simulatedNs: number;
  readonly events: number;
  readonly vms: Record<string, VmOutput>;
  readonly interference: InterferenceOutput;
  /** What made this output (added by the CLI; provenance.ts). */
  readonly meta?: Provenance;
}

/** One VM's results in a run's output. */
export interface VmOutput {
  readonly workload: Record<string, unknown>;
  readonly ledger: Omit<VmLedger, 'vm' | 'ipisSent' | 'exitCounts' | 'hypercalls' | 'shootdowns'>;
  readonly ipi: {
    readonly sent: VmLedger['ipisSent'];
    readonly exits: VmLedger['exitCounts'];
    readonly hypercalls: number;
    readonly shootdowns: number;
    readonly latency: LatencyDistributions | null;
  };
  /** The workload's own figure of merit. `incomplete`: the workload did not produce the figure (value NaN, null in JSON). */
  readonly primary: { readonly key: string; readonly value: number; readonly higherIsBetter: boolean; readonly incomplete?: true };
  /** The figures the VM is judged by (`run.metrics`; `[default]`, its primary, unless picked), in order. */
  readonly metrics: MetricValue[];
  /** The primary figure against the same VM alone (run.slowdownVsAlone; each metric has its own). */
  slowdownVsAlone?: number;
  /** With run.slowdownVsBareMetal: this figure against the same VM alone on bare metal (slowdown.ts). */
  slowdownVsBareMetal?: number;
  /** The guest memory manager's locks and broadcast invalidations (docs/model.md, "Memory-manager contention"). */
  readonly mm: MmLockReport;
  /** Where the VM's vCPU threads ran: ns they held each pCPU, and each socket (pCPUs never used are left out). */
  readonly ranOn: { readonly pcpuNs: Record<string, number>; readonly socketNs: Record<string, number> };
}

/** A picked figure's value for one VM (metrics.ts says what each reads). */
export interface MetricValue extends Omit<ResolvedMetric, 'figureOf'> {
  readonly value: number;
  /** The run did not produce it (an unfinished workload, a latency with no sample): value NaN, null in JSON. */
  readonly incomplete?: true;
  /** This figure against the same VM alone, with run.slowdownVsAlone: > 1 is slower (worse). */
  slowdownVsAlone?: number;
  /** This figure against the same VM alone on bare metal, with run.slowdownVsBareMetal. */
  slowdownVsBareMetal?: number;
}

/** Who waited behind whom: the interference matrix of a run. */
export interface InterferenceOutput {
  readonly vms: string[];
  /** victim -> culprit -> ns waited behind the culprit's work. */
  readonly behindNs: Record<string, Record<string, number>>;
  readonly switchingNs: Record<string, number>;
  readonly waitedNs: Record<string, number>;
}

/** How a run is made: its seed, progress callback and limits. */
export interface RunOptions {
  readonly seed?: number;
  /** Run only these VM names (for slowdown-vs-alone runs). */
  readonly only?: readonly string[];
  /** Sees every model event (e.g. to build a trace); `names` are the VMs' names by index. */
  readonly listen?: (e: ModelEvent, names: readonly string[]) => void;
  /**
   * Called after each slice of simulated time the run advances by (about 1/64 of the duration, and
   * at the end of the warm-up) with the simulated time reached and the events processed so far.
   * The run is sliced the same with or without it, so it cannot change the output; the model never
   * reads the wall clock, a caller showing progress does.
   */
  readonly onProgress?: (simulatedNs: number, events: number) => void;
}

export { total } from './metrics';

/** A workload's figure of merit from its result, marked incomplete when it has none. */
function primaryOf(p: { key: string; higherIsBetter: boolean }, workload: Record<string, unknown>): RunOutput['vms'][string]['primary'] {
  const value = figureAt(workload, p.key);
  return { key: p.key, value, higherIsBetter: p.higherIsBetter, ...(isComplete(value) ? {} : { incomplete: true as const }) };
}

/** `a.b.c` of a nested record, as a number (NaN if absent). */
export function figureAt(obj: Record<string, unknown>, key: string): number {
  return numberAt(obj, key);
}

/**
 * The composition root: builds one run from a validated scenario — kernel, host, hypervisor,
 * the backends and strategies the scenario names, plugins, VMs with their guest kernels,
 * memory managers, schedulers and workloads — runs it within its budgets, and returns the
 * figures. Same scenario and seed, same output.
 */
export function runScenario(loaded: LoadedScenario, options: RunOptions = {}): RunOutput {
  const s = loaded.scenario;
  const seed = options.seed ?? s.run.seed;
  const built = buildRun(loaded, { seed, ...(options.only === undefined ? {} : { only: options.only }) })!;
  const { container, sim, hv, topology, names, workloads, mms } = built;
  const acct = container.get(AccountingService);
  let ledgers = new Map<number, VmLedger>();
  let matrix: InterferenceMatrix | undefined;
  let latency = new Map<number, LatencyDistributions>();
  // One pass over the events the three read, straight from the sink (no stream hop per event).
  acct.reduce(combineReducers({ ledgers: vmLedgerReducer, matrix: interferenceReducer, latency: latencyReducer })).subscribe((x) => {
    ledgers = x.ledgers;
    matrix = x.matrix;
    latency = x.latency;
  });

  if (options.listen !== undefined) {
    const listen = options.listen;
    container.get(EventSink).subscribe((e) => listen(e, names));
  }
  try {
    startRun(built, s);
    runWithinBudgets(
      sim,
      s,
      workloads,
      () => {
        hv.resetOccupancy();
        for (const mm of mms) mm.resetLockStats();
      },
      options.onProgress,
    );
  } catch (e) {
    throw blamePlugin(e, loaded, sim.now);
  }
  acct.finish();
  const occupancy = hv.occupancyByVm();

  const measured = s.run.duration - s.run.warmup;
  // Checked with the scenario (check-scenario.ts); a run given an unchecked one refuses it the same.
  const picked = resolveMetrics(s.run.metrics, metricVms(built, s.vms.map((v) => v.name)), options.only !== undefined);
  if (picked.problems.length > 0) throw new ScenarioError(`${picked.problems[0]!.key}: ${picked.problems[0]!.message}`, picked.problems[0]!.key);
  const vms: Record<string, VmOutput> = {};
  names.forEach((name, i) => {
    const w = workloads[i]!;
    const l = ledgers.get(i);
    const workload = w.result(measured);
    const { vm: _vm, ipisSent, exitCounts, hypercalls, shootdowns, ...ledger } = l ?? emptyLedger(i);
    const lat = latency.get(i) ?? null;
    const source = { workload, latency: lat as unknown as Record<string, Record<string, number>> | null, exits: exitCounts, ledger, measuredNs: measured };
    vms[name] = {
      workload,
      ledger,
      ipi: { sent: ipisSent, exits: exitCounts, hypercalls, shootdowns, latency: lat },
      primary: primaryOf(w.primary, workload),
      metrics: picked.perVm[i]!.map(({ figureOf: _f, ...m }, k) => {
        const value = metricValue(picked.perVm[i]![k]!, source);
        return { ...m, value, ...(isComplete(value) ? {} : { incomplete: true as const }) };
      }),
      mm: mms[i]!.lockReport(),
      ranOn: ranOn(occupancy[i]!, topology),
    };
  });
  const m = matrix!;
  const interference: InterferenceOutput = {
    vms: m.vms.map((v) => names[v] ?? String(v)),
    behindNs: Object.fromEntries(m.vms.map((v) => [names[v]!, Object.fromEntries(m.vms.map((c) => [names[c]!, m.behind[v]![c]!]))])),
    switchingNs: Object.fromEntries(m.vms.map((v) => [names[v]!, m.switching[v]!])),
    waitedNs: Object.fromEntries(m.vms.map((v) => [names[v]!, m.waited[v]!])),
  };
  return { scenario: s.name ?? loaded.file, seed, simulatedNs: sim.now, events: sim.eventsProcessed, vms, interference };
}

/**
 * An error a plugin's own code threw (the innermost frame of its stack is in the plugin's file)
 * becomes a PluginError naming the plugin: its author's to fix, not the model's nor the user's.
 */
function blamePlugin(e: unknown, loaded: LoadedScenario, now: number): unknown {
  const plugins = loaded.scenario.plugins;
  if (e instanceof ScenarioError || plugins.length === 0) return e;
  if (!(e instanceof Error)) {
    // ipilab's own code throws only Errors, so anything else (null, a string) is a plugin's; with
    // no stack it cannot say which plugin when there are several.
    const named = plugins.map((p, i) => `plugins[${i}] (${p})`);
    return new PluginError(`${named.length === 1 ? named[0] : `one of ${named.join(', ')}`} failed at ${now} ns: it threw ${describeThrown(e)}, not an Error (an Error's stack would say where)`, e);
  }
  const at = /\n\s+at (?:.*\()?(.+?):\d+:\d+\)?/.exec(e.stack ?? '')?.[1];
  // An ES module's frames are file: URLs.
  const top = at?.startsWith('file://') === true ? fileURLToPath(at) : at;
  const i = loaded.scenario.plugins.findIndex((p) => pluginFile(p, loaded.dir) === top);
  if (i < 0) return e;
  return new PluginError(`plugins[${i}] (${loaded.scenario.plugins[i]}) failed at ${now} ns: ${e.message.split('\n')[0]}`, e);
}

/** A VM's pCPU time, by pCPU and by socket, leaving out pCPUs it never held. */
function ranOn(byPcpu: Float64Array, topology: HostTopology): VmOutput['ranOn'] {
  const pcpuNs: Record<string, number> = {};
  const socketNs: Record<string, number> = {};
  byPcpu.forEach((ns, p) => {
    if (ns <= 0) return;
    pcpuNs[String(p)] = ns;
    const socket = String(topology.pcpu(p).socket);
    socketNs[socket] = (socketNs[socket] ?? 0) + ns;
  });
  return { pcpuNs, socketNs };
}

function emptyLedger(vm: number): VmLedger {
  return { vm, vcpus: 0, guest: 0, handlingInterrupts: 0, shootdownWait: 0, exits: {}, serviceQueued: 0, hostOther: 0, halted: 0, preempted: 0, offline: 0, total: 0, ipisSent: {}, exitCounts: {}, hypercalls: 0, shootdowns: 0 };
}

/** Runs to the scenario's duration in slices, enforcing the event and heap budgets; resets stats at the warm-up. */
function runWithinBudgets(sim: Simulation, s: Scenario, workloads: readonly Workload[], onWarm: () => void, onProgress?: (simulatedNs: number, events: number) => void): void {
  const slice = Math.max(1, Math.floor(s.run.duration / 64));
  let warmedUp = s.run.warmup === 0;
  const budget = eventBudget(s);
  while (sim.now < s.run.duration) {
    const target = !warmedUp ? s.run.warmup : Math.min(s.run.duration, sim.now + slice);
    const left = budget.events - sim.eventsProcessed;
    let r;
    try {
      r = sim.run({ until: Math.min(target, s.run.duration), maxEvents: left });
    } catch (e) {
      // What an injected fault broke is the run's finding, not the model's failure: kept as it is.
      if (e instanceof KernelError && !(e instanceof InjectedFaultError)) throw new KernelError(`the model failed at ${sim.now} ns: ${e.message}`);
      throw e;
    }
    if (r.reason === 'budget') {
      throw new ScenarioError(`run.maxEvents: ${eventBudgetMessage(s, budget, sim.now)}`, 'run.maxEvents');
    }
    const heap = heapOverBudget(s, `by ${sim.now} ns`);
    if (heap !== undefined) throw new ScenarioError(`run.maxHeapMb: ${heap.message}`, 'run.maxHeapMb');
    onProgress?.(sim.now, sim.eventsProcessed);
    if (r.reason === 'empty' || r.reason === 'stopped') break;
    if (!warmedUp && sim.now >= s.run.warmup) {
      warmedUp = true;
      for (const w of workloads) w.resetStats?.();
      onWarm();
    }
  }
}
