'use strict';
// An ipilab plugin: a workload kind, `purging-allocator` (`vms[].workload: { kind: purging-allocator, ... }`).
//
// Worker threads of one process allocate from a shared malloc arena and write to it; a background
// thread returns dirty pages to the kernel with madvise(MADV_DONTNEED) every purge interval, as
// jemalloc's decay-based purging does (its background_thread option; opt.dirty_decay_ms): each
// purge zaps the pages under mmap_lock for read and shoots the range down on every vCPU running
// the process, and the workers fault the pages back in when they next touch them. The question
// it answers: what the purges cost the workers, and how much of that the IPI backend decides.
//
// The workload sees the guest through its context (WorkloadContext): the VM's vCPUs (`vcpus`),
// the memory manager (`mm`), the scheduler (`sched`), its own random stream (`rng`) and the clock
// scale (`cpuNs`); not the hypervisor.
const { ContainerModule } = require('inversify');
const { z } = require('zod');
const { InvalidParameterError } = require('@ipilab/core');
const { contributePolicy } = require('@ipilab/di');
const { workloadKinds, compute, sleep, switchMm, cpuNs } = require('@ipilab/guest');

/** Where the arena starts (a page number well below the process's other mappings). */
const ARENA_BASE = 0x10000;

const params = z
  .object({
    threads: z.number().int().min(1).max(1024).optional().describe('Worker threads (default: one per vCPU).'),
    arenaPages: z.number().int().min(1).max(65536).default(512).describe('Pages of the arena (default 512).'),
    pagesPerOp: z.number().int().min(1).max(64).default(4).describe('Pages an operation writes (default 4).'),
    opNs: z.number().min(0).default(20_000).describe('CPU work of an operation besides its writes, ns at the profile\'s clock (default 20,000).'),
    purgeIntervalNs: z.number().min(10_000).default(1_000_000).describe('Time between purges (default 1 ms).'),
    purgePages: z.number().int().min(1).max(65536).default(64).describe('Pages one purge returns (default 64).'),
  })
  .strict();

class PurgingAllocator {
  constructor(ctx, raw) {
    const p = params.parse(raw);
    if (p.purgePages > p.arenaPages) throw new InvalidParameterError('workload.purgePages', p.purgePages, `at most arenaPages (${p.arenaPages})`);
    this.ctx = ctx;
    this.p = p;
    this.threads = p.threads ?? ctx.vcpus.length;
    this.opNs = cpuNs(ctx, p.opNs);
    this.kind = 'purging-allocator';
    this.primary = { key: 'opsPerSecond', higherIsBetter: true };
    this.figures = { throughput: 'opsPerSecond' };
    this.ops = 0;
    this.purges = 0;
    this.shootdownsBefore = 0;
  }

  start() {
    const { mm, sched, vcpus, rng } = this.ctx;
    const { arenaPages, pagesPerOp, purgeIntervalNs, purgePages } = this.p;
    const space = mm.createSpace('allocator');
    mm.populate(space, ARENA_BASE, arenaPages);
    const self = this;
    const enter = switchMm((v) => mm.switchTo(v, space));
    const work = compute(this.opNs);
    for (let i = 0; i < this.threads; i++) {
      sched.spawn(
        `worker-${i}`,
        function* (task) {
          yield enter;
          for (;;) {
            for (let k = 0; k < pagesPerOp; k++) yield* mm.touchTask(task, space, ARENA_BASE + rng.integer(0, arenaPages - 1), true);
            yield work;
            self.ops++;
          }
        },
        { vcpu: i % vcpus.length },
      );
    }
    const wait = sleep(purgeIntervalNs);
    sched.spawn(
      'background-purge',
      function* (task) {
        yield enter;
        const vpns = new Array(purgePages);
        for (;;) {
          yield wait;
          const first = ARENA_BASE + rng.integer(0, arenaPages - purgePages);
          for (let k = 0; k < purgePages; k++) vpns[k] = first + k;
          yield* mm.madviseDontneedTask(task, space, vpns);
          self.purges++;
        }
      },
      { vcpu: this.threads % vcpus.length },
    );
  }

  resetStats() {
    this.ops = 0;
    this.purges = 0;
    this.shootdownsBefore = this.ctx.mm.shootdowns;
  }

  result(elapsedNs) {
    return {
      ops: this.ops,
      opsPerSecond: elapsedNs > 0 ? (this.ops * 1e9) / elapsedNs : 0,
      purges: this.purges,
      shootdowns: this.ctx.mm.shootdowns - this.shootdownsBefore,
    };
  }
}

const purgingAllocator = { params, create: (ctx, raw) => new PurgingAllocator(ctx, raw) };

module.exports = new ContainerModule((bind) => {
  contributePolicy(bind, workloadKinds, 'purging-allocator', purgingAllocator);
});
Object.assign(module.exports, { purgingAllocator, params });
