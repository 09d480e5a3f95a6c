'use strict';
// An ipilab plugin: a host scheduler that gang-schedules each VM's vCPU threads
// (`hypervisor.scheduler.policy: cosched`, or `{ name: cosched, options: { sliceNs: 3000000 } }`).
//
// The design is strict, time-sliced coscheduling as J. K. Ousterhout defined it ("Scheduling
// Techniques for Concurrent Systems", 3rd ICDCS, 1982, pp. 22-30): the processes of one task
// group (here the vCPU threads of one VM) run at the same time, one group per time slice, the
// groups in turn; a processor that has nothing of the current group to run does not idle but
// runs another group's process ("alternate selection", which keeps the scheme work-conserving).
// Moving from one group to the next is the "co-start": the pCPU whose decision ends the slice
// tells the others with a reschedule IPI (resched_curr on a remote CPU), as the proposed Linux
// coscheduling patches do (J. Schönherr, "[RFC 00/60] Coscheduling for Linux", LKML, Sept.
// 2018: the leader CPU of a coscheduled group preempts the other CPUs of the group by IPI).
//
// What it is not: VMware ESXi's relaxed coscheduling ("The CPU Scheduler in VMware vSphere 5.1",
// VMware technical white paper, 2013), which lets a VM's vCPUs drift apart until the skew
// passes a threshold and then co-stops only the leaders. Here the whole slice belongs to one
// VM, and a group's slice ends early once none of its vCPUs is runnable (all halted).
//
// Model: a gang table per host (keyed on the run queues' shared `ctx.host`), holding the VM
// whose slice it is and when that slice ends; per pCPU a FIFO of waiting threads. A pCPU picks
// the first waiting thread of the active VM, else the first waiting thread (alternate selection);
// the running thread is switched at the end of the slice, or after running a slice when others
// wait (round robin among threads of the same class on one pCPU). Weights are ignored: every
// VM gets one slice per round. No allocation per call once each VM has been seen.
const { ContainerModule } = require('inversify');
const { z } = require('zod');
const { contributePolicy } = require('@ipilab/di');
const { hostSchedulers } = require('@ipilab/hypervisor');

/** Removes `queue[i]` keeping the order, without the array `splice` returns. */
function removeAt(queue, i) {
  const t = queue[i];
  for (let k = i; k < queue.length - 1; k++) queue[k] = queue[k + 1];
  queue.pop();
  return t;
}

/** The VM a host thread belongs to (its vCPU's VM index). */
function vmOf(t) {
  return t.vcpu.vm;
}

/** The state a host's run queues share: whose slice it is, and how many threads each VM has runnable. */
class GangTable {
  constructor(sliceNs, onGang) {
    this.sliceNs = sliceNs;
    this.onGang = onGang;
    /** Run queues by pCPU. */
    this.rqs = [];
    /** The VM whose slice it is (-1: none has a runnable thread). */
    this.active = -1;
    this.sliceEnd = 0;
    /** Slices begun so far. */
    this.slot = 0;
    /** Runnable (waiting or running) threads per VM index. */
    this.runnable = [];
  }

  count(vm, d) {
    while (this.runnable.length <= vm) this.runnable.push(0);
    this.runnable[vm] += d;
  }

  /**
   * The next VM with a runnable thread, round robin after the current one, gets a slice from
   * `now`; every other pCPU that now runs another VM's thread while one of the new gang's waits
   * there is told to re-pick (co-start). `from` re-picks by itself.
   */
  rotate(now, from) {
    const n = this.runnable.length;
    let next = -1;
    for (let k = 1; k <= n; k++) {
      const vm = (this.active + k + n) % n;
      if (this.runnable[vm] > 0) {
        next = vm;
        break;
      }
    }
    this.active = next;
    this.sliceEnd = now + this.sliceNs;
    this.slot++;
    if (this.onGang !== undefined) this.onGang(now, next, from.ctx.host);
    if (next < 0) return;
    for (const rq of this.rqs) {
      if (rq !== from && rq.curr !== null && vmOf(rq.curr) !== next && rq.activeWaiting() >= 0) from.ctx.reschedule(rq.ctx.pcpu);
    }
  }
}

class GangRunqueue {
  constructor(ctx, g) {
    this.ctx = ctx;
    this.g = g;
    this.curr = null;
    this.queue = [];
    /** When `curr` was picked, and in which slice. */
    this.runStart = 0;
    this.runSlot = -1;
  }

  get nrQueued() {
    return this.queue.length;
  }

  queuedAt(i) {
    return this.queue[i];
  }

  /** Index of the first waiting thread of the active VM, or -1. */
  activeWaiting() {
    const a = this.g.active;
    for (let i = 0; i < this.queue.length; i++) if (vmOf(this.queue[i]) === a) return i;
    return -1;
  }

  enqueue(t, now) {
    t.rq = this;
    t.queuedSince = now;
    this.queue.push(t);
    this.g.count(vmOf(t), 1);
    if (this.g.active < 0 || now >= this.g.sliceEnd) this.g.rotate(now, this);
  }

  remove(t) {
    const i = this.queue.indexOf(t);
    if (i < 0) return;
    removeAt(this.queue, i);
    // The balancer moves it: it is enqueued elsewhere at once, so its VM's slice goes on.
    this.g.count(vmOf(t), -1);
  }

  pick(now) {
    if (this.queue.length === 0) {
      this.curr = null;
      return null;
    }
    if (this.g.active < 0 || now >= this.g.sliceEnd) this.g.rotate(now, this);
    const i = this.activeWaiting();
    const t = removeAt(this.queue, i >= 0 ? i : 0);
    t.execStart = now;
    this.curr = t;
    this.runStart = now;
    this.runSlot = this.g.slot;
    return t;
  }

  putPrev(now, runnable) {
    const c = this.curr;
    if (c === null) return;
    c.sumExec += now - c.execStart;
    this.curr = null;
    if (runnable) {
      // Re-picked within the slice it was picked in, before its turn (a slice) is over (a
      // reschedule that changes nothing here): it keeps its place, at the head. Else the back.
      c.queuedSince = now;
      if (this.runSlot === this.g.slot && now - this.runStart < this.g.sliceNs) this.queue.unshift(c);
      else this.queue.push(c);
      return;
    }
    const vm = vmOf(c);
    this.g.count(vm, -1);
    // Its gang has nothing left to run: the next one starts now, everywhere.
    if (vm === this.g.active && this.g.runnable[vm] === 0) this.g.rotate(now, this);
  }

  wakeupPreempt(woken) {
    return vmOf(woken) === this.g.active && (this.curr === null || vmOf(this.curr) !== this.g.active);
  }

  nextTick(now) {
    const slot = this.g.sliceEnd > now ? this.g.sliceEnd - now : this.g.sliceNs;
    const turn = this.runStart + this.g.sliceNs - now;
    return Math.max(1, Math.min(slot, turn > 0 ? turn : this.g.sliceNs));
  }

  tick(now) {
    const g = this.g;
    if (now >= g.sliceEnd) g.rotate(now, this);
    const c = this.curr;
    if (c === null) return this.queue.length > 0;
    const activeHere = this.activeWaiting() >= 0;
    // Another VM's thread gives way to the gang at once.
    if (vmOf(c) !== g.active && activeHere) return true;
    // Round robin among threads of the same class after a slice's turn.
    if (now - this.runStart < g.sliceNs) return false;
    return vmOf(c) === g.active ? activeHere : this.queue.length > 0;
  }

  boost(t) {
    const i = this.queue.indexOf(t);
    if (i < 0) return false;
    removeAt(this.queue, i);
    this.queue.unshift(t);
    // A directed yield may not break the gang: it preempts only for the gang or a filler.
    return this.curr === null || vmOf(this.curr) !== this.g.active || vmOf(t) === this.g.active;
  }
}

/**
 * The `cosched` host scheduler. `sliceNs`: each VM's gang slice (default: the host's
 * `hypervisor.scheduler.timeSlice`, 3 ms). `onGang(now, vm, host)`: told each time a gang starts
 * (vm -1: none runnable), for tests.
 */
function coschedPolicy({ sliceNs, onGang } = {}) {
  const tables = new WeakMap();
  return {
    name: 'cosched',
    pollersYield: true,
    createRunqueue(ctx) {
      let g = tables.get(ctx.host);
      if (g === undefined) {
        g = new GangTable(sliceNs ?? ctx.timeSliceNs, onGang);
        tables.set(ctx.host, g);
      }
      const rq = new GangRunqueue(ctx, g);
      g.rqs[ctx.pcpu] = rq;
      return rq;
    },
  };
}

const options = {
  schema: z.object({ sliceNs: z.number().int().min(10_000).max(1_000_000_000).optional() }).strict(),
  configure: (o) => coschedPolicy(o),
};

module.exports = new ContainerModule((bind) => {
  contributePolicy(bind, hostSchedulers, 'cosched', coschedPolicy(), options);
});
module.exports.coschedPolicy = coschedPolicy;
module.exports.options = options;
