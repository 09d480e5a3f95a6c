import { compute, op } from '../sched/task';
import { cpuNs, param, perSecond, switchTo, type Workload, type WorkloadContext } from './workload';

/**
 * fork + copy-on-write storm: parent tasks with `pages` of memory each repeatedly fork; the
 * child writes `writes` pages (each a CoW fault: copy, remap, shootdown) and exits. Parents never
 * wait for their children (no wait4): they keep their vCPUs until the scheduler preempts them at
 * their slice's end, and children run in the meantime only on vCPUs no parent holds. Figure of
 * merit: forks per second (children completed).
 * Parameters: parents (2), pages (64), writes (16), workNs between forks (50,000; CPU work,
 * scaled by the clock).
 */
export class ForkCowWorkload implements Workload {
  readonly primary = { key: 'forksPerSecond', higherIsBetter: true };
  readonly kind = 'fork-cow';
  forks = 0;
  private readonly parents: number;
  private readonly pages: number;
  private readonly writes: number;
  private readonly workNs: number;

  constructor(
    private readonly ctx: WorkloadContext,
    params: Record<string, unknown> = {},
  ) {
    this.parents = param(params, 'parents', 2, { min: 1, integer: true });
    this.pages = param(params, 'pages', 64, { min: 1, max: 4096, integer: true });
    this.writes = param(params, 'writes', 16, { min: 0, integer: true });
    if (this.writes > this.pages) this.writes = this.pages;
    // The parent computes between forks: CPU work, shorter on a faster host.
    this.workNs = cpuNs(ctx, param(params, 'workNs', 50_000, { min: 0 }));
  }

  start(): void {
    const { mm, sched, vm } = this.ctx;
    const n = vm.vcpus.length;
    for (let p = 0; p < this.parents; p++) {
      const space = mm.createSpace(`parent-${p}`);
      mm.populate(space, 0, this.pages);
      const self = this;
      sched.spawn(`forker-${p}`, function* () {
        yield switchTo(mm, space);
        for (let gen = 0; ; gen++) {
          yield compute(self.workNs);
          const child = (yield op((v, resume) => mm.fork(v, space, `child-${p}-${gen}`, resume))) as ReturnType<typeof mm.createSpace>;
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
          yield op((v, resume) => mm.write(v, (gen % self.pages) | 0, gen, resume));
        }
      }, { vcpu: (p * 2) % n });
    }
  }

  resetStats(): void {
    this.forks = 0;
  }

  result(elapsedNs: number): Record<string, unknown> {
    return { forks: this.forks, forksPerSecond: perSecond(this.forks, elapsedNs), shootdowns: this.ctx.mm.shootdowns };
  }
}
