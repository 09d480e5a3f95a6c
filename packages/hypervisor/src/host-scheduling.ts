import type { Simulation } from '@ipilab/core';
import type { Costs } from '@ipilab/calibration';
import type { HostTopology } from '@ipilab/host';
import type { Vcpu } from '@ipilab/vcpu';
import type { HypervisorConfig } from './config';
import type { Hypervisor } from './hypervisor';
import { Balancer } from './migration';
import { PcpuRunner } from './pcpu-runner';
import { VcpuPlacement } from './placement';
import { HostThread, type HostSchedulerPolicy } from './sched/host-scheduler';
import { SmtContention } from './smt';
import type { VmSpec } from './vm';

/**
 * How the host shares its pCPUs among vCPU threads: a run queue and a runner per pCPU (the
 * policy's, pcpu-runner.ts), one host thread per vCPU, where threads may run (placement.ts),
 * how they move (migration.ts), what SMT siblings cost each other (smt.ts), and who held each
 * pCPU for how long (each runner counts its own). The hypervisor owns one and hands it vCPUs; the delivery and halt paths
 * ask it to wake threads.
 */
export class HostScheduling {
  readonly runners: PcpuRunner[];
  /** One host thread per vCPU, by `Vcpu.hostId`. */
  readonly threads: HostThread[] = [];
  /** SMT contention between sibling threads; null on a host without it. */
  readonly smt: SmtContention | null;
  /** Moves unpinned threads between pCPUs; null when `migrate` is off (or on bare metal). */
  readonly balancer: Balancer | null;
  private readonly placement: VcpuPlacement;
  /** VMs adopted so far (each pCPU runner counts the ns each held it). */
  private vmCount = 0;
  private queuedThreads = 0;
  private balanceArmed = false;
  private readonly onBalance = (): void => this.balance();

  constructor(
    private readonly hv: Hypervisor,
    private readonly sim: Simulation,
    topology: HostTopology,
    costs: Costs,
    private readonly config: HypervisorConfig,
    bareMetal: boolean,
  ) {
    const n = topology.size;
    const tickNs = 1e9 / config.hz;
    // One per host: run queues of a policy that decides across pCPUs key their shared state on it.
    const host = Object.freeze({});
    this.runners = topology.pcpus.map(
      (p) =>
        new PcpuRunner(
          hv,
          p.id,
          // skew_tick: each pCPU's tick is offset by half a period times pCPU / nr_cpus (kernel/time/tick-sched.c).
          config.hostScheduler.createRunqueue({
            pcpu: p.id,
            nrCpus: n,
            hz: config.hz,
            tickPhaseNs: Math.floor(((tickNs / 2) * p.id) / n),
            timeSliceNs: config.timeSliceNs,
            forfeitOnYield: config.forfeitOnYield,
            host,
            // resched_curr on a remote CPU: a reschedule IPI over the host's fabric.
            reschedule: (q) => this.runners[q]!.reschedule(hv.fabric.latency(p.id, q)),
          }),
        ),
    );
    this.placement = new VcpuPlacement(topology);
    // On bare metal every CPU runs its own code: there is no vCPU thread to move.
    this.balancer = config.migrate && !bareMetal ? new Balancer(hv, this.runners, topology) : null;
    // SMT contention is the core's, not the hypervisor's: it applies on bare metal too.
    const smt = new SmtContention(topology, this.runners, costs.smtCoreThroughput, costs.smtPauseShare);
    this.smt = smt.active ? smt : null;
  }

  get policy(): HostSchedulerPolicy {
    return this.config.hostScheduler;
  }

  /** The pCPUs each vCPU of a new VM may run on (validated against the host; errors name `field`). */
  place(field: string, spec: VmSpec): readonly (readonly number[])[] {
    return this.placement.place(field, spec);
  }

  /** Gives each vCPU of a new VM (index `vm`) its host thread, and the VM its occupancy row. */
  adopt(vcpus: readonly Vcpu[], weight: number, allowed: readonly (readonly number[])[], pinned: boolean): void {
    const smt = this.smt;
    const ple = this.hv.ple;
    for (const v of vcpus) {
      if (smt !== null && ple !== null) {
        v.onActivity = (x) => {
          smt.activity(x);
          ple.activity(x);
        };
      } else if (smt !== null) v.onActivity = (x) => smt.activity(x);
      else if (ple !== null) v.onActivity = (x) => ple.activity(x);
      v.hostId = this.threads.length;
      this.threads.push(new HostThread(v.hostId, v, weight, allowed[v.index]!, pinned));
    }
    this.vmCount++;
  }

  /**
   * A VM pinned to `pcpus` takes them for itself, whatever the order VMs were added in: threads
   * of shared VMs added before it lose them from their affinity (and start elsewhere). Returns
   * the index of a VM left with no pCPU at all, or -1.
   */
  reservePinned(pcpus: readonly number[]): number {
    const taken = new Set(pcpus);
    for (const t of this.threads) {
      if (t.pinned || !t.allowed.some((p) => taken.has(p))) continue;
      const left = t.allowed.filter((p) => !taken.has(p));
      if (left.length === 0) return t.vcpu.vm;
      t.allowed = left;
      if (taken.has(t.vcpu.pcpu)) t.vcpu.pcpu = left[t.vcpu.index % left.length]!;
    }
    return -1;
  }

  /** Puts every thread on a run queue; the first on each pCPU enters the guest at once. */
  start(): void {
    for (const t of this.threads) {
      t.vcpu.setState('preempted');
      this.runners[this.balancer === null ? t.vcpu.pcpu : this.balancer.selectWakeCpu(t)]!.wake(t, 0, 'initial');
    }
  }

  /**
   * A blocked vCPU thread is woken (try_to_wake_up): onto the pCPU the balancer picks, after
   * the host's wake-up latency and, if it moved, the migration. Does nothing if it is already
   * queued or running.
   */
  wakeBlocked(v: Vcpu, latencyNs: number, migrationNs: number): boolean {
    const t = this.threads[v.hostId]!;
    if (t.queued || this.runners[v.pcpu]!.current === v) return false;
    const dst = this.balancer === null ? v.pcpu : this.balancer.selectWakeCpu(t);
    const moved = t.lastPcpu >= 0 && dst !== t.lastPcpu;
    if (this.config.boostIpiTargets) t.ready = true;
    this.runners[dst]!.wake(t, latencyNs + (moved ? migrationNs : 0), 'wakeup');
    return true;
  }

  /** Whether any thread waits on any run queue (no balance can move anything while none does). */
  get anyQueued(): boolean {
    return this.queuedThreads > 0;
  }

  /** A thread started or stopped waiting on some run queue: keeps the periodic balance armed while any waits. */
  noteQueued(t: HostThread, queued: boolean): void {
    if (t.queued === queued) return;
    t.queued = queued;
    this.queuedThreads += queued ? 1 : -1;
    if (queued && !this.balanceArmed && this.balancer !== null) this.armBalance();
  }

  private armBalance(): void {
    this.balanceArmed = true;
    const period = Math.round(1e9 / this.config.hz);
    this.sim.schedule(period - (this.sim.now % period), this.onBalance);
  }

  private balance(): void {
    this.balanceArmed = false;
    if (this.queuedThreads === 0) return;
    this.balancer!.rebalance(this.sim.now);
    if (this.queuedThreads > 0) this.armBalance();
  }

  /** ns each pCPU was idle since the start or the last `resetOccupancy`. */
  idleNsByPcpu(): Float64Array {
    const idle = new Float64Array(this.runners.length);
    for (const r of this.runners) {
      r.flushOccupancy();
      idle[r.pcpu] = r.occupiedNs(-1);
    }
    return idle;
  }

  /** ns each VM's vCPU threads held each pCPU (occupancy[vm][pcpu]) since the start or the last `resetOccupancy`. */
  occupancyByVm(): readonly Float64Array[] {
    const out = Array.from({ length: this.vmCount }, () => new Float64Array(this.runners.length));
    for (const r of this.runners) {
      r.flushOccupancy();
      for (let vm = 0; vm < this.vmCount; vm++) out[vm]![r.pcpu] = r.occupiedNs(vm);
    }
    return out;
  }

  /** Start counting pCPU occupancy afresh. */
  resetOccupancy(): void {
    for (const r of this.runners) {
      r.flushOccupancy();
      r.clearOccupancy();
    }
  }
}
