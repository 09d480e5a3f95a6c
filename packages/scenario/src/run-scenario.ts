import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { resolve } from 'node:path';
import { ContainerModule } from 'inversify';
import { combineReducers, interferenceReducer, latencyReducer, vmLedgerReducer, AccountingService, accountingModule, type InterferenceMatrix, type LatencyDistributions, type VmLedger } from '@ipilab/accounting';
import { calibrationProfile, resolveCosts, type CalibrationProfile, type Costs } from '@ipilab/calibration';
import { InvalidParameterError, KernelError, RandomStreams, Simulation } from '@ipilab/core';
import { composeContainer, UnknownPolicyError, type PolicyRegistry } from '@ipilab/di';
import { EventSink, type ModelEvent } from '@ipilab/events';
import { createWorkload, GuestKernel, guestModule, MemoryManager, Scheduler, ShootdownStrategyRegistry, type MmLockReport, type ShootdownStrategy, type Workload } from '@ipilab/guest';
import { HOST_PRESETS, HostTopology } from '@ipilab/host';
import { DEFAULT_HYPERVISOR_CONFIG, Hypervisor, HypervisorSetup, hypervisorModule, IpiBackendRegistry, PLE_DEFAULTS, type HypervisorConfig, type IpiBackendFactory, type PleConfig } from '@ipilab/hypervisor';
import { ipiNativeModule } from '@ipilab/ipi-native';
import { ipiPostedModule } from '@ipilab/ipi-posted';
import { ipiPvModule } from '@ipilab/ipi-pv';
import { ipiTrapModule } from '@ipilab/ipi-trap';
import { ScenarioError } from './errors';
import type { LoadedScenario } from './load';
import type { Scenario } from './schema';

/** What `ipilab run --json` prints (docs/cli.md, run-output.schema.json). */
export interface RunOutput {
  readonly scenario: string;
  readonly seed: number;
  readonly simulatedNs: number;
  readonly events: number;
  readonly vms: Record<string, VmOutput>;
  readonly interference: InterferenceOutput;
}

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
  readonly primary: { readonly key: string; readonly value: number; readonly higherIsBetter: boolean };
  slowdownVsAlone?: number;
  /** With run.slowdownVsBareMetal: this figure against the same VM alone on bare metal (slowdown.ts). */
  slowdownVsBareMetal?: number;
  /** The guest memory manager's locks and broadcast invalidations (docs/model.md, "Memory-manager contention"). */
  readonly mm: MmLockReport;
  /** Where the VM's vCPU threads ran: ns they held each pCPU, and each socket (pCPUs never used are left out). */
  readonly ranOn: { readonly pcpuNs: Record<string, number>; readonly socketNs: Record<string, number> };
}

export interface InterferenceOutput {
  readonly vms: string[];
  /** victim -> culprit -> ns waited behind the culprit's work. */
  readonly behindNs: Record<string, Record<string, number>>;
  readonly switchingNs: Record<string, number>;
  readonly waitedNs: Record<string, number>;
}

export interface RunOptions {
  readonly seed?: number;
  /** Run only these VM names (for slowdown-vs-alone runs). */
  readonly only?: readonly string[];
  /** Sees every model event (e.g. to build a trace); `names` are the VMs' names by index. */
  readonly listen?: (e: ModelEvent, names: readonly string[]) => void;
}

/** The host a validated scenario runs on: its preset, with the explicit `host` fields over it. */
export function scenarioTopology(s: Scenario): HostTopology {
  const h = s.host;
  let base: Partial<typeof HOST_PRESETS[string]> = {};
  if (h.preset !== undefined) {
    if (!Object.hasOwn(HOST_PRESETS, h.preset)) {
      throw new ScenarioError(`host.preset: expected one of ${Object.keys(HOST_PRESETS).map((p) => JSON.stringify(p)).join(', ')}, got ${JSON.stringify(h.preset)}`, 'host.preset');
    }
    base = HOST_PRESETS[h.preset]!;
  }
  const spec = { name: h.preset ?? 'custom', sockets: h.sockets ?? base.sockets, coresPerSocket: h.coresPerSocket ?? base.coresPerSocket, threadsPerCore: h.threadsPerCore ?? base.threadsPerCore, ghz: h.ghz ?? base.ghz };
  for (const k of ['sockets', 'coresPerSocket', 'threadsPerCore', 'ghz'] as const) {
    if (spec[k] === undefined) throw new ScenarioError(`host.${k}: missing; give host.preset or all of sockets, coresPerSocket, threadsPerCore and ghz`, `host.${k}`);
  }
  return new HostTopology(spec as ConstructorParameters<typeof HostTopology>[0]);
}

/**
 * Pause-loop exiting from the vendor's KVM defaults (PLE_DEFAULTS) and the scenario's overrides.
 * Intel's window counts TSC cycles (one per ns x GHz of the host); AMD's counts PAUSE
 * instructions, each taking the profile's `pauseLatency`.
 */
function pleConfig(p: Scenario['hypervisor']['ple'], policy: string, profile: CalibrationProfile, ghz: number, pauseNs: number): PleConfig {
  const d = PLE_DEFAULTS[profile.vendor];
  const unitNs = profile.vendor === 'intel' ? 1 / ghz : pauseNs;
  // On by default, as KVM has it, except under fifo (the schema refuses it there when asked for).
  return { enabled: p.enabled ?? policy !== 'fifo', window: p.window ?? d.window, grow: p.grow ?? d.grow, shrink: p.shrink ?? d.shrink, max: p.max ?? d.max, unitNs };
}

function hypervisorConfig(s: Scenario, profile: CalibrationProfile, ghz: number, costs: Costs): HypervisorConfig {
  const h = s.hypervisor;
  return {
    mode: h.mode,
    postedInterrupts: h.postedInterrupts,
    // The vendor's IPI virtualization, as the calibration profile's host has it, unless the scenario says.
    postedFlavour: h.posted.flavour ?? profile.postedFlavour,
    lapicTimer: h.lapicTimer ?? profile.lapicTimer,
    boostIpiTargets: h.boostIpiTargets,
    serviceCapacity: h.serviceCapacity === 'unlimited' ? Infinity : h.serviceCapacity,
    serviceReasons: h.serviceReasons ?? DEFAULT_HYPERVISOR_CONFIG.serviceReasons,
    hostScheduler: DEFAULT_HYPERVISOR_CONFIG.hostScheduler, // replaced by the registry's h.scheduler.policy
    hz: h.scheduler.hz,
    migrate: h.scheduler.migrate,
    timeSliceNs: h.scheduler.timeSlice ?? DEFAULT_HYPERVISOR_CONFIG.timeSliceNs,
    forfeitOnYield: h.scheduler.forfeitOnYield ?? true,
    haltPoll: { maxNs: h.haltPoll.max, grow: h.haltPoll.grow, growStartNs: h.haltPoll.growStart, shrink: h.haltPoll.shrink },
    ple: pleConfig(h.ple, h.scheduler.policy, profile, ghz, costs.pauseLatency),
  };
}

/** Loads plugin modules (paths relative to the scenario file): each must export a ContainerModule. */
function loadPlugins(paths: readonly string[], dir: string): ContainerModule[] {
  return paths.map((p, i) => {
    const file = resolve(dir, p);
    if (!existsSync(file)) throw new ScenarioError(`plugins[${i}]: no such module ${JSON.stringify(p)} (looked for ${file})`, `plugins[${i}]`);
    let mod: Record<string, unknown>;
    try {
      mod = require(file) as Record<string, unknown>;
    } catch (e) {
      throw new ScenarioError(`plugins[${i}]: ${JSON.stringify(p)} failed to load: ${(e as Error).message.split('\n')[0]}`, `plugins[${i}]`);
    }
    // Duck-typed too: a plugin may bring its own copy of inversify.
    const isModule = (x: unknown): boolean =>
      x instanceof ContainerModule || (x !== null && typeof x === 'object' && typeof (x as { load?: unknown }).load === 'function' && 'id' in x);
    const found = [mod, mod['default'], ...Object.values(mod)].find(isModule);
    if (found === undefined) throw new ScenarioError(`plugins[${i}]: ${JSON.stringify(p)} exports no ContainerModule`, `plugins[${i}]`);
    return found as ContainerModule;
  });
}

/** Turns a model-level bad-parameter error into a scenario error (one line, field named). */
function asScenarioError(e: unknown, prefix: string): never {
  if (e instanceof InvalidParameterError) throw new ScenarioError(`${prefix}${e.message}`, e.field);
  if (e instanceof UnknownPolicyError) throw new ScenarioError(`${prefix}${e.message}`);
  throw e;
}

/** The sum of a record of counts or ns (exits by reason, IPIs by kind): absent keys count 0. */
export function total(r: Readonly<Partial<Record<string, number>>>): number {
  let n = 0;
  for (const v of Object.values(r)) n += v ?? 0;
  return n;
}

/** `a.b.c` of a nested record, as a number (NaN if absent). */
export function figureAt(obj: Record<string, unknown>, key: string): number {
  let v: unknown = obj;
  for (const k of key.split('.')) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return typeof v === 'number' ? v : NaN;
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
  let topology: HostTopology;
  let costs: ReturnType<typeof resolveCosts>;
  let clockScale: number;
  let profile: CalibrationProfile;
  try {
    topology = scenarioTopology(s);
    profile = calibrationProfile(s.calibration.profile);
    // The host's clock sets what a cycle costs: cycle figures convert at host.ghz, and workload
    // CPU work (defined at the profile's clock) takes profile/host as long (docs/calibration.md).
    costs = resolveCosts(profile, s.calibration.overrides, 'calibration.overrides', topology.ghz);
    clockScale = profile.ghz / topology.ghz;
  } catch (e) {
    asScenarioError(e, '');
  }
  const setup = new ContainerModule(({ bind }) => {
    bind(HypervisorSetup).toConstantValue({ topology, costs, config: hypervisorConfig(s, profile, topology.ghz, costs), hostScheduler: s.hypervisor.scheduler.policy });
  });
  let container;
  try {
    container = composeContainer({
      run: { seed },
      modules: [setup, hypervisorModule, ipiTrapModule, ipiPvModule, ipiPostedModule, ipiNativeModule, guestModule, accountingModule],
      plugins: loadPlugins(s.plugins, loaded.dir),
    });
  } catch (e) {
    if (e instanceof ScenarioError) throw e;
    throw new ScenarioError(`plugins: ${(e as Error).message.split('\n')[0]}`, 'plugins');
  }
  let hv: Hypervisor;
  try {
    hv = container.get(Hypervisor);
  } catch (e) {
    if (e instanceof UnknownPolicyError) throw new ScenarioError(`hypervisor.scheduler.policy: ${e.message}`, 'hypervisor.scheduler.policy');
    asScenarioError(e, '');
  }
  const sim = container.get(Simulation);
  const streams = container.get(RandomStreams);
  const backends = container.get<PolicyRegistry<IpiBackendFactory>>(IpiBackendRegistry);
  const strategies = container.get<PolicyRegistry<ShootdownStrategy>>(ShootdownStrategyRegistry);

  const names: string[] = [];
  const workloads: Workload[] = [];
  const mms: MemoryManager[] = [];
  s.vms.forEach((spec, i) => {
    for (let copy = 1; copy <= spec.count; copy++) {
      const name = spec.count === 1 ? spec.name : `${spec.name}-${copy}`;
      if (options.only !== undefined && !options.only.includes(name)) continue;
      const prefix = `vms[${i}] (${name}): `;
      try {
        // Bare metal has one way to send an IPI, the CPU's own ICR write: the backend keys do not apply.
        const backendName = s.hypervisor.mode === 'bare-metal' ? 'native' : (spec.backend ?? s.hypervisor.backend);
        let factory: IpiBackendFactory;
        try {
          factory = backends.get(backendName);
        } catch (e) {
          throw new ScenarioError(`${spec.backend === undefined ? 'hypervisor.backend' : `vms[${i}].backend`}: ${(e as Error).message}`);
        }
        let strategy: ShootdownStrategy;
        try {
          strategy = strategies.get(spec.shootdownStrategy);
        } catch (e) {
          throw new ScenarioError(`vms[${i}].shootdownStrategy: ${(e as Error).message}`);
        }
        const vm = hv.addVm(
          {
            name,
            vcpus: spec.vcpus,
            placement: spec.placement,
            ...(spec.pcpus === undefined ? {} : { pcpus: spec.pcpus }),
            apicMode: spec.apicMode ?? s.hypervisor.apicMode,
            backend: backendName,
            pv: { ...s.hypervisor.pv, spinlocks: spec.pvSpinlocks },
            shorthand: spec.shorthand,
            weight: spec.weight,
            idle: spec.idle,
            hz: spec.hz,
          },
          factory,
        );
        const kernel = new GuestKernel(hv, vm);
        const mm = new MemoryManager(hv, vm, kernel, { strategy, coordination: spec.coordination });
        const sched = new Scheduler(hv, vm, kernel, {
          policy: spec.scheduler.policy,
          ttwuQueue: spec.scheduler.ttwuQueue,
          ...(spec.scheduler.llcVcpus === undefined ? {} : { llcVcpus: spec.scheduler.llcVcpus }),
          ...(spec.scheduler.slice === undefined ? {} : { sliceNs: spec.scheduler.slice }),
          ...(spec.scheduler.migrationThreshold === undefined ? {} : { migrationThresholdNs: spec.scheduler.migrationThreshold }),
          ...(spec.scheduler.balance === undefined ? {} : { balance: spec.scheduler.balance }),
        });
        const { kind, ...params } = spec.workload;
        // Streams are named after the VM: the VM draws the same numbers alone or beside others.
        const w = createWorkload(kind, { hv, vm, kernel, mm, sched, rng: streams.stream(`vm/${name}/workload`), clockScale }, params);
        names.push(name);
        workloads.push(w);
        mms.push(mm);
      } catch (e) {
        if (e instanceof ScenarioError) throw new ScenarioError(`${prefix}${e.message}`, e.field);
        asScenarioError(e, prefix);
      }
    }
  });

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
  for (const w of workloads) w.start();
  hv.start();
  runWithinBudgets(sim, s, workloads, () => {
    hv.resetOccupancy();
    for (const mm of mms) mm.resetLockStats();
  });
  acct.finish();
  const occupancy = hv.occupancyByVm();

  const measured = s.run.duration - s.run.warmup;
  const vms: Record<string, VmOutput> = {};
  names.forEach((name, i) => {
    const w = workloads[i]!;
    const l = ledgers.get(i);
    const workload = w.result(measured);
    const { vm: _vm, ipisSent, exitCounts, hypercalls, shootdowns, ...ledger } = l ?? emptyLedger(i);
    vms[name] = {
      workload,
      ledger,
      ipi: { sent: ipisSent, exits: exitCounts, hypercalls, shootdowns, latency: latency.get(i) ?? null },
      primary: { key: w.primary.key, value: figureAt(workload, w.primary.key), higherIsBetter: w.primary.higherIsBetter },
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
function runWithinBudgets(sim: Simulation, s: Scenario, workloads: readonly Workload[], onWarm: () => void): void {
  const slice = Math.max(1, Math.floor(s.run.duration / 64));
  let warmedUp = s.run.warmup === 0;
  while (sim.now < s.run.duration) {
    const target = !warmedUp ? s.run.warmup : Math.min(s.run.duration, sim.now + slice);
    const left = s.run.maxEvents - sim.eventsProcessed;
    let r;
    try {
      r = sim.run({ until: Math.min(target, s.run.duration), maxEvents: left });
    } catch (e) {
      if (e instanceof KernelError) throw new KernelError(`the model failed at ${sim.now} ns: ${e.message}`);
      throw e;
    }
    if (r.reason === 'budget') {
      throw new ScenarioError(`run.maxEvents: the run used its budget of ${s.run.maxEvents} events by ${sim.now} ns of ${s.run.duration}; shorten run.duration or raise run.maxEvents`, 'run.maxEvents');
    }
    // v8's heap statistics are far cheaper than process.memoryUsage(), which also reads the RSS.
    const heapMb = getHeapStatistics().used_heap_size / 2 ** 20;
    if (heapMb > s.run.maxHeapMb) {
      throw new ScenarioError(`run.maxHeapMb: the run used ${heapMb.toFixed(0)} MiB of heap by ${sim.now} ns, over its budget of ${s.run.maxHeapMb} MiB`, 'run.maxHeapMb');
    }
    if (r.reason === 'empty' || r.reason === 'stopped') break;
    if (!warmedUp && sim.now >= s.run.warmup) {
      warmedUp = true;
      for (const w of workloads) w.resetStats?.();
      onWarm();
    }
  }
}
