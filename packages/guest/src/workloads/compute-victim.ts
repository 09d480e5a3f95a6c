import { compute } from '../sched/task';
import { cpuNs, param, perSecond, type Workload, type WorkloadContext } from './workload';

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
    this.tasks = param(params, 'tasks', ctx.vm.vcpus.length, { min: 1, integer: true });
    // A unit is CPU work: it takes less time on a faster host.
    this.unitNs = cpuNs(ctx, param(params, 'unitNs', 10_000, { min: 1 }));
    // Start every task on one vCPU (an imbalance for the balancer to fix); default: spread.
    this.startOn = params['startOn'] === undefined ? undefined : param(params, 'startOn', 0, { min: 0, max: ctx.vm.vcpus.length - 1, integer: true });
  }

  start(): void {
    const n = this.ctx.vm.vcpus.length;
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
