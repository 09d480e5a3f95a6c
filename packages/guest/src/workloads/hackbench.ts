import { z } from 'zod';
import { InvalidParameterError } from '@ipilab/core';
import type { Task } from '../sched/task';
import { block, compute, op } from '../sched/task';
import { cpuNs, type Workload, type WorkloadContext } from './workload';
import { MAX_TASKS, num, parseParams, taskCount } from './workload-params';

/** hackbench's parameters: every key optional, none other accepted. */
export const hackbenchParams = z
  .object({
    groups: taskCount('Groups (default 4); groups x pairs x 2 tasks in all.'),
    pairs: taskCount('Senders, and as many receivers, per group (default 5).'),
    messages: num({ min: 1, integer: true, description: 'Messages each sender sends to every receiver of its group (default 50).' }),
    sendNs: num({ description: 'ns of CPU work to write a message, at the calibration profile\'s clock (default 2,000).' }),
    receiveNs: num({ description: 'ns of CPU work to read a message, at the calibration profile\'s clock (default 2,000).' }),
  })
  .strict();

/**
 * hackbench-like wake-up load: groups of senders and receivers; each sender sends `messages`
 * messages to every receiver of its group, and a message to a sleeping receiver wakes it — with
 * a wake-up IPI wherever Linux sends one (a queued wake-up onto an idle or other-cache vCPU, a
 * reschedule to preempt). Figure of merit: seconds until every receiver got every message.
 * Parameters: groups (4), pairs per group (5 senders + 5 receivers), messages (50),
 * sendNs (2,000) and receiveNs (2,000) of CPU per message (CPU work, scaled by the clock).
 */
export class HackbenchWorkload implements Workload {
  readonly primary = { key: 'seconds', higherIsBetter: false };
  /** Messages delivered per second of its run (all of them over `seconds`): hackbench's work rate. */
  readonly figures = { throughput: 'messagesPerSecond' };
  readonly kind = 'hackbench';
  private readonly groups: number;
  private readonly pairs: number;
  private readonly messages: number;
  private readonly sendNs: number;
  private readonly receiveNs: number;
  private remainingReceivers = 0;
  finishedAt = -1;
  delivered = 0;

  constructor(
    private readonly ctx: WorkloadContext,
    params: Record<string, unknown> = {},
  ) {
    const p = parseParams('hackbench', hackbenchParams, params);
    this.groups = p.groups ?? 4;
    this.pairs = p.pairs ?? 5;
    this.messages = p.messages ?? 50;
    if (this.groups * this.pairs * 2 > MAX_TASKS) {
      throw new InvalidParameterError('workload.pairs', this.pairs, `at most ${MAX_TASKS} tasks in all (Linux's default pid_max): ${this.groups} groups x ${this.pairs} pairs x 2 is more`);
    }
    // Writing and reading a message are CPU work on the sender's and receiver's vCPUs.
    this.sendNs = cpuNs(ctx, p.sendNs ?? 2_000);
    this.receiveNs = cpuNs(ctx, p.receiveNs ?? 2_000);
  }

  /** Starts the workload (`Workload.start`). */
  start(): void {
    const { sched, vcpus, clock } = this.ctx;
    const n = vcpus.length;
    let next = 0;
    const place = (): number => next++ % n;
    for (let g = 0; g < this.groups; g++) {
      const mailboxes: number[] = [];
      const receivers: Task[] = [];
      for (let r = 0; r < this.pairs; r++) {
        const idx = r;
        mailboxes.push(0);
        this.remainingReceivers++;
        const self = this;
        const expected = this.pairs * this.messages;
        receivers.push(
          sched.spawn(`hb-g${g}-recv${r}`, function* () {
            let got = 0;
            while (got < expected) {
              if (mailboxes[idx] === 0) {
                yield block();
                continue;
              }
              mailboxes[idx]!--;
              got++;
              self.delivered++;
              yield compute(self.receiveNs);
            }
            if (--self.remainingReceivers === 0) self.finishedAt = clock.now;
          }, { vcpu: place() }),
        );
      }
      for (let s = 0; s < this.pairs; s++) {
        const self = this;
        sched.spawn(`hb-g${g}-send${s}`, function* () {
          for (let m = 0; m < self.messages; m++) {
            for (let r = 0; r < receivers.length; r++) {
              yield compute(self.sendNs);
              mailboxes[r]!++;
              const receiver = receivers[r]!;
              yield op((v, resume) => sched.wake(receiver, v, resume));
            }
          }
        }, { vcpu: place() });
      }
    }
  }

  result(): Record<string, unknown> {
    const seconds = this.finishedAt < 0 ? NaN : this.finishedAt / 1e9;
    return { seconds, delivered: this.delivered, wakeIpis: this.ctx.sched.wakeIpis, messagesPerSecond: this.delivered / seconds };
  }
}
