import { z } from 'zod';
import type { Task } from '../sched/task';
import { perSecond, switchTo, type Workload, type WorkloadContext } from './workload';
import { flag, num, oneOf, parseParams } from './workload-params';

/** The will-it-scale tests modelled: page_fault1/2-like and mmap1-like, threads mode. */
export const WILL_IT_SCALE_TESTS = ['page_fault', 'mmap'] as const;
/** A will-it-scale test this model runs. */
export type WillItScaleTest = (typeof WILL_IT_SCALE_TESTS)[number];

/** Pages between two threads' regions: no two threads share a page-table page. */
const REGION_STRIDE = 8_192;

/** will-it-scale's parameters: every key optional, none other accepted. */
export const willItScaleParams = z
  .object({
    test: oneOf(WILL_IT_SCALE_TESTS, 'The test case: page_fault (page_fault1/2, the default) or mmap (mmap1).'),
    threads: num({ min: 1, max: 200, integer: true, description: 'Threads of the process (default: one per vCPU).' }),
    pages: num({ min: 1, max: REGION_STRIDE, integer: true, description: 'Pages each thread maps per iteration (default 256, at most 8,192: 1 MiB).' }),
    pinned: flag('Each thread pinned to a vCPU, as will-it-scale binds them (default true; only with at most one thread per vCPU).'),
    perVmaLock: flag('Faults take the VMA\'s lock instead of mmap_lock, as from Linux 6.4 (default false).'),
  })
  .strict();

/**
 * will-it-scale (github.com/antonblanchet/will-it-scale), threads mode: `threads` threads of
 * one process, each looping over one test case and counting iterations.
 *
 * - `page_fault` (page_fault1.c / page_fault2.c): mmap `pages` of anonymous memory, write every
 *   page — each write a first-touch fault (mmap_lock for read, unless `perVmaLock`; the PTE
 *   lock; a zeroed page joining the LRU) and one iteration — then munmap it (mmap_lock for write
 *   across the PTE clearing, the TLB shootdown and the page freeing under the LRU lock).
 * - `mmap` (mmap1.c): mmap `pages` and munmap them untouched, one iteration per pair: nothing
 *   but the VMA work under mmap_lock for write (no page was mapped, so no flush).
 *
 * The test pins each task to a CPU (will-it-scale binds them with hwloc): `pinned` (default
 * true, with at most one thread per vCPU). Figures of merit: iterations per second in all and
 * per thread; as threads are added the per-thread figure falls where the locks serialise them.
 * Parameters: test ('page_fault'), threads (one per vCPU), pages (256, at most 8,192: 1 MiB;
 * the original maps 128 MiB), pinned (true), perVmaLock (false: faults take mmap_lock, as
 * before Linux 6.4).
 */
export class WillItScaleWorkload implements Workload {
  readonly kind = 'will-it-scale';
  readonly primary = { key: 'opsPerSecond', higherIsBetter: true };
  readonly figures = { throughput: 'opsPerSecond' };
  ops = 0;
  readonly test: WillItScaleTest;
  readonly threads: number;
  private readonly pages: number;
  private readonly pinned: boolean;
  private readonly perVmaLock: boolean;
  private readonly perThread: Float64Array;

  constructor(
    private readonly ctx: WorkloadContext,
    params: Record<string, unknown> = {},
  ) {
    const n = ctx.vcpus.length;
    const p = parseParams('will-it-scale', willItScaleParams, params);
    this.test = p.test ?? 'page_fault';
    this.threads = p.threads ?? n;
    this.pages = p.pages ?? 256;
    this.pinned = (p.pinned ?? true) && this.threads <= n;
    this.perVmaLock = p.perVmaLock ?? false;
    this.perThread = new Float64Array(this.threads);
  }

  /** Starts the workload (`Workload.start`). */
  start(): void {
    const { mm, sched, vcpus } = this.ctx;
    const space = mm.createSpace('will-it-scale');
    const perVma = this.perVmaLock;
    for (let i = 0; i < this.threads; i++) {
      const base = (i + 1) * REGION_STRIDE;
      const vpns = Array.from({ length: this.pages }, (_, k) => base + k);
      const vcpu = i % vcpus.length;
      const self = this;
      const body =
        this.test === 'page_fault'
          ? function* (task: Task) {
              yield switchTo(mm, space);
              for (;;) {
                yield* mm.mmapTask(task, space);
                for (const vpn of vpns) {
                  yield* mm.touchTask(task, space, vpn, true, perVma);
                  self.ops++;
                  self.perThread[i]!++;
                }
                yield* mm.munmapTask(task, space, vpns);
              }
            }
          : function* (task: Task) {
              yield switchTo(mm, space);
              for (;;) {
                yield* mm.mmapTask(task, space);
                yield* mm.munmapTask(task, space, vpns);
                self.ops++;
                self.perThread[i]!++;
              }
            };
      sched.spawn(`wis-${this.test}-${i}`, body, { vcpu, ...(this.pinned ? { affinity: [vcpu] } : {}) });
    }
  }

  resetStats(): void {
    this.ops = 0;
    this.perThread.fill(0);
  }

  result(elapsedNs: number): Record<string, unknown> {
    const lock = this.ctx.mm.lockStats.mmapLock;
    return {
      test: this.test,
      threads: this.threads,
      ops: this.ops,
      opsPerSecond: perSecond(this.ops, elapsedNs),
      opsPerSecondPerThread: perSecond(this.ops, elapsedNs) / this.threads,
      slowestThreadOpsPerSecond: perSecond(Math.min(...this.perThread), elapsedNs),
      mmapLockWaitNsPerOp: this.ops > 0 ? lock.waitNs / this.ops : 0,
      shootdowns: this.ctx.mm.shootdowns,
    };
  }
}
