import fc from 'fast-check';
import { RandomStreams, Simulation } from '@ipilab/core';
import { KVM_SKYLAKE_2018, resolveCosts } from '@ipilab/calibration';
import { EventSink } from '@ipilab/events';
import { createWorkloadContext, GuestKernel, MemoryManager, Scheduler, SynchronousShootdown, WORKLOAD_PARAMS, WORKLOADS, type Workload, type WorkloadPolicy } from '@ipilab/guest';
import { HostTopology } from '@ipilab/host';
import { DEFAULT_HYPERVISOR_CONFIG, Hypervisor, type IpiBackendFactory } from '@ipilab/hypervisor';
import { assertLaw, type LawRunOptions } from '../law-runner';
import type { Range } from '../arbitraries';

/** A workload kind under test: a built-in's name, or the policy with the name it is known by. */
export type WorkloadUnderTest = string | { readonly name: string; readonly policy: WorkloadPolicy };

/** A workload case: the VM's size, the run's seed and length, and the parameters. */
export interface WorkloadCase {
  readonly vcpus: number;
  readonly seed: number;
  readonly horizonNs: number;
  readonly params: Record<string, unknown>;
}

/** Options of the workload laws. */
export interface WorkloadLawOptions extends LawRunOptions {
  /** The VM's IPI backend (e.g. `(hv, vm) => new TrapAndEmulateBackend(hv, vm)` from @ipilab/ipi-trap). */
  readonly backend: IpiBackendFactory;
  /** The workload's parameters (default: none, `{}`). Drawn cases its schema refuses are skipped. */
  readonly params?: fc.Arbitrary<Record<string, unknown>>;
  /** The VM's vCPUs (default 1-8). */
  readonly vcpus?: Range;
  /** Simulated time of one run (default 1-4 ms). */
  readonly horizonNs?: Range;
  /**
   * One run of `completionParams` (default `{}`) on 4 vCPUs (within `vcpus`) for this long must
   * give its primary figure (default 20 ms): a figure absent from every short run is a wrong key.
   */
  readonly completeWithinNs?: number;
  /** The parameters of that run (default `{}`). */
  readonly completionParams?: Record<string, unknown>;
}

/** What one run of a workload case gave: its result, or the parameter it refused. */
export type WorkloadRun = { readonly refused: string } | { readonly result: Record<string, unknown>; readonly workload: Workload; readonly staleUses: number };

function policyOf(w: WorkloadUnderTest): { name: string; policy: WorkloadPolicy } {
  if (typeof w !== 'string') return w;
  const create = WORKLOADS[w];
  const params = WORKLOAD_PARAMS[w];
  if (create === undefined || params === undefined) throw new Error(`workload laws: no built-in workload ${JSON.stringify(w)} (${Object.keys(WORKLOADS).join(', ')})`);
  return { name: w, policy: { params, create } };
}

const FORBIDDEN = ['Math.random', 'Date.now', 'performance.now'] as const;

/** Runs `fn` with Math.random, Date.now and performance.now made to throw: a model must not read them. */
function withoutWallClock<T>(fn: () => T): T {
  const saved = { random: Math.random, now: Date.now, perf: performance.now };
  const trap = (what: string) => () => {
    throw new Error(`the workload read ${what} (models take time from the simulated clock and randomness from ctx.rng)`);
  };
  Math.random = trap(FORBIDDEN[0]);
  Date.now = trap(FORBIDDEN[1]);
  performance.now = trap(FORBIDDEN[2]);
  try {
    return fn();
  } finally {
    Math.random = saved.random;
    Date.now = saved.now;
    performance.now = saved.perf;
  }
}

/** Runs one case of a workload on a VM of `c.vcpus` pinned vCPUs (one per pCPU), for `c.horizonNs`. */
export function runWorkloadCase(w: WorkloadUnderTest, c: WorkloadCase, backend: IpiBackendFactory): WorkloadRun {
  const { name, policy } = policyOf(w);
  const sim = new Simulation();
  const topology = new HostTopology({ sockets: 1, coresPerSocket: c.vcpus, threadsPerCore: 1, ghz: 2.5 });
  const hv = new Hypervisor(sim, new EventSink(), topology, resolveCosts(KVM_SKYLAKE_2018), DEFAULT_HYPERVISOR_CONFIG);
  const vm = hv.addVm({ name: 'workload', vcpus: c.vcpus, placement: 'pinned', apicMode: 'x2apic-physical', backend: 'under-test' }, backend);
  const kernel = new GuestKernel(hv, vm);
  const mm = new MemoryManager(hv, vm, kernel, { strategy: new SynchronousShootdown() });
  const sched = new Scheduler(hv, vm, kernel);
  const rng = new RandomStreams(c.seed).stream(`vm/workload/workload`);
  return withoutWallClock(() => {
    let workload: Workload;
    try {
      workload = policy.create(createWorkloadContext({ hv, vm, kernel, mm, sched, rng }), c.params);
    } catch (e) {
      const field = e instanceof Error ? (e as { field?: unknown }).field : undefined;
      if (typeof field === 'string' && field.startsWith('workload.')) return { refused: field };
      throw e;
    }
    if (typeof workload.primary?.key !== 'string') throw new Error(`workload ${name}: no primary figure key`);
    workload.start();
    hv.start();
    sim.run({ until: c.horizonNs });
    return { result: workload.result(c.horizonNs), workload, staleUses: mm.staleUses.length };
  });
}

/** A figure a run too short to finish a round leaves out: absent, null or NaN (the run output marks it incomplete). */
function incomplete(x: unknown): boolean {
  return x === undefined || x === null || (typeof x === 'number' && Number.isNaN(x));
}

function numberAt(obj: Record<string, unknown>, key: string): unknown {
  let cur: unknown = obj;
  for (const k of key.split('.')) cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[k] : undefined;
  return cur;
}

/**
 * One workload case, run twice: it never reads the wall clock or Math.random; it refuses only
 * with an InvalidParameterError naming a `workload.` field; its result has its primary figure as
 * a number (NaN allowed only as "did not complete"), its throughput as a finite number >= 0 and
 * each latency as an object; memory stays coherent (no stale TLB use); and the second run gives
 * the same result, figure for figure.
 */
export function checkWorkload(w: WorkloadUnderTest, c: WorkloadCase, backend: IpiBackendFactory): void {
  const { name, policy } = policyOf(w);
  const parsed = policy.params.safeParse(c.params);
  fc.pre(parsed.success);
  const a = runWorkloadCase(w, c, backend);
  const b = runWorkloadCase(w, c, backend);
  if ('refused' in a) {
    if (!('refused' in b) || b.refused !== a.refused) throw new Error(`workload ${name}: refused ${a.refused} once, not the second time`);
    return;
  }
  if ('refused' in b) throw new Error(`workload ${name}: refused ${b.refused} only the second time`);
  const r = a.result;
  if (r === null || typeof r !== 'object') throw new Error(`workload ${name}: result() gave ${String(r)}, not a record`);
  const primary = numberAt(r, a.workload.primary.key);
  if (!incomplete(primary) && !(typeof primary === 'number' && Number.isFinite(primary))) throw new Error(`workload ${name}: primary figure ${JSON.stringify(a.workload.primary.key)} is ${JSON.stringify(primary)}, not a finite number (or absent while incomplete)`);
  const figures = a.workload.figures;
  if (figures?.throughput !== undefined) {
    const t = numberAt(r, figures.throughput);
    if (!incomplete(t) && !(typeof t === 'number' && Number.isFinite(t) && t >= 0)) throw new Error(`workload ${name}: throughput ${JSON.stringify(figures.throughput)} is ${JSON.stringify(t)}, not a finite number >= 0 (or absent while incomplete)`);
  }
  for (const [latency, key] of Object.entries(figures?.latencies ?? {})) {
    const l = numberAt(r, key);
    if (!incomplete(l) && (l === null || typeof l !== 'object')) throw new Error(`workload ${name}: latency ${latency} (${JSON.stringify(key)}) is ${JSON.stringify(l)}, not a summary`);
  }
  if (a.staleUses !== 0) throw new Error(`workload ${name}: ${a.staleUses} stale TLB uses`);
  const x = JSON.stringify(r);
  const y = JSON.stringify(b.result);
  if (x !== y) throw new Error(`workload ${name}: two runs of one case differ:\n  ${x}\n  ${y}`);
}

/** The workload laws' cases: a VM size, a seed, a run length and parameters. */
export function workloadCaseArbitrary(options: Omit<WorkloadLawOptions, 'backend'> = {}): fc.Arbitrary<WorkloadCase> {
  return fc.record({
    vcpus: fc.integer({ min: Math.max(1, options.vcpus?.min ?? 1), max: options.vcpus?.max ?? 8 }),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    horizonNs: fc.integer({ min: options.horizonNs?.min ?? 1_000_000, max: options.horizonNs?.max ?? 4_000_000 }),
    params: options.params ?? fc.constant({}),
  });
}

/**
 * The workload laws (checkWorkload) for a workload given by name (a built-in) or as
 * `{ name, policy }` (the kind under test). Default 10 cases, each two whole runs; then one longer
 * run must give the primary figure (`completeWithinNs`).
 */
export function assertWorkloadLaws(w: WorkloadUnderTest, options: WorkloadLawOptions): void {
  const { backend, params: _p, vcpus: _v, horizonNs: _h, completeWithinNs, completionParams, ...run } = options;
  const name = typeof w === 'string' ? w : w.name;
  assertLaw(`workload ${JSON.stringify(name)}`, workloadCaseArbitrary(options), (c) => checkWorkload(w, c, backend), { numRuns: 10, ...run });
  const vcpus = Math.min(Math.max(4, options.vcpus?.min ?? 1), options.vcpus?.max ?? 8);
  const long: WorkloadCase = { vcpus, seed: 1, horizonNs: completeWithinNs ?? 20_000_000, params: completionParams ?? {} };
  assertLaw(
    `workload ${JSON.stringify(name)}: gives its primary figure`,
    fc.constant(long),
    (c) => {
      const done = runWorkloadCase(w, c, backend);
      if ('refused' in done) throw new Error(`workload ${name}: refused ${done.refused} on ${c.vcpus} vCPUs with ${JSON.stringify(c.params)}; give completionParams it takes`);
      const primary = numberAt(done.result, done.workload.primary.key);
      if (!(typeof primary === 'number' && Number.isFinite(primary))) {
        throw new Error(`workload ${name}: after ${c.horizonNs} ns on ${c.vcpus} vCPUs its primary figure ${JSON.stringify(done.workload.primary.key)} is still ${JSON.stringify(primary)} (a wrong key, or give a longer completeWithinNs)`);
      }
    },
    { ...run, numRuns: 1 },
  );
}
