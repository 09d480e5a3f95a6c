import { z } from 'zod';
import { InvalidParameterError } from '@ipilab/core';
import { compute } from '../sched/task';
import { cpuNs, perSecond, type Workload, type WorkloadContext } from './workload';
import { num, parseParams, taskCount, vcpuIndex } from './workload-params';

/** compute's parameters: every key optional, none other accepted. */
export const computeParams = z
  .object({
    tasks: taskCount('Tasks (default: one per vCPU).'),
    unitNs: num({ min: 1, description: 'ns of CPU work per unit, at the calibration profile\'s clock (default 10,000).' }),
    startOn: vcpuIndex('A vCPU to start every task on (default: spread, task i on vCPU i mod n).'),
  })
  .strict();

/**
 * A compute-bound victim: tasks that only compute, in units of `unitNs`, and never send an
 * IPI. Whatever slows them — a shared pCPU, a saturated hypervisor service — is interference.
 * Figure of merit: progress per second (units completed per simulated second, all tasks).
 * Parameters: tasks (one per vCPU), unitNs (10,000; CPU work, scaled by the clock),
 * startOn (a vCPU to start every task on).
 */
export class ComputeVictimWorkload implements Workload {
  readonly primary = { key: 'progressPerSecond', higherIsBetter: true };
  readonly figures = { throughput: 'progressPerSecond' };
  readonly kind = 'compute';
  units = 0;
  private readonly tasks: number;
  private readonly unitNs: number;
  private readonly startOn: number | undefined;

  constructor(
    private readonly ctx: WorkloadContext,
    params: Record<string, unknown> = {},
  ) {
    const p = parseParams('compute', computeParams, params);
    this.tasks = p.tasks ?? ctx.vcpus.length;
    // A unit is CPU work: it takes less time on a faster host.
    this.unitNs = cpuNs(ctx, p.unitNs ?? 10_000);
    // Start every task on one vCPU (an imbalance for the balancer to fix); default: spread.
    this.startOn = p.startOn;
    const n = ctx.vcpus.length;
    if (this.startOn !== undefined && this.startOn >= n) throw new InvalidParameterError('workload.startOn', this.startOn, `a vCPU index in [0, ${n - 1}]`);
  }

  /** Starts the workload (`Workload.start`). */
  start(): void {
    const n = this.ctx.vcpus.length;
    for (let i = 0; i < this.tasks; i++) {
      const self = this;
      this.ctx.sched.spawn(
        `compute-${i}`,
        function* () {
          // Commands are immutable: one serves every unit.
          const unit = compute(self.unitNs);
          for (;;) {
            yield unit;
            self.units++;
          }
        },
        { vcpu: this.startOn ?? i % n },
      );
    }
  }

  resetStats(): void {
    this.units = 0;
  }

  result(elapsedNs: number): Record<string, unknown> {
    return { units: this.units, progressPerSecond: perSecond(this.units, elapsedNs) };
  }
}
