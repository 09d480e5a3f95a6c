import { z } from 'zod';
import { compute, op } from '../sched/task';
import { PAGES_PER_HUGE } from '../mm/address-space';
import { cpuNs, perSecond, switchTo, type Workload, type WorkloadContext } from './workload';
import { num, parseParams, taskCount } from './workload-params';

/** huge-split's parameters: every key optional, none other accepted. */
export const hugeSplitParams = z
  .object({
    threads: taskCount('Application threads (default: one per vCPU but one).'),
    hugePages: num({ min: 1, max: 1024, integer: true, description: '2 MiB pages the process has (default 8).' }),
    touchNs: num({ description: 'ns of CPU work between two touches, at the calibration profile\'s clock (default 5,000).' }),
    reclaimIntervalNs: num({ min: 1, description: 'Mean ns between two splits: the pace of memory pressure (default 200,000; wall time, not scaled).' }),
    swapPages: num({ max: PAGES_PER_HUGE, integer: true, description: 'Small pages swapped out after each split (default 64).' }),
  })
  .strict();

/**
 * Huge-page splits under memory pressure: application threads keep touching a process's
 * 2 MiB pages while a reclaim task (kswapd-like), every `reclaimIntervalNs`, splits one huge
 * page and swaps out `swapPages` of its small pages — a split and an unmap, each a shootdown
 * across the process's vCPUs. Figures: splits per second and the threads' touches per second.
 * Parameters: threads (one per vCPU but one), hugePages (8), touchNs (5,000; CPU work, scaled
 * by the clock), reclaimIntervalNs (200,000; the pace of memory pressure, wall time, not
 * scaled), swapPages (64).
 */
export class HugeSplitWorkload implements Workload {
  readonly primary = { key: 'touchesPerSecond', higherIsBetter: true };
  readonly figures = { throughput: 'touchesPerSecond' };
  readonly kind = 'huge-split';
  splits = 0;
  touches = 0;
  private readonly threads: number;
  private readonly hugePages: number;
  private readonly touchNs: number;
  private readonly reclaimIntervalNs: number;
  private readonly swapPages: number;

  constructor(
    private readonly ctx: WorkloadContext,
    params: Record<string, unknown> = {},
  ) {
    const n = ctx.vcpus.length;
    const p = parseParams('huge-split', hugeSplitParams, params);
    this.threads = p.threads ?? Math.max(1, n - 1);
    this.hugePages = p.hugePages ?? 8;
    // The threads' work between touches is CPU work. The reclaim interval is how often memory
    // pressure forces a split: set by the scenario, not by how fast the core runs.
    this.touchNs = cpuNs(ctx, p.touchNs ?? 5_000);
    this.reclaimIntervalNs = p.reclaimIntervalNs ?? 200_000;
    this.swapPages = p.swapPages ?? 64;
  }

  /** Starts the workload (`Workload.start`). */
  start(): void {
    const { mm, sched, vcpus, rng } = this.ctx;
    const n = vcpus.length;
    const space = mm.createSpace('thp-app');
    mm.populateHuge(space, 1, this.hugePages);
    const self = this;
    for (let i = 0; i < this.threads; i++) {
      sched.spawn(`app-${i}`, function* () {
        yield switchTo(mm, space);
        for (let k = 0; ; k++) {
          // A touch somewhere in the huge region; swapped-out pages fault back in.
          const vpn = PAGES_PER_HUGE + ((i * 7919 + k * 104_729) % (self.hugePages * PAGES_PER_HUGE));
          yield op((v, r) => {
            const cost = mm.touch(v, vpn, false);
            if (cost < 0) {
              // Swap-in: a major fault is modelled as a fault plus a fresh mapping.
              v.pushWork(mm.costs.pageFault, () => {
                mm.populate(space, vpn, 1);
                r();
              });
              return;
            }
            v.pushWork(cost, r);
          });
          yield compute(self.touchNs);
          self.touches++;
        }
      }, { vcpu: (i + 1) % n });
    }
    sched.spawn('kswapd', function* () {
      for (let h = 1; h <= self.hugePages; h++) {
        yield compute(self.reclaimIntervalNs * (0.5 + rng.uniform()));
        yield op((v, r) => {
          mm.switchTo(v, space);
          mm.splitHuge(v, space, h, r);
        });
        self.splits++;
        const victims = Array.from({ length: self.swapPages }, (_, k) => h * PAGES_PER_HUGE + k);
        yield op((v, r) => mm.unmap(v, space, victims, r));
      }
    }, { vcpu: 0 });
  }

  resetStats(): void {
    this.splits = 0;
    this.touches = 0;
  }

  result(elapsedNs: number): Record<string, unknown> {
    return { splits: this.splits, splitsPerSecond: perSecond(this.splits, elapsedNs), touchesPerSecond: perSecond(this.touches, elapsedNs) };
  }
}
