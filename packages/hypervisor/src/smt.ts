import { InvalidParameterError } from '@ipilab/core';
import type { HostTopology } from '@ipilab/host';
import type { Vcpu } from '@ipilab/vcpu';
import type { PcpuRunner } from './pcpu-runner';

/**
 * SMT contention: the hardware threads of a core share its pipeline, so a thread runs slower
 * while its siblings are busy. A pCPU is busy while a thread holds it — guest code, host exit
 * handling and the switch between vCPUs take a full share of the core; a PAUSE loop (a guest
 * spin such as csd_lock_wait, or KVM halt polling, both built on cpu_relax()) takes only
 * `smtPauseShare` of one; an idle pCPU leaves the core to its siblings.
 *
 * With siblings exerting b - 1 threads' worth of pressure in all (b counts the thread itself),
 * the core delivers 1 + (C - 1)(b - 1)/(T - 1) times the throughput of one thread alone
 * (C = `smtCoreThroughput`, measured with all T threads busy), shared in proportion: each
 * full thread runs at that / b of its solo speed. A host with one thread per core has none.
 */
export class SmtContention {
  private readonly siblings: number[][];
  private readonly pressure: Float64Array;
  private readonly threads: number;

  constructor(
    topology: HostTopology,
    private readonly runners: readonly PcpuRunner[],
    private readonly coreThroughput: number,
    private readonly pauseShare: number,
  ) {
    const t = topology.threadsPerCore;
    this.threads = t;
    if (t > 1 && !(coreThroughput >= 1 && coreThroughput <= t)) {
      throw new InvalidParameterError('calibration.overrides.smtCoreThroughput', coreThroughput, `a core throughput ratio in [1, ${t}] (threads per core)`);
    }
    if (!(pauseShare >= 0 && pauseShare <= 1)) {
      throw new InvalidParameterError('calibration.overrides.smtPauseShare', pauseShare, 'a share of one thread\'s pressure in [0, 1]');
    }
    this.siblings = topology.pcpus.map((p) => topology.coreThreads(p.id).filter((q) => q !== p.id));
    this.pressure = new Float64Array(topology.size);
  }

  /** Whether a sibling can slow a thread at all. */
  get active(): boolean {
    return this.threads > 1 && this.coreThroughput < this.threads;
  }

  /** Speed of a full thread on `pcpu` now, given its siblings' pressure. */
  speedOn(pcpu: number): number {
    let b = 1;
    const sib = this.siblings[pcpu]!;
    for (let i = 0; i < sib.length; i++) b += this.pressure[sib[i]!]!;
    if (b === 1) return 1;
    return (1 + ((this.coreThroughput - 1) * (b - 1)) / (this.threads - 1)) / b;
  }

  /** `v` may have switched between real work and a PAUSE loop. */
  activity(v: Vcpu): void {
    if (this.runners[v.pcpu]!.current === v) this.refresh(v.pcpu);
  }

  /** Re-reads what `pcpu` runs; if its pressure changed, its siblings' running vCPUs change speed. */
  refresh(pcpu: number): void {
    const c = this.runners[pcpu]!.current;
    const p = c === null ? 0 : c.pausing ? this.pauseShare : 1;
    if (p === this.pressure[pcpu]) return;
    this.pressure[pcpu] = p;
    const sib = this.siblings[pcpu]!;
    for (let i = 0; i < sib.length; i++) {
      const s = sib[i]!;
      const v = this.runners[s]!.current;
      if (v !== null) v.setSpeed(this.speedOn(s));
    }
  }
}
