import { z } from 'zod';
import { InvalidParameterError } from '@ipilab/core';
import type { AddressSpace } from '../mm/address-space';
import { compute, op, type Task } from '../sched/task';
import { cpuNs, perSecond, switchTo, type Workload, type WorkloadContext } from './workload';
import { MAX_TASKS, num, parseParams, taskCount } from './workload-params';

/** fork-cow's parameters: every key optional, none other accepted. */
export const forkCowParams = z
  .object({
    parents: taskCount('Parent processes (default 2).'),
    pages: num({ min: 1, max: 4096, integer: true, description: 'Pages of memory each parent has (default 64).' }),
    writes: num({ integer: true, description: 'Pages each child writes, each a copy-on-write fault (default 16; at most pages).' }),
    workNs: num({ description: 'ns of CPU work a parent does between forks, at the calibration profile\'s clock (default 50,000).' }),
    parentThreads: num({ min: 1, max: 64, integer: true, description: 'Threads of each parent process (default 1); the others compute and write the parent\'s pages.' }),
  })
  .strict();

/**
 * fork + copy-on-write storm: parent tasks with `pages` of memory each repeatedly fork; the
 * child writes `writes` pages (each a CoW fault: copy, remap, shootdown) and exits. Parents never
 * wait for their children (no wait4): they keep their vCPUs until the scheduler preempts them at
 * their slice's end, and children run in the meantime only on vCPUs no parent holds. Figure of
 * merit: forks per second (children completed).
 * Parameters: parents (2), pages (64), writes (16), workNs between forks (50,000; CPU work,
 * scaled by the clock), parentThreads (1).
 *
 * With `parentThreads` > 1 each parent process has that many threads: the first forks as above;
 * the others compute `workNs` and write one of the parent's pages, in a loop, on their own
 * vCPUs. The parent's address space is then loaded on several vCPUs, so fork's flush_tlb_mm
 * and every copy-on-write fault of the parent (taken under mmap_lock for read, with the page's
 * PTE lock held across the flush) shoot down across them; fork holds the parent's mmap_lock
 * for write across its copy and flush (dup_mmap), so the siblings' faults wait for it.
 */
export class ForkCowWorkload implements Workload {
  readonly primary = { key: 'forksPerSecond', higherIsBetter: true };
  readonly figures = { throughput: 'forksPerSecond' };
  readonly kind = 'fork-cow';
  forks = 0;
  /** Writes done by the parents' other threads (parentThreads > 1). */
  siblingWrites = 0;
  private readonly parents: number;
  private readonly pages: number;
  private readonly writes: number;
  private readonly workNs: number;
  private readonly parentThreads: number;

  constructor(
    private readonly ctx: WorkloadContext,
    params: Record<string, unknown> = {},
  ) {
    const p = parseParams('fork-cow', forkCowParams, params);
    this.parents = p.parents ?? 2;
    this.pages = p.pages ?? 64;
    this.writes = p.writes ?? 16;
    if (this.writes > this.pages) this.writes = this.pages;
    // The parent computes between forks: CPU work, shorter on a faster host.
    this.workNs = cpuNs(ctx, p.workNs ?? 50_000);
    this.parentThreads = p.parentThreads ?? 1;
    if (this.parents * this.parentThreads > MAX_TASKS) {
      throw new InvalidParameterError('workload.parents', this.parents, `at most ${MAX_TASKS} threads in all (Linux's default pid_max): ${this.parents} parents x ${this.parentThreads} threads is more`);
    }
  }

  /** Starts the workload (`Workload.start`). */
  start(): void {
    const { mm, sched, vcpus } = this.ctx;
    const n = vcpus.length;
    for (let p = 0; p < this.parents; p++) {
      const space = mm.createSpace(`parent-${p}`);
      mm.populate(space, 0, this.pages);
      const self = this;
      const threaded = self.parentThreads > 1;
      const home = threaded ? (p * self.parentThreads) % n : (p * 2) % n;
      sched.spawn(`forker-${p}`, function* (task: Task) {
        yield switchTo(mm, space);
        for (let gen = 0; ; gen++) {
          yield compute(self.workNs);
          // A multi-threaded parent forks under its mmap_lock (write), as dup_mmap does; a
          // single-threaded one has nobody to contend with, and keeps the plain path.
          const child = threaded ? yield* mm.forkTask(task, space, `child-${p}-${gen}`) : ((yield op((v, resume) => mm.fork(v, space, `child-${p}-${gen}`, resume))) as AddressSpace);
          // The child starts on the parent's vCPU (task_cpu inherited at fork) and is placed by
          // wake_up_new_task: the least loaded vCPU.
          yield op((v, resume) =>
            sched.wakeNewTask(
              sched.spawnBlocked(`child-${p}-${gen}`, function* () {
                yield switchTo(mm, child);
                for (let w = 0; w < self.writes; w++) yield op((cv, r) => mm.write(cv, w, gen, r));
                self.forks++;
              }, v.index),
              v,
              resume,
            ),
          );
          // Writing after fork: the parent's own pages are CoW now too.
          if (threaded) yield* mm.writeTask(task, space, (gen % self.pages) | 0, gen);
          else yield op((v, resume) => mm.write(v, (gen % self.pages) | 0, gen, resume));
        }
      }, { vcpu: home });
      for (let k = 1; k < self.parentThreads; k++) {
        // The parent's other threads: work, then write a page of the shared memory (a CoW fault
        // after each fork), on vCPUs of their own.
        sched.spawn(`parent-${p}-thread-${k}`, function* (task: Task) {
          yield switchTo(mm, space);
          for (let i = 0; ; i++) {
            yield compute(self.workNs);
            self.siblingWrites++;
            yield* mm.writeTask(task, space, (k * 7 + i) % self.pages, i);
          }
        }, { vcpu: (home + k) % n });
      }
    }
  }

  resetStats(): void {
    this.forks = 0;
    this.siblingWrites = 0;
  }

  result(elapsedNs: number): Record<string, unknown> {
    const base = { forks: this.forks, forksPerSecond: perSecond(this.forks, elapsedNs), shootdowns: this.ctx.mm.shootdowns };
    return this.parentThreads > 1 ? { ...base, siblingWritesPerSecond: perSecond(this.siblingWrites, elapsedNs) } : base;
  }
}
