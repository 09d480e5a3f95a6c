import 'reflect-metadata';
import { ContainerModule, type Container } from 'inversify';
import { z } from 'zod';
import { calibrationProfiles, COST_NAMES, resolveCosts, type CalibrationProfile, type Costs } from '@ipilab/calibration';
import { describe, InvalidParameterError, RandomStreams, Simulation } from '@ipilab/core';
import { composeContainer, DuplicatePolicyError, policyRefName, type PolicyFamily, type PolicyRegistry } from '@ipilab/di';
import { createWorkloadContext, GuestKernel, guestBalancers, guestSchedulers, MAX_PARAMETER, MemoryManager, Scheduler, shootdownStrategies, workloadKinds, type GuestSchedulerPolicy, type ShootdownStrategy, type Workload, type WorkloadContext, type WorkloadPolicy } from '@ipilab/guest';
import { hostPresets, HostTopology, type HostPreset } from '@ipilab/host';
import { DEFAULT_HYPERVISOR_CONFIG, hostSchedulers, Hypervisor, HypervisorSetup, ipiBackends, placementPolicies, PLE_DEFAULTS, type HypervisorConfig, type IpiBackendFactory, type PlacementPolicy, type PleConfig, type Vm } from '@ipilab/hypervisor';
import { describeThrown, didYouMean, expectedOneOf, PluginError, ScenarioError, schemaProblems, type Problem } from './errors';
import type { LoadedScenario } from './load';
import { loadPlugin } from './plugin-loader';
import { MODEL_MODULES, SCENARIO_FAMILIES } from './policy-families';
import { heapOverBudget } from './resource-guard';
import { workloadKind, type Scenario, type VmScenario } from './schema';
import { parseOptions, selectPolicy } from './select-policy';

/**
 * The largest number a workload parameter or a calibration override may be (10^12: 1,000 s of
 * simulated time per operation, well below the clock's 2^53 ns); the workloads' own bound.
 */
export { MAX_PARAMETER };

/** Where assembly problems go: a checker collects them all, a run throws at the first. */
export type ProblemSink = (p: Problem) => void;

/** A sink that throws the problem as a ScenarioError (`key: message`): what a run does. */
export const throwProblem: ProblemSink = (p) => {
  throw new ScenarioError(p.key === '' ? p.message : `${p.key}: ${p.message}`, p.key);
};

/** One run, assembled and not started. */
export interface BuiltRun {
  readonly container: Container;
  readonly sim: Simulation;
  readonly hv: Hypervisor;
  readonly topology: HostTopology;
  /** Run names of the VMs built, in hypervisor order, with their workloads and memory managers. */
  readonly names: string[];
  readonly workloads: Workload[];
  readonly mms: MemoryManager[];
  /** The scenario's `vms` index of each VM built (for naming problems). */
  readonly specOf: number[];
}

/** The host a validated scenario runs on: its preset (a plugin's too, given the loaded scenario), with the explicit `host` fields over it. */
export function scenarioTopology(from: Scenario | LoadedScenario): HostTopology {
  // A loaded scenario brings its plugins, whose presets it may name; a bare one has the built-ins.
  const loaded = 'scenario' in from ? from : undefined;
  const s = loaded?.scenario ?? (from as Scenario);
  const plugins = loaded === undefined ? [] : (loadPlugins(s.plugins, loaded.dir, throwProblem) ?? []);
  const presets = composeContainer({ run: { seed: 0 }, modules: MODEL_MODULES, plugins }).get<PolicyRegistry<HostPreset>>(hostPresets.registry);
  let t: HostTopology | undefined;
  hostTopology(s, presets, (p) => throwProblem(p), (x) => (t = x));
  return t!;
}

function hostTopology(s: Scenario, presets: PolicyRegistry<HostPreset>, report: ProblemSink, done: (t: HostTopology) => void): void {
  const h = s.host;
  let base: Partial<HostPreset> = {};
  if (h.preset !== undefined) {
    const preset = selectPolicy(presets, h.preset, 'host.preset', 'a host preset', report);
    if (preset === undefined) return;
    base = preset;
  }
  const spec = { name: h.preset === undefined ? 'custom' : policyRefName(h.preset), sockets: h.sockets ?? base.sockets, coresPerSocket: h.coresPerSocket ?? base.coresPerSocket, threadsPerCore: h.threadsPerCore ?? base.threadsPerCore, ghz: h.ghz ?? base.ghz };
  let missing = false;
  for (const k of ['sockets', 'coresPerSocket', 'threadsPerCore', 'ghz'] as const) {
    if (spec[k] === undefined) {
      report({ key: `host.${k}`, message: 'missing; give host.preset or all of sockets, coresPerSocket, threadsPerCore and ghz' });
      missing = true;
    }
  }
  if (missing) return;
  try {
    done(new HostTopology(spec as ConstructorParameters<typeof HostTopology>[0]));
  } catch (e) {
    if (!(e instanceof InvalidParameterError)) throw e;
    report(parameterProblem(e, e.field));
  }
}

/** A model's bad-parameter error as a problem of the scenario key `key`. */
function parameterProblem(e: InvalidParameterError, key: string): Problem {
  return { key, message: `expected ${e.expected}, got ${describe(e.value)}` };
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
    ple: pleConfig(h.ple, policyRefName(h.scheduler.policy), profile, ghz, costs.pauseLatency),
  };
}

/** The hypervisor's own names for its settings, as the scenario's keys. */
const HYPERVISOR_KEYS: Readonly<Record<string, string>> = {
  'hypervisor.timeSliceNs': 'hypervisor.scheduler.timeSlice',
  ghz: 'host.ghz',
  clockScale: 'host.ghz',
};

/**
 * Loads the scenario's plugins (paths relative to the scenario file, package folders or package
 * names; plugin-loader.ts): each must export a ContainerModule. Each problem names the plugin.
 */
function loadPlugins(specs: readonly string[], dir: string, report: ProblemSink): ContainerModule[] | undefined {
  const out: ContainerModule[] = [];
  let ok = true;
  specs.forEach((spec, i) => {
    const r = loadPlugin(spec, dir);
    if ('problem' in r) {
      ok = false;
      return report({ key: `plugins[${i}]`, message: r.problem });
    }
    out.push(r.module);
  });
  return ok ? out : undefined;
}

/** The policy families plugins add names to: every name a scenario gives is looked up in one of them. */
const POLICY_FAMILIES: readonly PolicyFamily<unknown>[] = SCENARIO_FAMILIES.map((f) => f.family);

/**
 * Two modules registered one policy name: whose they are, for the user, who named the plugins.
 * Each plugin is composed alone with the built-ins and its contributions of that name counted
 * (only on this error, so it costs nothing otherwise); the problem is reported at the last
 * plugin involved and names every one, and ipilab itself when a built-in has the name.
 */
function duplicateProblem(e: DuplicatePolicyError, paths: readonly string[], plugins: readonly ContainerModule[], compose: (plugins: readonly ContainerModule[]) => Container): Problem {
  const family = POLICY_FAMILIES.find((f) => f.kind === e.kind);
  const count = (mods: readonly ContainerModule[]): number => {
    if (family === undefined) return 0;
    try {
      return compose(mods)
        .getAll<{ name: string }>(family.contribution, { optional: true })
        .filter((c) => c.name === e.duplicate).length;
    } catch {
      return 0;
    }
  };
  const builtIn = count([]);
  const owners: string[] = builtIn > 0 ? ['ipilab itself'] : [];
  let last = -1;
  plugins.forEach((p, i) => {
    const n = count([p]) - builtIn;
    if (n <= 0) return;
    owners.push(`plugins[${i}] (${paths[i]})${n > 1 ? ` ${n} times` : ''}`);
    last = i;
  });
  const who = owners.length === 0 ? 'two of the loaded modules' : owners.length === 1 ? owners[0]! : `${owners.slice(0, -1).join(', ')} and ${owners[owners.length - 1]}`;
  return { key: last < 0 ? 'plugins' : `plugins[${last}]`, message: `the ${e.kind} ${JSON.stringify(e.duplicate)} is registered by ${who}; a plugin must give its policies names of their own` };
}


/**
 * Every family's registry, the built-ins' names and the plugins': what the scenario's names are
 * checked against, before the run is assembled. A name two modules register is reported and
 * blamed on them (undefined); a plugin whose module throws as it is loaded is named (PluginError).
 */
function policyCatalogue(seed: number, paths: readonly string[], plugins: readonly ContainerModule[], report: ProblemSink): Container | undefined {
  const compose = (mods: readonly ContainerModule[]): Container => composeContainer({ run: { seed }, modules: MODEL_MODULES, plugins: mods });
  try {
    const c = compose(plugins);
    // Each registry is built from every module's contributions when first asked for: asked for
    // here, so a name two modules register is found now and blamed on them.
    for (const f of POLICY_FAMILIES) c.get(f.registry);
    return c;
  } catch (e) {
    if (e instanceof DuplicatePolicyError) {
      report(duplicateProblem(e, paths, plugins, compose));
      return undefined;
    }
    // A plugin's own code failed as its module was loaded into the container: composed alone,
    // the one that fails is named (whatever it threw), as a plugin that fails during the run is.
    const culprit = plugins.findIndex((p) => {
      try {
        compose([p]);
        return false;
      } catch (x) {
        return !(x instanceof DuplicatePolicyError);
      }
    });
    if (culprit >= 0) {
      const why = e instanceof Error ? (e.message.split('\n')[0] ?? '') : `it threw ${describeThrown(e)}, not an Error`;
      throw new PluginError(`plugins[${culprit}] (${paths[culprit]}) failed as the run was set up: ${why}`, e);
    }
    throw e;
  }
}

/**
 * The composition root: builds one run from a validated scenario — kernel, host, hypervisor,
 * the backends and strategies the scenario names, plugins, VMs with their guest kernels,
 * memory managers, schedulers and workloads — without starting it. Every check that can fail on
 * the scenario's values happens here (or in `startRun`), so `validate` runs exactly these.
 * With the default sink the first problem throws; a collecting sink gets every problem it can
 * find: each part is checked on its own, with a stand-in (its default) for a part that failed,
 * and returns undefined when the run could not be built.
 */
export function buildRun(loaded: LoadedScenario, options: { seed?: number; only?: readonly string[] } = {}, report: ProblemSink = throwProblem): BuiltRun | undefined {
  const s = loaded.scenario;
  const seed = options.seed ?? s.run.seed;
  const plugins = loadPlugins(s.plugins, loaded.dir, report);
  // Names are checked against the built-ins alone when a plugin failed to load (it is reported).
  const catalogue = policyCatalogue(seed, s.plugins, plugins ?? [], report);
  if (catalogue === undefined) return undefined;
  const registry = <T>(f: PolicyFamily<T>): PolicyRegistry<T> => catalogue.get<PolicyRegistry<T>>(f.registry);
  let topology: HostTopology | undefined;
  hostTopology(s, registry(hostPresets), report, (t) => (topology = t));
  const profile: CalibrationProfile | undefined = selectPolicy(registry(calibrationProfiles), s.calibration.profile, 'calibration.profile', 'a calibration profile', report);
  if (profile === undefined) return undefined;
  const ghz = topology?.ghz ?? profile.ghz;
  // Each override on its own, so every bad one is named; the good ones are kept.
  const overrides: Record<string, number> = {};
  for (const [k, v] of Object.entries(s.calibration.overrides)) {
    const key = `calibration.overrides.${k}`;
    if (Math.abs(v) > MAX_PARAMETER) {
      report({ key, message: `expected at most ${MAX_PARAMETER.toExponential()} (larger figures overflow the simulated clock), got ${v}` });
      continue;
    }
    if (!(COST_NAMES as readonly string[]).includes(k)) {
      report({ key, message: `unknown cost field${didYouMean(k, COST_NAMES)}; expected one of the profile's: ${COST_NAMES.join(', ')}`, atKey: true });
      continue;
    }
    try {
      resolveCosts(profile, { [k]: v }, 'calibration.overrides', ghz);
      overrides[k] = v;
    } catch (e) {
      if (!(e instanceof InvalidParameterError)) throw e;
      report(parameterProblem(e, key));
    }
  }
  // A stand-in when the name is bad, so the hypervisor's other settings are still checked.
  const hostScheduler = selectPolicy(registry(hostSchedulers), s.hypervisor.scheduler.policy, 'hypervisor.scheduler.policy', 'a host scheduler policy', report) ?? registry(hostSchedulers).get();
  if (topology === undefined || plugins === undefined) return undefined;
  const host = topology;
  let costs = resolveCosts(profile, overrides, 'calibration.overrides', ghz);
  let config = hypervisorConfig(s, profile, ghz, costs);

  const composeWith = (mods: readonly ContainerModule[]): Container => {
    const setup = new ContainerModule(({ bind }) => {
      bind(HypervisorSetup).toConstantValue({ topology: host, costs, config, hostScheduler });
    });
    return composeContainer({ run: { seed }, modules: [setup, ...MODEL_MODULES], plugins: mods });
  };
  const compose = (): Container => composeWith(plugins);
  // The catalogue composed these modules already: this cannot fail where it did not.
  let container = compose();
  // The hypervisor checks its settings one at a time: each bad one is reported, then replaced
  // by its default so the next one (and the VMs) can still be checked.
  let hv: Hypervisor | undefined;
  for (let attempt = 0; hv === undefined && attempt < 8; attempt++) {
    try {
      hv = container.get(Hypervisor);
    } catch (e) {
      if (e instanceof InvalidParameterError) {
        report(parameterProblem(e, HYPERVISOR_KEYS[e.field] ?? e.field));
        if (e.field === 'hypervisor.timeSliceNs') config = { ...config, timeSliceNs: DEFAULT_HYPERVISOR_CONFIG.timeSliceNs };
        else if (e.field === 'hypervisor.serviceCapacity') config = { ...config, serviceCapacity: Infinity };
        else if (e.field === 'hypervisor.scheduler.hz') config = { ...config, hz: DEFAULT_HYPERVISOR_CONFIG.hz };
        else if (e.field.startsWith('calibration.overrides.')) {
          delete overrides[e.field.slice('calibration.overrides.'.length)];
          costs = resolveCosts(profile, overrides, 'calibration.overrides', ghz);
        } else return undefined;
      } else throw e;
      container = compose();
    }
  }
  if (hv === undefined) return undefined;
  const sim = container.get(Simulation);
  const streams = container.get(RandomStreams);
  const inContainer = <T>(f: PolicyFamily<T>): PolicyRegistry<T> => container.get<PolicyRegistry<T>>(f.registry);
  const backends = inContainer(ipiBackends);
  const strategies = inContainer(shootdownStrategies);
  const placements = inContainer(placementPolicies);
  const guestPolicies = inContainer(guestSchedulers);
  const balancers = inContainer(guestBalancers);
  const workloads = inContainer(workloadKinds);
  const clockScale = profile.ghz / host.ghz;
  // A VM the host cannot place is still checked on a host of its own (its workload and guest
  // settings), so one problem does not hide the next.
  let scratch: Hypervisor | undefined;
  const standIn = (spec: Parameters<Hypervisor['addVm']>[0], factory: IpiBackendFactory): Vm | undefined => {
    try {
      const h = compose().get(Hypervisor);
      scratch = h;
      return h.addVm({ ...spec, placement: 'shared', pcpus: host.pcpus.map((p) => p.id) }, factory);
    } catch {
      return undefined;
    }
  };

  const built: BuiltRun = { container, sim, hv, topology: host, names: [], workloads: [], mms: [], specOf: [] };
  const addOne = (vspec: VmScenario, index: number, vmName: string, r: ProblemSink): void => {
    const hvRef = hv!;
    const vmKey = (field: string): string => vmFieldKey(field, index, vspec);
    // Bare metal has one way to send an IPI, the CPU's own ICR write: the backend keys do not apply.
    const backendRef = s.hypervisor.mode === 'bare-metal' ? 'native' : (vspec.backend ?? s.hypervisor.backend);
    const backendName = policyRefName(backendRef);
    // Each name checked on its own; a bad one is reported and its default stands in, so the next is checked too.
    const factory: IpiBackendFactory = selectPolicy(backends, backendRef, vspec.backend === undefined ? 'hypervisor.backend' : `vms[${index}].backend`, 'an IPI backend', r) ?? backends.get('trap');
    const strategy: ShootdownStrategy = selectPolicy(strategies, vspec.shootdownStrategy, `vms[${index}].shootdownStrategy`, 'a shootdown strategy', r) ?? strategies.get('sync');
    const placement: PlacementPolicy = selectPolicy(placements, vspec.placement, `vms[${index}].placement`, 'a vCPU placement', r) ?? placements.get('pinned');
    const guestPolicy: GuestSchedulerPolicy = selectPolicy(guestPolicies, vspec.scheduler.policy, `vms[${index}].scheduler.policy`, 'a guest scheduler policy', r) ?? guestPolicies.get('eevdf');
    const balancer = vspec.scheduler.balancer === undefined ? undefined : selectPolicy(balancers, vspec.scheduler.balancer, `vms[${index}].scheduler.balancer`, 'a guest load balancer', r);
    const vmSpec = {
      name: vmName,
      vcpus: vspec.vcpus,
      placement,
      ...(vspec.pcpus === undefined ? {} : { pcpus: vspec.pcpus }),
      apicMode: vspec.apicMode ?? s.hypervisor.apicMode,
      backend: backendName,
      pv: { ...s.hypervisor.pv, spinlocks: vspec.pvSpinlocks },
      shorthand: vspec.shorthand,
      weight: vspec.weight,
      idle: vspec.idle,
      hz: vspec.hz,
    };
    let vm: Vm | undefined;
    let owner = hvRef;
    try {
      vm = hvRef.addVm(vmSpec, factory);
    } catch (e) {
      if (!(e instanceof InvalidParameterError)) throw e;
      r(parameterProblem(e, vmKey(e.field)));
      vm = standIn(vmSpec, factory);
      if (vm === undefined) return;
      owner = scratch!;
    }
    let kernel: GuestKernel;
    let mm: MemoryManager;
    let sched: Scheduler;
    try {
      kernel = new GuestKernel(owner, vm);
      mm = new MemoryManager(owner, vm, kernel, { strategy, coordination: vspec.coordination, lazyTlb: vspec.lazyTlb, ...(vspec.faults === undefined ? {} : { faults: vspec.faults }) });
      sched = new Scheduler(owner, vm, kernel, {
        policy: guestPolicy,
        ttwuQueue: vspec.scheduler.ttwuQueue,
        ...(vspec.scheduler.llcVcpus === undefined ? {} : { llcVcpus: vspec.scheduler.llcVcpus }),
        ...(vspec.scheduler.slice === undefined ? {} : { sliceNs: vspec.scheduler.slice }),
        ...(vspec.scheduler.migrationThreshold === undefined ? {} : { migrationThresholdNs: vspec.scheduler.migrationThreshold }),
        ...(vspec.scheduler.balance === undefined ? {} : { balance: vspec.scheduler.balance }),
        ...(balancer === undefined ? {} : { balancer }),
      });
    } catch (e) {
      if (!(e instanceof InvalidParameterError)) throw e;
      return r(parameterProblem(e, vmKey(e.field)));
    }
    // Streams are named after the VM: the VM draws the same numbers alone or beside others.
    const ctx = createWorkloadContext({ hv: owner, vm, kernel, mm, sched, rng: streams.stream(`vm/${vmName}/workload`), clockScale });
    const w = buildWorkload(workloads, vspec.workload, ctx, index, r);
    if (w === undefined || owner !== hvRef) return;
    built.names.push(vmName);
    built.workloads.push(w);
    built.mms.push(mm);
    built.specOf.push(index);
  };
  // The heap is checked after each VM: a run too large for it stops here with a problem, never in V8's out-of-memory.
  let outOfHeap = false;
  s.vms.forEach((spec, i) => {
    const first = new Set<string>();
    for (let copy = 1; copy <= spec.count && !outOfHeap; copy++) {
      const name = spec.count === 1 ? spec.name : `${spec.name}-${copy}`;
      if (options.only !== undefined && !options.only.includes(name)) continue;
      // A copy's problems are the first copy's, unless they are its own (say, no pCPUs left for it).
      const vmReport: ProblemSink = (p) => {
        const k = `${p.key}\u0000${p.message}`;
        if (copy === 1 || first.size === 0) first.add(k);
        else if (first.has(k)) return;
        report(copy === 1 ? p : { ...p, message: `${name}: ${p.message}` });
      };
      addOne(spec, i, name, vmReport);
      const heap = heapOverBudget(s, `while building ${name}${spec.count > 1 ? ` (copy ${copy} of ${spec.count})` : ''}`);
      if (heap !== undefined) {
        outOfHeap = true;
        report({ key: spec.count > 1 ? `vms[${i}].count` : `vms[${i}].vcpus`, message: heap.message });
      }
    }
  });
  return outOfHeap ? undefined : built;
}

/**
 * Starts a built run's workloads and hypervisor (they spawn tasks and put vCPUs on run queues;
 * nothing runs until the simulation does). A workload's tasks are checked as it spawns them.
 */
export function startRun(b: BuiltRun, s: Scenario, report: ProblemSink = throwProblem): void {
  b.workloads.forEach((w, k) => {
    const i = b.specOf[k]!;
    try {
      w.start();
    } catch (e) {
      if (!(e instanceof InvalidParameterError)) throw e;
      report({ key: `vms[${i}].workload`, message: `${workloadKind(s.vms[i]!.workload)}: ${e.message}` });
    }
  });
  b.hv.start();
}

/**
 * Builds a VM's workload, of the kind the registry has under its name. Its parameters (beside
 * `kind`, or in `options` beside `name`) are checked first against the workload's schema (types,
 * bounds, and no key it does not have, which would change nothing: a typo or a
 * misunderstanding), every problem reported. Then the workload checks what depends on the VM (a
 * vCPU index, threads per vCPU) one parameter at a time: each bad one is reported, then left out
 * (its default used) and the workload built again, so every bad one is named.
 */
function buildWorkload(registry: PolicyRegistry<WorkloadPolicy>, spec: VmScenario['workload'], ctx: WorkloadContext, i: number, report: ProblemSink): Workload | undefined {
  const { kind: _kind, name: _name, options, ...beside } = spec;
  const kind = workloadKind(spec);
  const named = spec.name !== undefined;
  const given: Record<string, unknown> = named ? { ...(options ?? {}) } : beside;
  const key = named ? `vms[${i}].workload.options` : `vms[${i}].workload`;
  if (!registry.has(kind)) {
    report({ key: `vms[${i}].workload.${named ? 'name' : 'kind'}`, message: expectedOneOf(kind, registry.names(), 'a workload kind') });
    return undefined;
  }
  const policy = registry.get(kind);
  const schema = policy.params;
  if (schema instanceof z.ZodObject) {
    // ipilab's own zod: the scenario's messages, as for any key of it.
    const checked = schema.safeParse(given);
    if (!checked.success) {
      const known = Object.keys(schema.shape);
      for (const issue of checked.error.issues) {
        if (issue.code !== 'unrecognized_keys') continue;
        for (const k of issue.keys) report({ key: `${key}.${k}`, message: `unknown key: not a parameter of ${kind}${didYouMean(k, known) || `; its parameters: ${known.join(', ')}`}`, atKey: true });
      }
      const rest = checked.error.issues.filter((issue) => issue.code !== 'unrecognized_keys');
      for (const p of schemaProblems(rest, given, schema)) report({ ...p, key: p.key === '' ? key : `${key}.${p.key}` });
      return undefined;
    }
  } else if (!parseOptions(schema, given, key, kind, report).ok) return undefined;
  const params: Record<string, unknown> = { ...given };
  let failed = false;
  let w: Workload | undefined;
  for (let attempt = 0; w === undefined && attempt <= Object.keys(given).length + 1; attempt++) {
    try {
      w = policy.create(ctx, params);
    } catch (e) {
      if (!(e instanceof InvalidParameterError)) throw e;
      failed = true;
      const m = /^workload\.([^.[]+)/.exec(e.field);
      report(parameterProblem(e, m !== null ? `${key}.${e.field.slice('workload.'.length)}` : e.field === 'clockScale' ? 'host.ghz' : key));
      if (m === null || !Object.hasOwn(params, m[1]!)) return undefined;
      delete params[m[1]!];
    }
  }
  return failed ? undefined : w;
}

/** A model's name for a VM setting (`vms[<hypervisor index>].pcpus[1]`, `scheduler.sliceNs`) as the scenario's key. */
function vmFieldKey(field: string, i: number, spec: VmScenario): string {
  const vm = /^vms\[\d+\](.*)$/.exec(field);
  if (vm !== null) {
    const rest = vm[1]!;
    if (rest === '.backend' && spec.backend === undefined) return 'hypervisor.backend';
    if (rest === '.apicMode' && spec.apicMode === undefined) return 'hypervisor.apicMode';
    return `vms[${i}]${rest}`;
  }
  const sched = /^scheduler\.(\w+)$/.exec(field);
  if (sched !== null) return `vms[${i}].scheduler.${({ sliceNs: 'slice', migrationThresholdNs: 'migrationThreshold' } as Record<string, string>)[sched[1]!] ?? sched[1]!}`;
  return HYPERVISOR_KEYS[field] ?? `vms[${i}]`;
}
