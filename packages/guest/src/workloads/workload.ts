import { InvalidParameterError, type RandomStream } from '@ipilab/core';
import type { Hypervisor, Vm } from '@ipilab/hypervisor';
import type { GuestKernel } from '../guest-kernel';
import type { AddressSpace } from '../mm/address-space';
import type { MemoryManager } from '../mm/memory-manager';
import type { Scheduler } from '../sched/scheduler';
import { switchMm, type TaskCommand } from '../sched/task';

/** What a workload runs on: one VM's guest kernel, memory manager and scheduler. */
export interface WorkloadContext {
  readonly hv: Hypervisor;
  readonly vm: Vm;
  readonly kernel: GuestKernel;
  readonly mm: MemoryManager;
  readonly sched: Scheduler;
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
export function vcpuList(params: Record<string, unknown>, key: string, vm: Vm, dflt: readonly number[]): number[] {
  const v = params[key] ?? dflt;
  if (!Array.isArray(v) || v.length === 0) throw new InvalidParameterError(`workload.${key}`, v, 'a non-empty list of vCPU indexes');
  v.forEach((x, i) => {
    if (!(Number.isSafeInteger(x) && x >= 0 && x < vm.vcpus.length)) {
      throw new InvalidParameterError(`workload.${key}[${i}]`, x, `a vCPU index in [0, ${vm.vcpus.length - 1}]`);
    }
  });
  return v as number[];
}

export const perSecond = (count: number, elapsedNs: number): number => (elapsedNs > 0 ? (count * 1e9) / elapsedNs : 0);

/**
 * A task command that makes the task run in `space`: its mm becomes current on the task's vCPU
 * now, and again whenever the scheduler switches the task in (on this vCPU or another).
 */
export function switchTo(mm: MemoryManager, space: AddressSpace): TaskCommand {
  return switchMm((v) => mm.switchTo(v, space));
}
