import { getHeapStatistics } from 'node:v8';
import { ScenarioError, type Problem } from './errors';
import type { Scenario } from './schema';

/*
 * Resource guards: what a scenario will need is estimated from it before anything is built or
 * run, and what cannot fit is refused with one line naming the key and the limit, instead of
 * ending in V8's "heap out of memory" (exit 134) a minute later.
 *
 * The figures are measured (Node 20, x64; `node --expose-gc`, used_heap_size after a full GC,
 * before and after buildRun + startRun of one VM spec repeated `count` times, placement shared,
 * on skylake-2s-80t):
 *   ebizzy 1 vCPU x 1,000 copies 15.6 MiB, x 2,000 copies 30.5 MiB; compute 1 x 2,000 25.3 MiB;
 *   compute 4 x 1,000 26.0 MiB; ebizzy 1,024 vCPUs x 1 5.4 MiB, 4,096 x 1 19.8 MiB.
 * So about 11 KiB per VM copy (its guest kernel, memory manager, scheduler, workload) and 5 KiB
 * per vCPU; both are rounded up below. Running, the model's heap grew to 1.3-2.8x its set-up for
 * ebizzy, hackbench, ipi-bench, irq-pipeline, huge-split and will-it-scale, flat in simulated
 * time (1-60 ms), hence x3. fork-cow grows with the events run (~75 bytes an event): no set-up
 * figure bounds it, the run's own heap guard (checked between slices) does.
 * Replications: compareScenario runs its replications in one synchronous call, and inversify's
 * WeakRefs keep every run's container (its whole model) alive until that call returns (measured:
 * ~110 KiB per run of test/fixtures/small.yaml kept until the end of the job); a sweep's worker
 * runs one at a time and the main thread keeps a small result per run.
 */

/** Heap one VM copy takes once built (measured 11 KiB; see above). */
export const HEAP_PER_VM_COPY = 16 * 1024;
/** Heap one vCPU takes once built (measured 4.9 KiB). */
export const HEAP_PER_VCPU = 6 * 1024;
/** Running heap over set-up heap (measured up to 2.8x, fork-cow excepted). */
export const RUNNING_GROWTH = 3;
/** What a sweep's main thread keeps per run (its task and its result): measured < 1 KiB with 2 VMs. */
export const SWEEP_KEPT_PER_RUN = 1024;
export const SWEEP_KEPT_PER_RUN_VM = 512;
/** The share of Node's own heap limit a run may use: V8 needs headroom to collect garbage near it. */
export const HEAP_LIMIT_SHARE = 0.75;

const MiB = 2 ** 20;

/** Node's heap limit (v8 heap_size_limit), MiB: --max-old-space-size sets it. */
export function nodeHeapLimitMb(): number {
  return Math.floor(getHeapStatistics().heap_size_limit / MiB);
}

/** The heap a run may use, MiB: run.maxHeapMb, but never more than 3/4 of Node's limit. */
export function heapBudgetMb(s: Scenario): number {
  return Math.min(s.run.maxHeapMb, Math.floor(nodeHeapLimitMb() * HEAP_LIMIT_SHARE));
}

/** The budget and where it comes from, for messages. */
function budgetText(s: Scenario): string {
  const node = nodeHeapLimitMb();
  const cap = Math.floor(node * HEAP_LIMIT_SHARE);
  return s.run.maxHeapMb <= cap
    ? `the heap budget of ${s.run.maxHeapMb} MiB (run.maxHeapMb)`
    : `the heap budget of ${cap} MiB (3/4 of Node's heap limit of ${node} MiB; raise it with NODE_OPTIONS=--max-old-space-size=<MiB>)`;
}

/** Estimated heap of one run once built, bytes (see the measurements above). */
export function setUpHeapBytes(s: Scenario): number {
  let bytes = 0;
  for (const vm of s.vms) bytes += vm.count * (HEAP_PER_VM_COPY + vm.vcpus * HEAP_PER_VCPU);
  return bytes;
}

/** Runs one replication makes: the run, and each VM alone and on bare metal when asked for. */
function runsPerReplication(s: Scenario): number {
  const copies = s.vms.reduce((n, vm) => n + vm.count, 0);
  const firsts = s.vms.length;
  return 1 + (s.run.slowdownVsAlone && copies >= 2 ? firsts : 0) + (s.run.slowdownVsBareMetal && s.hypervisor.mode !== 'bare-metal' ? firsts : 0);
}

const mb = (bytes: number): string => `${Math.ceil(bytes / MiB).toLocaleString('en-US')} MiB`;

/**
 * The key a too-large run is named after: the VM spec that takes the most heap, by its count
 * when it has copies, else by its vCPUs.
 */
function largestVmKey(s: Scenario): string {
  let best = 0;
  s.vms.forEach((vm, i) => {
    const b = s.vms[best]!;
    if (vm.count * (HEAP_PER_VM_COPY + vm.vcpus * HEAP_PER_VCPU) > b.count * (HEAP_PER_VM_COPY + b.vcpus * HEAP_PER_VCPU)) best = i;
  });
  const vm = s.vms[best]!;
  return vm.count > 1 ? `vms[${best}].count` : `vms[${best}].vcpus`;
}

/**
 * What one scenario cannot fit, before anything is built: a run whose model would not fit the
 * heap budget (VM copies x vCPUs), and replications whose results a sweep could not keep.
 * Checked with the rules across fields (ruleProblems), so `validate` and every command refuse it.
 */
export function resourceProblems(s: Scenario): Problem[] {
  const budget = heapBudgetMb(s) * MiB;
  const out: Problem[] = [];
  const running = setUpHeapBytes(s) * RUNNING_GROWTH;
  if (running > budget) {
    const copies = s.vms.reduce((n, vm) => n + vm.count, 0);
    const vcpus = s.vms.reduce((n, vm) => n + vm.count * vm.vcpus, 0);
    out.push({
      key: largestVmKey(s),
      message: `${copies.toLocaleString('en-US')} VM copies with ${vcpus.toLocaleString('en-US')} vCPUs need about ${mb(running)} of heap to run (${HEAP_PER_VM_COPY / 1024} KiB a copy and ${HEAP_PER_VCPU / 1024} KiB a vCPU, x${RUNNING_GROWTH} running), over ${budgetText(s)}; use fewer copies or vCPUs`,
    });
  }
  const kept = sweepKeptBytes(s, s.run.replications);
  if (kept > budget) out.push({ key: 'run.replications', message: `expected at most ${maxSweepReplications(s).toLocaleString('en-US')} replications: their results alone need ${mb(kept)}, over ${budgetText(s)}` });
  return out;
}

function sweepKeptBytes(s: Scenario, runs: number): number {
  return runs * (SWEEP_KEPT_PER_RUN + s.vms.reduce((n, vm) => n + vm.count, 0) * SWEEP_KEPT_PER_RUN_VM);
}

function maxSweepReplications(s: Scenario): number {
  return Math.floor((heapBudgetMb(s) * MiB) / sweepKeptBytes(s, 1));
}

/**
 * What a compare or sweep cannot fit, once every point is checked and before anything runs:
 * a compare keeps every run's model until it ends (see above), so its replications over all its
 * variants must fit the budget together; a sweep keeps a small result per run.
 */
export function pointsProblem(points: readonly Scenario[], command: 'compare' | 'sweep'): ScenarioError | undefined {
  if (points.length === 0) return undefined;
  const first = points[0]!;
  const budget = heapBudgetMb(first) * MiB;
  let bytes = 0;
  for (const s of points) bytes += command === 'compare' ? s.run.replications * runsPerReplication(s) * setUpHeapBytes(s) * RUNNING_GROWTH : sweepKeptBytes(s, s.run.replications);
  if (bytes <= budget) return undefined;
  const runs = points.reduce((n, s) => n + s.run.replications, 0);
  const what = command === 'compare' ? `compare keeps every run's model until it ends: ${runs.toLocaleString('en-US')} runs of ${points.length} variants need about ${mb(bytes)}` : `the results of ${runs.toLocaleString('en-US')} runs over ${points.length} points need about ${mb(bytes)}`;
  return new ScenarioError(`run.replications: ${what}, over ${budgetText(first)}; run fewer replications${command === 'compare' ? ' (or use sweep, which runs them one at a time)' : ' or points'}`, 'run.replications');
}

/**
 * Checking the points of a compare or sweep builds each point's model (and those of the extra
 * runs it asks for), and, as with compare's runs, every one is kept until all are checked. `kept`
 * is the estimate over the first `k` points checked of `of`: over the budget, the grid is refused
 * there, before the set-up guard would stop it at some point too small to blame.
 */
export function checkingProblem(first: Scenario, kept: number, k: number, of: number, flag: string): ScenarioError | undefined {
  if (kept <= heapBudgetMb(first) * MiB) return undefined;
  return new ScenarioError(
    `${flag}: checking every point before the first runs keeps each point's model until all are checked: the first ${k.toLocaleString('en-US')} of ${of.toLocaleString('en-US')} points need about ${mb(kept)}, over ${budgetText(first)}; split the grid into smaller sweeps, or use fewer copies or vCPUs`,
  );
}

/** What checking one point keeps: its model and its extra runs', built (see checkingProblem). */
export function checkingHeapBytes(s: Scenario): number {
  return runsPerReplication(s) * setUpHeapBytes(s);
}

/**
 * The heap guard while a run is built (between VMs; buildRun) and while it runs (between slices;
 * runScenario): the heap in use against the budget, well under Node's own limit so that the
 * guard, not V8's "out of memory", ends a run that outgrows it. `where` says when, for the
 * message.
 */
export function heapOverBudget(s: Scenario, where: string): { heapMb: number; message: string } | undefined {
  // v8's heap statistics are far cheaper than process.memoryUsage(), which also reads the RSS.
  const heapMb = getHeapStatistics().used_heap_size / MiB;
  const budget = heapBudgetMb(s);
  if (heapMb <= budget) return undefined;
  return { heapMb, message: `the run used ${heapMb.toFixed(0)} MiB of heap ${where}, over ${budgetText(s)}` };
}

/*
 * The event budget (run.maxEvents) guards against a runaway model, one that makes events without
 * simulated time moving on; it is not meant to stop a normal run, however long. 'auto' scales it
 * with the scenario: events a run makes grow with its vCPUs and its simulated time. Measured
 * (run --json of every example, and ebizzy at 64 and 256 vCPUs): at most 5,375 events per vCPU
 * per simulated ms (drop-ipi-fence, a 1 ms run whose start-up dominates), 1,490 in long runs
 * (will-it-scale, ebizzy free=madvise 1,040-1,380); so 20,000 is about 4x the busiest and 13x the
 * busiest long run. The old fixed default stays as the floor, so short runs keep their room.
 */

/** Events per vCPU per simulated ms the 'auto' event budget allows (see above). */
export const EVENTS_PER_VCPU_MS = 20_000;
/** The 'auto' event budget's floor: the fixed default it replaced. */
export const MIN_EVENT_BUDGET = 200_000_000;

/** A run's event budget: run.maxEvents, or with 'auto' scaled from its vCPUs and duration. */
export interface EventBudget {
  readonly events: number;
  /** Scaled from the scenario ('auto'), not set by the user. */
  readonly auto: boolean;
  /** The scenario's vCPUs, all copies counted (what 'auto' scaled with). */
  readonly vcpus: number;
}

/** The event budget of one run of `s` (every run of it: each VM alone and on bare metal included). */
export function eventBudget(s: Scenario): EventBudget {
  const vcpus = s.vms.reduce((n, vm) => n + vm.count * vm.vcpus, 0);
  if (s.run.maxEvents !== 'auto') return { events: s.run.maxEvents, auto: false, vcpus };
  const scaled = Math.ceil(vcpus * (s.run.duration / 1e6) * EVENTS_PER_VCPU_MS);
  return { events: Math.min(Number.MAX_SAFE_INTEGER, Math.max(MIN_EVENT_BUDGET, scaled)), auto: true, vcpus };
}

const count = (n: number): string => n.toLocaleString('en-US');

/** Why a run that used its event budget by `now` ns was stopped, and what to do (after `run.maxEvents: `). */
export function eventBudgetMessage(s: Scenario, b: EventBudget, now: number): string {
  const used = `the run used its budget of ${count(b.events)} events by ${count(now)} ns of ${count(s.run.duration)}`;
  if (!b.auto) return `${used}; shorten run.duration or raise run.maxEvents`;
  const scaled = b.events === MIN_EVENT_BUDGET ? `at least ${count(MIN_EVENT_BUDGET)}` : `${count(b.vcpus)} vCPUs x ${count(s.run.duration / 1e6)} ms x ${count(EVENTS_PER_VCPU_MS)}`;
  return `${used}, a budget scaled from the scenario ('auto': ${count(EVENTS_PER_VCPU_MS)} events per vCPU per simulated ms, ${scaled}), a few times what the busiest known scenarios make: the model may be making events without time moving on; if the run is meant to be this busy, set run.maxEvents to a larger number`;
}
