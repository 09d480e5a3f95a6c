import { InvalidParameterError, summarizeValues } from '@ipilab/core';
import { z } from 'zod';
import type { Task } from '../sched/task';
import { block, compute } from '../sched/task';
import { cpuNs, perSecond, vcpuList, type Workload, type WorkloadContext } from './workload';
import { num, parseParams, vcpuIndexes } from './workload-params';

/** irq-pipeline's parameters: every key optional, none other accepted. */
export const irqPipelineParams = z
  .object({
    rate: num({ min: 1, description: 'Device interrupts per second, Poisson (default 50,000; wall time, not scaled).' }),
    irqVcpus: vcpuIndexes('vCPUs the device interrupts (default [0]).'),
    appVcpus: vcpuIndexes('The application thread\'s vCPU for each of irqVcpus (default [1]).'),
    processNs: num({ description: 'ns of CPU work per event, at the calibration profile\'s clock (default 5,000).' }),
  })
  .strict();

const DEVICE_VECTOR = 0x41;

/**
 * Interrupt-to-application pipeline, for pinning and NUMA studies: a device raises interrupts
 * (Poisson, `rate` per second) on the `irqVcpus`; each handler queues the event and wakes the
 * application thread pinned to the matching entry of `appVcpus` — a wake-up IPI when that
 * vCPU is idle (none if it polls), whose cost depends on how far apart the two vCPUs' pCPUs are. Figures:
 * events per second and the interrupt-to-application latency (`latencyNs`: count, mean, p50, p90,
 * p99, p99.9, max; also as latencyMeanNs, latencyP50Ns and latencyP99Ns), in ns.
 * Parameters: rate (50,000/s; device arrivals, wall time, not scaled), irqVcpus ([0]),
 * appVcpus ([1]), processNs (5,000; CPU work, scaled by the clock).
 */
export class IrqPipelineWorkload implements Workload {
  readonly primary = { key: 'latencyP50Ns', higherIsBetter: false };
  readonly figures = { throughput: 'eventsPerSecond', latencies: { irq: 'latencyNs' } };
  readonly kind = 'irq-pipeline';
  private readonly rate: number;
  private readonly irqVcpus: number[];
  private readonly appVcpus: number[];
  private readonly processNs: number;
  private readonly latencies: number[] = [];
  processed = 0;

  constructor(
    private readonly ctx: WorkloadContext,
    params: Record<string, unknown> = {},
  ) {
    const p = parseParams('irq-pipeline', irqPipelineParams, params);
    this.rate = p.rate ?? 50_000;
    this.irqVcpus = vcpuList(p, 'irqVcpus', ctx.vcpus.length, [0]);
    this.appVcpus = vcpuList(p, 'appVcpus', ctx.vcpus.length, [Math.min(1, ctx.vcpus.length - 1)]);
    if (this.appVcpus.length !== this.irqVcpus.length) {
      throw new InvalidParameterError('workload.appVcpus', this.appVcpus, `one application vCPU per interrupt vCPU (${this.irqVcpus.length})`);
    }
    // The device's rate is the outside world's; processing an event is CPU work.
    this.processNs = cpuNs(ctx, p.processNs ?? 5_000);
  }

  /** Starts the workload (`Workload.start`). */
  start(): void {
    const { clock, timers, kernel, sched, rng } = this.ctx;
    const queues: number[][] = this.irqVcpus.map(() => []);
    const apps: Task[] = this.appVcpus.map((a, i) => {
      const self = this;
      return sched.spawn(`app-${i}`, function* () {
        for (;;) {
          const q = queues[i]!;
          if (q.length === 0) {
            yield block();
            continue;
          }
          const raisedAt = q.shift()!;
          self.latencies.push(clock.now - raisedAt);
          yield compute(self.processNs);
          self.processed++;
        }
      }, { vcpu: a, affinity: [a] });
    });
    const pair = new Map(this.irqVcpus.map((v, i) => [v, i]));
    kernel.onDevice(DEVICE_VECTOR, (v) => {
      const i = pair.get(v.index)!;
      sched.wake(apps[i]!, v, () => undefined);
    });
    const meanGap = 1e9 / this.rate;
    const raise = (i: number): void => {
      const v = this.ctx.vcpus[this.irqVcpus[i]!]!;
      queues[i]!.push(clock.now);
      this.ctx.deviceInterrupt(v, DEVICE_VECTOR);
      timers.schedule(Math.max(1, Math.round(rng.exponential(meanGap))), raise, i);
    };
    this.irqVcpus.forEach((_, i) => timers.schedule(Math.max(1, Math.round(rng.exponential(meanGap))), raise, i));
  }

  resetStats(): void {
    this.processed = 0;
    this.latencies.length = 0;
  }

  result(elapsedNs: number): Record<string, unknown> {
    const s = summarizeValues(this.latencies);
    return { eventsPerSecond: perSecond(this.processed, elapsedNs), latencyMeanNs: s.mean, latencyP50Ns: s.p50, latencyP99Ns: s.p99, latencyNs: s };
  }
}
