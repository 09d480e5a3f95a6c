/**
 * A hypervisor service of limited capacity that some exits must hold while they are handled
 * (a user-space device model, a global lock, a shared emulation thread). With `capacity`
 * servers and a FIFO queue, one VM's exit storm makes another VM's exits wait: the mechanism
 * behind cross-VM interference. Capacity Infinity means exits never queue (KVM's in-kernel
 * paths run on the exiting vCPU's own thread).
 */
export class HypervisorService {
  private busy = 0;
  private readonly waiting: (() => void)[] = [];
  /** Holds of the service, and the ns spent queued for it, over the run. */
  holds = 0;
  queuedNs = 0;

  constructor(readonly capacity: number) {}

  /** Runs `granted` once a server is free (now, or when one is released). */
  acquire(granted: () => void): void {
    this.holds++;
    if (this.busy < this.capacity) {
      this.busy++;
      granted();
    } else {
      this.waiting.push(granted);
    }
  }

  release(): void {
    const next = this.waiting.shift();
    if (next !== undefined) next();
    else this.busy--;
  }

  get queueLength(): number {
    return this.waiting.length;
  }
}
