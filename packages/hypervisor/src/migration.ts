import type { HostTopology } from '@ipilab/host';
import type { Hypervisor } from './hypervisor';
import { MIGRATION_COST_NS, type PcpuRunner } from './pcpu-runner';
import type { HostThread } from './sched/host-scheduler';

/** Scheduling-domain levels, innermost first: SMT siblings, the LLC (a socket here), the machine (NUMA). */
const LEVELS = 3;

/**
 * Where unpinned vCPU threads run, as the Linux host decides it (kernel/sched/fair.c):
 * - **wake-up placement** (select_task_rq_fair -> select_idle_sibling): the pCPU it last ran on
 *   if that is idle; else an idle pCPU sharing its LLC, a wholly idle core first
 *   (select_idle_core), then any idle thread (select_idle_cpu); else the last one again.
 *   The wake-up path never looks beyond the LLC.
 * - **newly idle** (newidle_balance): a pCPU going idle pulls a waiting thread from the busiest
 *   pCPU of its LLC, then of the machine, unless its average idle period is shorter than
 *   sysctl_sched_migration_cost (then it expects work back soon and does not look).
 * - **periodic balance** (rebalance_domains, run for idle pCPUs by the nohz idle balancer):
 *   per domain level, every `sd_weight` ms (sd->balance_interval starts at the domain's CPU
 *   count, in ms); a busy pCPU balances `busy_factor` (16) times less often and pulls only when
 *   the busiest pCPU of the level runs two or more threads more than it does.
 * Each move costs the thread `vcpuMigration` before it runs on its new pCPU (the VMCS is cleared
 * on the old pCPU and loaded on the new, KVM vmx_vcpu_load_vmcs).
 * Task hotness (task_hot), load averages (PELT) and NUMA balancing are not modelled: load is the
 * count of runnable threads.
 */
export class Balancer {
  /** Balance interval per level, ns: the domain's CPU count in ms. */
  private readonly intervalNs: number[];
  private readonly levelOf: (a: number, b: number) => number;

  constructor(
    private readonly hv: Hypervisor,
    private readonly runners: readonly PcpuRunner[],
    topology: HostTopology,
    /** busy_factor: how much less often a busy pCPU balances (kernel/sched/topology.c sd_init). */
    private readonly busyFactor = 16,
  ) {
    const perSocket = topology.coresPerSocket * topology.threadsPerCore;
    this.intervalNs = [topology.threadsPerCore, perSocket, topology.size].map((w) => w * 1_000_000);
    const socket = topology.pcpus.map((p) => p.socket);
    const core = topology.pcpus.map((p) => topology.coreOf(p.id));
    this.levelOf = (a, b) => (core[a] === core[b] ? 0 : socket[a] === socket[b] ? 1 : 2);
    this.siblings = topology.pcpus.map((p) => topology.coreThreads(p.id));
  }

  private readonly siblings: (readonly number[])[];

  /** select_idle_sibling: the pCPU a waking thread goes to. */
  selectWakeCpu(t: HostThread): number {
    const allowed = t.allowed;
    const prev = t.lastPcpu >= 0 ? t.lastPcpu : allowed[t.vcpu.index % allowed.length]!;
    if (allowed.length === 1 || this.runners[prev]!.idle) return prev;
    let idleThread = -1;
    for (let i = 0; i < allowed.length; i++) {
      const p = allowed[i]!;
      if (this.levelOf(prev, p) > 1 || !this.runners[p]!.idle) continue;
      if (this.coreIdle(p)) return p;
      if (idleThread < 0) idleThread = p;
    }
    return idleThread >= 0 ? idleThread : prev;
  }

  private coreIdle(p: number): boolean {
    const sib = this.siblings[p]!;
    for (let i = 0; i < sib.length; i++) if (!this.runners[sib[i]!]!.idle) return false;
    return true;
  }

  /** newidle_balance for a pCPU that just went idle. */
  newIdle(r: PcpuRunner): void {
    if (r.avgIdleNs < MIGRATION_COST_NS || !this.hv.scheduling.anyQueued) return;
    for (let level = 0; level < LEVELS; level++) {
      if (this.pullOne(r, level, 1)) return;
    }
  }

  /** One periodic pass (every host tick while any thread waits). */
  rebalance(now: number): void {
    for (const r of this.runners) {
      const busy = !r.idle;
      for (let level = 0; level < LEVELS; level++) {
        if (now < r.nextBalance[level]!) continue;
        r.nextBalance[level] = now + this.intervalNs[level]! * (busy ? this.busyFactor : 1);
        // An idle pCPU takes any waiting thread; a busy one only evens out a gap of two or more.
        const threshold = busy ? r.queueLength + 1 + 2 : 1;
        if (this.pullOne(r, level, threshold)) break;
      }
    }
  }

  /**
   * Pulls to `dst` the longest-waiting thread allowed there from the busiest pCPU of `level`
   * whose count of runnable threads is at least `minRunnable`. Returns whether it moved one.
   */
  private pullOne(dst: PcpuRunner, level: number, minRunnable: number): boolean {
    let src: PcpuRunner | null = null;
    let srcLoad = 0;
    for (const r of this.runners) {
      if (r === dst || r.queueLength === 0 || this.levelOf(dst.pcpu, r.pcpu) !== level) continue;
      const load = r.queueLength + (r.current === null ? 0 : 1);
      if (load < minRunnable || load <= srcLoad || !this.hasCandidate(r, dst.pcpu)) continue;
      src = r;
      srcLoad = load;
    }
    if (src === null) return false;
    let pick: HostThread | null = null;
    for (let i = 0; i < src.queueLength; i++) {
      const t = src.rq.queuedAt(i);
      if (!allows(t, dst.pcpu)) continue;
      if (pick === null || t.queuedSince < pick.queuedSince) pick = t;
    }
    src.detach(pick!);
    this.hv.migrate(pick!, dst);
    return true;
  }

  private hasCandidate(r: PcpuRunner, dst: number): boolean {
    for (let i = 0; i < r.queueLength; i++) if (allows(r.rq.queuedAt(i), dst)) return true;
    return false;
  }
}

function allows(t: HostThread, pcpu: number): boolean {
  if (t.pinned) return false;
  const a = t.allowed;
  if (a.length === 1) return a[0] === pcpu;
  for (let i = 0; i < a.length; i++) if (a[i] === pcpu) return true;
  return false;
}
