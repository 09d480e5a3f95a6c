import type { EventHandle } from '@ipilab/core';
import type { Vcpu } from '@ipilab/vcpu';
import type { Hypervisor } from './hypervisor';

const NO_EVENT = -1 as EventHandle;

/**
 * One pCPU's vCPU scheduler: runs one vCPU at a time; other runnable vCPUs wait (preempted)
 * in a FIFO and the running one is preempted when its time slice ends and someone waits.
 * A vCPU that halts and stops polling gives the pCPU up.
 */
export class PcpuRunner {
  current: Vcpu | null = null;
  preemptRequested = false;
  private readonly queue: Vcpu[] = [];
  private slice: EventHandle = NO_EVENT;

  constructor(
    private readonly hv: Hypervisor,
    readonly pcpu: number,
  ) {}

  get queueLength(): number {
    return this.queue.length;
  }

  isQueued(v: Vcpu): boolean {
    return this.queue.includes(v);
  }

  /** `v` becomes runnable here; it runs after `latency` if the pCPU is free, else it waits. */
  wake(v: Vcpu, latency: number): void {
    v.pcpu = this.pcpu;
    if (this.current === null) {
      this.dispatch(v, latency);
      return;
    }
    v.setState('preempted');
    this.queue.push(v);
    this.armSlice();
  }

  /** Moves a waiting vCPU to the head of the queue and preempts the running one (interrupt boost). */
  boost(v: Vcpu): void {
    const i = this.queue.indexOf(v);
    if (i < 0) return;
    this.queue.splice(i, 1);
    this.queue.unshift(v);
    this.requestPreempt();
  }

  /** `v` leaves the pCPU (halted and blocked); the next waiting vCPU is switched in. */
  release(v: Vcpu): void {
    if (this.current !== v) return;
    this.current = null;
    this.disarmSlice();
    const next = this.queue.shift();
    if (next !== undefined) this.dispatch(next, this.hv.costs.vcpuSwitch);
  }

  /** Preempts the running vCPU now (it is in guest mode or just re-entering). */
  preemptNow(): void {
    this.preemptRequested = false;
    const c = this.current;
    if (c === null || this.queue.length === 0) {
      if (c !== null) this.hv.reenter(c);
      return;
    }
    if (c.state === 'in-guest') c.leaveGuest('preempted');
    else {
      // A polling vCPU gives up the pCPU: it is runnable again (it will find no work and halt).
      if (c.polling) this.hv.stopPolling(c);
      c.setState('preempted');
    }
    this.queue.push(c);
    this.current = null;
    this.disarmSlice();
    this.dispatch(this.queue.shift()!, this.hv.costs.vcpuSwitch);
  }

  private requestPreempt(): void {
    const c = this.current;
    if (c === null) return;
    if (c.state === 'in-guest') this.preemptNow();
    else if (c.state === 'halted' && c.polling) this.preemptNow();
    else this.preemptRequested = true; // exited: preempt when it tries to re-enter
  }

  private dispatch(v: Vcpu, latency: number): void {
    this.current = v;
    v.pcpu = this.pcpu;
    const token = v.entryToken;
    this.hv.sim.schedule(latency, () => {
      if (this.current !== v || v.entryToken !== token || v.state === 'in-guest') return;
      this.hv.reenter(v);
      this.armSlice();
    });
  }

  private armSlice(): void {
    if (this.slice !== NO_EVENT || this.queue.length === 0 || this.current === null) return;
    this.slice = this.hv.sim.schedule(this.hv.config.timeSliceNs, () => {
      this.slice = NO_EVENT;
      this.requestPreempt();
      this.armSlice();
    });
  }

  private disarmSlice(): void {
    if (this.slice !== NO_EVENT) this.hv.sim.tryCancel(this.slice);
    this.slice = NO_EVENT;
  }
}
