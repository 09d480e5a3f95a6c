interface Waiter {
  readonly vm: number;
  readonly since: number;
  readonly behind: Map<number, number>;
  readonly granted: (waited: number, behind: Readonly<Record<number, number>>) => void;
}

/**
 * A hypervisor service of limited capacity that some exits must hold while they are handled
 * (a user-space device model, a global lock, a shared emulation thread). With `capacity`
 * servers and a FIFO queue, one VM's exit storm makes another VM's exits wait: the mechanism
 * behind cross-VM interference. Capacity Infinity means exits never queue (KVM's in-kernel
 * paths run on the exiting vCPU's own thread).
 *
 * While an exit waits, the service apportions its waiting time among the VMs whose exits hold
 * the servers, in proportion to the servers each holds: the culprits of that wait.
 */
export class HypervisorService {
  private busy = 0;
  private readonly holders = new Map<number, number>();
  private readonly waiting: Waiter[] = [];
  private lastChange = 0;

  constructor(
    readonly capacity: number,
    private readonly now: () => number,
  ) {}

  /** Runs `granted(waited, behind)` once a server is free for an exit of VM `vm`. */
  acquire(vm: number, granted: (waited: number, behind: Readonly<Record<number, number>>) => void): void {
    this.accrue();
    if (this.busy < this.capacity) {
      this.take(vm);
      granted(0, NOBODY);
    } else {
      this.waiting.push({ vm, since: this.now(), behind: new Map(), granted });
    }
  }

  /** An exit of VM `vm` releases its server; the next waiter, if any, takes it. */
  release(vm: number): void {
    this.accrue();
    const n = (this.holders.get(vm) ?? 1) - 1;
    if (n === 0) this.holders.delete(vm);
    else this.holders.set(vm, n);
    this.busy--;
    const next = this.waiting.shift();
    if (next === undefined) return;
    this.take(next.vm);
    const waited = this.now() - next.since;
    next.granted(waited, apportion(next.behind, waited));
  }

  private take(vm: number): void {
    this.busy++;
    this.holders.set(vm, (this.holders.get(vm) ?? 0) + 1);
  }

  /** Adds the time since the last change to each waiter's culprits, by servers held. */
  private accrue(): void {
    const t = this.now();
    const dt = t - this.lastChange;
    this.lastChange = t;
    if (dt === 0 || this.waiting.length === 0 || this.busy === 0) return;
    for (const w of this.waiting) {
      for (const [vm, n] of this.holders) w.behind.set(vm, (w.behind.get(vm) ?? 0) + (dt * n) / this.busy);
    }
  }
}

/** No culprits: an exit granted at once waited behind nobody. */
const NOBODY: Readonly<Record<number, number>> = Object.freeze({});

/** Integer ns per culprit summing exactly to `total` (largest remainder). */
function apportion(shares: Map<number, number>, total: number): Record<number, number> {
  const out: Record<number, number> = {};
  const entries = [...shares].sort((a, b) => a[0] - b[0]);
  let assigned = 0;
  for (const [vm, x] of entries) {
    out[vm] = Math.floor(x);
    assigned += out[vm];
  }
  const rest = entries.map(([vm, x]) => [vm, x - Math.floor(x)] as const).sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  for (let i = 0; assigned < total && rest.length > 0; i = (i + 1) % rest.length) {
    out[rest[i]![0]]! += 1;
    assigned++;
  }
  return out;
}
