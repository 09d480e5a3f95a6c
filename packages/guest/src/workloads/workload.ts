import { InvalidParameterError, type RandomStream } from '@ipilab/core';
import type { Costs } from '@ipilab/calibration';
import type { Clock, Hypervisor, Vm } from '@ipilab/hypervisor';
import type { Vcpu } from '@ipilab/vcpu';
import type { GuestKernel } from '../guest-kernel';
import type { AddressSpace } from '../mm/address-space';
import type { MemoryManager } from '../mm/memory-manager';
import type { Scheduler } from '../sched/scheduler';
import { switchMm, type TaskCommand } from '../sched/task';

/**
 * What of the guest's memory manager a workload may use: address spaces (create, populate, switch
 * to), accesses and faults, the system calls as task code (mmap, munmap, madvise, fork, write,
 * touch), huge-page splits, and its counters. Everything else of the MemoryManager is the model's.
 */
export type WorkloadMemory = Pick<
  MemoryManager,
  | 'costs'
  | 'createSpace'
  | 'populate'
  | 'populateHuge'
  | 'switchTo'
  | 'touch'
  | 'write'
  | 'unmap'
  | 'fork'
  | 'splitHuge'
  | 'touchTask'
  | 'writeTask'
  | 'faultInTask'
  | 'mmapTask'
  | 'munmapTask'
  | 'madviseDontneedTask'
  | 'forkTask'
  | 'shootdowns'
  | 'lockStats'
>;

/** What of the guest's scheduler a workload may use: making tasks and waking them, and the wake-up IPI count. */
export type WorkloadScheduler = Pick<Scheduler, 'spawn' | 'spawnBlocked' | 'wake' | 'wakeNewTask' | 'wakeIpis'>;

/** What of the guest kernel a workload may use: a cross-call (smp_call_function_many) and a device interrupt handler. */
export type WorkloadKernel = Pick<GuestKernel, 'crossCall' | 'onDevice'>;

/** Timers a workload sets: `fn(arg)` after `delayNs` of simulated time (the argument spares a closure per firing). */
export interface WorkloadTimers {
  /** Runs `fn(arg)` after `delayNs` ns. */
  schedule<A>(delayNs: number, fn: (arg: A) => void, arg: A): void;
}

/**
 * What a workload runs on (the contract every workload, built-in or plugin, is given): one VM's
 * vCPUs, the parts of its guest kernel, memory manager and scheduler a workload may use, the
 * simulated clock and timers, device interrupts, and its own random stream. Not the hypervisor,
 * not the VM object: what the host does is the model's business.
 */
export interface WorkloadContext {
  /** The simulated clock. */
  readonly clock: Clock;
  /** Timers on the simulated clock. */
  readonly timers: WorkloadTimers;
  /** Per-operation costs in ns (the run's calibration, at the host's clock). */
  readonly costs: Costs;
  /** The VM's vCPUs, by index. */
  readonly vcpus: readonly Vcpu[];
  /** The guest kernel: cross-calls and device interrupt handlers. */
  readonly kernel: WorkloadKernel;
  /** The memory manager. */
  readonly mm: WorkloadMemory;
  /** The guest scheduler. */
  readonly sched: WorkloadScheduler;
  /** A device interrupt (an MSI) of `vector` to `vcpu`, delivered as the host delivers any interrupt. */
  deviceInterrupt(vcpu: Vcpu, vector: number): void;
  /** The workload's own random stream. */
  readonly rng: RandomStream;
  /**
   * How much longer guest CPU work takes here than its parameters say: the calibration
   * profile's clock over the host's (run-scenario sets it). CPU-work parameters are ns of work
   * on the profile's machine, so a host at twice its clock does them in half the time (0.5).
   * Absent: 1, the host runs at the profile's clock.
   */
  readonly clockScale?: number;
}

/** The parts a workload's context is made of (the model's objects for one VM). */
export interface WorkloadParts {
  readonly hv: Hypervisor;
  readonly vm: Vm;
  readonly kernel: GuestKernel;
  readonly mm: MemoryManager;
  readonly sched: Scheduler;
  readonly rng: RandomStream;
  readonly clockScale?: number;
}

/** One VM's workload context (WorkloadContext) from the model's objects: what a run, a test or a law gives a workload. */
export function createWorkloadContext(parts: WorkloadParts): WorkloadContext {
  const { hv, vm, kernel, mm, sched, rng } = parts;
  const sim = hv.sim;
  return {
    clock: hv.clock,
    timers: { schedule: (delayNs, fn, arg) => void sim.schedule(delayNs, fn, arg) },
    costs: hv.costs,
    vcpus: vm.vcpus,
    kernel,
    mm,
    sched,
    deviceInterrupt: (vcpu, vector) => void hv.deliver(null, vcpu, vector, hv.newIpiId()),
    rng,
    ...(parts.clockScale === undefined ? {} : { clockScale: parts.clockScale }),
  };
}

/** A workload: started once before the run, asked for its figures at the end. */
export interface Workload {
  readonly kind: string;
  /** Starts the workload: creates its tasks and address spaces and sets them running. */
  start(): void;
  /** Forgets what was counted so far (the end of a warm-up); figures then cover what follows. */
  resetStats?(): void;
  /** Figures of merit over `elapsedNs` of simulated time (since the last reset). */
  result(elapsedNs: number): Record<string, unknown>;
  /** The figure that says how well it did, and whether higher is better (for slowdowns and comparisons). */
  readonly primary: { readonly key: string; readonly higherIsBetter: boolean };
  /**
   * The other figures a user can judge it by (`run.metrics`, `--metric`; docs/cli.md): the key in
   * `result()` of its throughput (a number per second of the measured time), and its named latency
   * distributions, each the key in `result()` of a LatencySummary (ns). Absent: neither.
   */
  readonly figures?: WorkloadFigures;
}

/** What a workload offers `run.metrics` besides its primary figure (Workload.figures). */
export interface WorkloadFigures {
  /** Key in result() of work done per second (higher is better). */
  readonly throughput?: string;
  /** Latency name -> key in result() of its LatencySummary (ns; lower is better). */
  readonly latencies?: Readonly<Record<string, string>>;
}

/**
 * A CPU-work parameter (ns of guest computation at the calibration profile's clock) as ns on
 * this host: scaled by `ctx.clockScale`. Only for work the core does; wall-time parameters
 * (sleeps, arrival rates, intervals) are not scaled. Called once per parameter, not per unit.
 */
export function cpuNs(ctx: WorkloadContext, ns: number): number {
  const scale = ctx.clockScale ?? 1;
  if (!(Number.isFinite(scale) && scale > 0)) throw new InvalidParameterError('clockScale', scale, 'a positive, finite ratio of clock rates (profile GHz / host GHz)');
  // Not rounded: at a scale of 1 a parameter is used exactly as given, and the vCPU carries fractional work.
  return ns * scale;
}

/** vCPU indexes a workload may use: a list parameter, or all of the VM's. */
export function vcpuList(params: Record<string, unknown>, key: string, nrVcpus: number, dflt: readonly number[]): number[] {
  const v = params[key] ?? dflt;
  if (!Array.isArray(v) || v.length === 0) throw new InvalidParameterError(`workload.${key}`, v, 'a non-empty list of vCPU indexes');
  v.forEach((x, i) => {
    if (!(Number.isSafeInteger(x) && x >= 0 && x < nrVcpus)) {
      throw new InvalidParameterError(`workload.${key}[${i}]`, x, `a vCPU index in [0, ${nrVcpus - 1}]`);
    }
  });
  return v as number[];
}

export const perSecond = (count: number, elapsedNs: number): number => (elapsedNs > 0 ? (count * 1e9) / elapsedNs : 0);

/**
 * A task command that makes the task run in `space`: its mm becomes current on the task's vCPU
 * now, and again whenever the scheduler switches the task in (on this vCPU or another).
 */
export function switchTo(mm: Pick<MemoryManager, 'switchTo'>, space: AddressSpace): TaskCommand {
  return switchMm((v) => mm.switchTo(v, space));
}
