import { z } from 'zod';
import { InvalidParameterError } from '@ipilab/core';
import { PAGES_PER_HUGE } from '../mm/address-space';
import { compute, op, sleep, type Task } from '../sched/task';
import { cpuNs, perSecond, switchTo, type Workload, type WorkloadContext } from './workload';
import { flag, num, oneOf, parseParams, taskCount } from './workload-params';

/**
 * Where the process's earlier mappings end and ebizzy's chunks begin, growing down (a virtual page
 * number in the middle of a page-table page), and how many pages of those earlier mappings are
 * resident. A model layout, not measured: what matters is that the chunks share page-table pages
 * with each other and with what was mapped before them.
 */
export const EBIZZY_MMAP_TOP = 2 ** 21 - 256;
export const EBIZZY_RESIDENT_PAGES = 8;

/**
 * ebizzy-like munmap churn: threads of one process each repeatedly map a chunk, search it
 * (touching its pages), and unmap it — every unmap a TLB shootdown across the vCPUs running the
 * process. mmap and munmap take the process's mmap_lock for write (the munmap across its
 * shootdown and page freeing), so the threads serialise on it as real ebizzy runs do.
 * Figure of merit: records per second.
 * Parameters: threads (default: one per vCPU), chunkPages (16), searchNs per record (20,000;
 * CPU work, scaled by the clock), thinkNs (0: a sleep between records, during which the vCPU may
 * halt; wall time, not scaled), pinned (false: threads start on vCPU i mod n and may be balanced).
 */
/** ebizzy's parameters: every key optional, none other accepted. */
export const ebizzyParams = z
  .object({
    threads: taskCount('Threads of the process (default: one per vCPU).'),
    chunkPages: num({ min: 1, max: 4096, integer: true, description: 'Pages of each record\'s buffer (default 16); the threads\' chunks fit in 2,096,896 pages.' }),
    searchNs: num({ description: 'ns of CPU work per record, at the calibration profile\'s clock (default 20,000; each record takes 0.5-1.5x).' }),
    thinkNs: num({ description: 'ns of sleep between records (default 0; wall time, not scaled).' }),
    pinned: flag('Each thread pinned to vCPU i mod n (default false: they start there and may be balanced).'),
    free: oneOf(['munmap', 'madvise'], 'How a record\'s buffer is given back: munmap (ebizzy -m, the default) or madvise (malloc/free from a per-thread arena, ebizzy -M).'),
  })
  .strict();

export class EbizzyWorkload implements Workload {
  readonly primary = { key: 'recordsPerSecond', higherIsBetter: true };
  readonly figures = { throughput: 'recordsPerSecond' };
  readonly kind = 'ebizzy';
  records = 0;
  private readonly threads: number;
  private readonly chunkPages: number;
  private readonly searchNs: number;
  private readonly pinned: boolean;
  private readonly thinkNs: number;
  /** How a record's buffer is given back: `munmap` (ebizzy -m) or `madvise` (malloc/free from a per-thread arena, ebizzy -M). */
  private readonly free: 'munmap' | 'madvise';

  constructor(
    private readonly ctx: WorkloadContext,
    params: Record<string, unknown> = {},
  ) {
    const n = ctx.vcpus.length;
    const p = parseParams('ebizzy', ebizzyParams, params);
    this.threads = p.threads ?? n;
    this.chunkPages = p.chunkPages ?? 16;
    // Searching is CPU work; thinking is a sleep, which a faster core does not shorten.
    this.searchNs = cpuNs(ctx, p.searchNs ?? 20_000);
    this.pinned = p.pinned ?? false;
    this.thinkNs = p.thinkNs ?? 0;
    this.free = p.free ?? 'munmap';
    const perThread = this.free === 'madvise' ? Math.ceil(this.chunkPages / PAGES_PER_HUGE) * PAGES_PER_HUGE : this.chunkPages;
    if (this.threads * perThread > EBIZZY_MMAP_TOP) {
      throw new InvalidParameterError('workload.chunkPages', this.chunkPages, `at most ${EBIZZY_MMAP_TOP} pages of address space in all: ${this.threads} threads x ${perThread} pages is more`);
    }
    if (this.pinned && this.threads > n) {
      throw new InvalidParameterError('workload.threads', this.threads, `at most ${n} threads when pinned (the VM has ${n} vCPUs)`);
    }
  }

  /** Starts the workload (`Workload.start`). */
  start(): void {
    const { mm, sched, vcpus } = this.ctx;
    const space = mm.createSpace('ebizzy');
    // The mmap area: Linux's top-down allocator (arch_get_unmapped_area_topdown, mm/mmap.c) puts
    // each new anonymous mapping just below the lowest one, so the threads' chunks sit side by
    // side under the process's earlier mappings (libraries, thread stacks; a few pages here), and
    // an munmap empties — and frees — a page-table page only when no other mapping is left in its
    // 2 MiB (free_pgtables): a chunk spanning whole page-table pages, not small neighbouring ones.
    mm.populate(space, EBIZZY_MMAP_TOP, EBIZZY_RESIDENT_PAGES);
    // ebizzy -M: each thread's buffers come from its own malloc arena (a heap of its own, 64 MiB
    // apart), so no two threads' chunks share a page-table page.
    const stride = this.free === 'madvise' ? Math.ceil(this.chunkPages / PAGES_PER_HUGE) * PAGES_PER_HUGE : this.chunkPages;
    for (let i = 0; i < this.threads; i++) {
      const base = EBIZZY_MMAP_TOP - (i + 1) * stride;
      const vpns = Array.from({ length: this.chunkPages }, (_, k) => base + k);
      const vcpu = i % vcpus.length;
      sched.spawn(
        `ebizzy-${i}`,
        function* (this: EbizzyWorkload, task: Task) {
          // The commands are the same every record: built once per thread, not per record.
          // Populating the chunk: fresh PTEs, no flush needed.
          const populate = compute(mm.costs.pteWrite * vpns.length);
          // search: touch every page of the chunk, then the per-record work.
          const search = op((v, resume) => {
            let walk = 0;
            for (const vpn of vpns) walk += Math.max(0, mm.touch(v, vpn, false));
            // Record sizes vary: each search takes between half and one and a half times searchNs.
            v.pushUserWork(walk + Math.round(this.searchNs * (0.5 + this.ctx.rng.uniform())), resume);
          });
          const think = sleep(this.thinkNs);
          yield switchTo(mm, space);
          if (this.free === 'madvise') {
            for (;;) {
              // malloc from the thread's arena (no system call); memcpy faults the zapped pages
              // back in, then the search; free trims the arena: madvise(MADV_DONTNEED) under
              // mmap_lock for read, a shootdown, no page table freed.
              yield* mm.faultInTask(task, space, vpns);
              yield search;
              yield* mm.madviseDontneedTask(task, space, vpns);
              this.records++;
              if (this.thinkNs > 0) yield think;
            }
          }
          for (;;) {
            // mmap: a new VMA under mmap_lock for write; then its pages are filled.
            yield* mm.mmapTask(task, space);
            yield populate;
            mm.populate(space, base, vpns.length);
            yield search;
            // munmap: under mmap_lock for write, a shootdown over the process's cpumask and the
            // pages freed under the LRU lock.
            yield* mm.munmapTask(task, space, vpns);
            this.records++;
            if (this.thinkNs > 0) yield think;
          }
        }.bind(this),
        { vcpu, ...(this.pinned ? { affinity: [vcpu] } : {}) },
      );
    }
  }

  resetStats(): void {
    this.records = 0;
  }

  result(elapsedNs: number): Record<string, unknown> {
    return { records: this.records, recordsPerSecond: perSecond(this.records, elapsedNs), shootdowns: this.ctx.mm.shootdowns };
  }
}
