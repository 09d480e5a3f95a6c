import type { EventHandle } from '@ipilab/core';
import type { Vcpu } from '@ipilab/vcpu';
import type { Hypervisor } from './hypervisor';

const NO_EVENT = -1 as EventHandle;

/**
 * Pause-loop exiting as KVM configures it (`hypervisor.ple`). The window is in the vendor's unit:
 * TSC cycles of a PAUSE loop on Intel (VMX PLE_Window; kvm_intel `ple_window`), PAUSE instructions
 * on AMD (the VMCB pause filter count; kvm_amd `pause_filter_count`). `unitNs` converts it.
 */
export interface PleConfig {
  readonly enabled: boolean;
  /** Base window (ple_window / pause_filter_count). */
  readonly window: number;
  /** Growth on each PLE exit: x grow while grow < window, + grow otherwise; < 1 resets to the base (__grow_ple_window). */
  readonly grow: number;
  /** Shrink when the vCPU is scheduled in: / shrink, - shrink, or back to the base when < 1 (__shrink_ple_window). */
  readonly shrink: number;
  /** Largest window. */
  readonly max: number;
  /** ns per window unit: one TSC cycle, or one PAUSE. */
  readonly unitNs: number;
}

/**
 * KVM's defaults (arch/x86/kvm/x86.h): Intel KVM_VMX_DEFAULT_PLE_WINDOW 4096 TSC cycles,
 * KVM_DEFAULT_PLE_WINDOW_GROW 2, KVM_DEFAULT_PLE_WINDOW_SHRINK 0, KVM_VMX_DEFAULT_PLE_WINDOW_MAX
 * UINT_MAX; AMD KVM_SVM_DEFAULT_PLE_WINDOW 3000 PAUSEs, KVM_SVM_DEFAULT_PLE_WINDOW_MAX USHRT_MAX
 * (pause_filter_count in arch/x86/kvm/svm/svm.c), same grow and shrink.
 */
export const PLE_DEFAULTS = {
  intel: { window: 4096, grow: 2, shrink: 0, max: 4_294_967_295 },
  amd: { window: 3000, grow: 2, shrink: 0, max: 65_535 },
} as const;

/**
 * Pause-loop exits and directed yield (virt/kvm/kvm_main.c kvm_vcpu_on_spin, Linux 6.x):
 * - a vCPU whose guest code spins in a PAUSE loop (a csd wait, a spinlock, a spinning rwsem
 *   writer, idle=poll) exits once it has spun for its window (handle_pause / pause_interception),
 *   and its window grows (grow_ple_window); it is reset when the vCPU is next scheduled in
 *   (shrink_ple_window from kvm_arch_sched_in);
 * - on the exit KVM looks for another vCPU of the same VM to yield to, round-robin from the one
 *   it last boosted: one that is `ready` (preempted while runnable, or woken and not yet running:
 *   kvm_sched_out, kvm_vcpu_wake_up), not blocked with nothing pending (vcpu_dy_runnable), and
 *   eligible — a vCPU itself spinning is eligible every other time (kvm_vcpu_eligible_for_directed_yield);
 * - yield_to (kernel/sched/core.c): the target becomes its run queue's next buddy and its pCPU is
 *   rescheduled (yield_to_task_fair, resched_curr), and the yielder gives up the rest of its
 *   turn (yield_task_fair); fails when neither queue has anything else to run (-ESRCH), three
 *   failures end the search.
 * - a spinner in kernel mode (all of the guest's spin loops are kernel code) skips a vCPU that was
 *   preempted in user mode (kvm_arch_vcpu_preempted_in_kernel) unless an interrupt is pending for
 *   it (kvm_arch_dy_has_pending_interrupt): it cannot be holding the lock or running the handler
 *   the spinner waits for.
 */
export class PauseLoopExiting {
  /** Window per host thread (vendor units). */
  private window = new Float64Array(0);
  private event: EventHandle[] = [];
  private token = new Float64Array(0);
  private inSpin = new Uint8Array(0);
  private dyEligible = new Uint8Array(0);
  /** Per VM: the vCPU index last yielded to (kvm->last_boosted_vcpu). */
  private readonly lastBoosted: number[] = [];
  private readonly onFire = (v: Vcpu): void => this.fire(v);
  exits = 0;
  yields = 0;

  constructor(
    private readonly hv: Hypervisor,
    readonly config: PleConfig,
  ) {}

  private ensure(id: number): void {
    if (id < this.window.length) return;
    const n = Math.max(id + 1, 2 * this.window.length, 8);
    const w = new Float64Array(n);
    w.set(this.window);
    w.fill(this.config.window, this.window.length);
    this.window = w;
    const tk = new Float64Array(n);
    tk.set(this.token);
    this.token = tk;
    const s = new Uint8Array(n);
    s.set(this.inSpin);
    this.inSpin = s;
    const d = new Uint8Array(n);
    d.set(this.dyEligible);
    this.dyEligible = d;
    for (let i = this.event.length; i < n; i++) this.event.push(NO_EVENT);
  }

  /** The vCPU's hardware thread changed between real work and a PAUSE loop (Vcpu.onActivity). */
  activity(v: Vcpu): void {
    const id = v.hostId;
    if (id < 0) return;
    this.ensure(id);
    if (v.state === 'in-guest' && v.pausing) {
      if (this.event[id] !== NO_EVENT && this.token[id] === v.entryToken) return;
      this.disarm(id);
      this.token[id] = v.entryToken;
      this.event[id] = this.hv.sim.schedule(Math.max(1, Math.round(this.window[id]! * this.config.unitNs)), this.onFire, v);
    } else {
      this.disarm(id);
    }
  }

  private disarm(id: number): void {
    const e = this.event[id]!;
    if (e === NO_EVENT) return;
    this.hv.sim.tryCancel(e);
    this.event[id] = NO_EVENT;
  }

  /** The window ran out with the vCPU still spinning: a PLE exit, then directed yield. */
  private fire(v: Vcpu): void {
    const id = v.hostId;
    this.event[id] = NO_EVENT;
    if (v.state !== 'in-guest' || !v.pausing || this.token[id] !== v.entryToken) return;
    this.exits++;
    this.window[id] = growWindow(this.window[id]!, this.config.window, this.config.grow, this.config.max);
    const hv = this.hv;
    hv.exit(v, 'pause', hv.costs.exitRoundTrip, (reenter) => {
      this.onSpin(v);
      reenter();
    }, null);
  }

  /** kvm_arch_sched_in -> shrink_ple_window: the thread is scheduled in again. */
  schedIn(v: Vcpu): void {
    const id = v.hostId;
    if (id < 0) return;
    this.ensure(id);
    this.window[id] = shrinkWindow(this.window[id]!, this.config.window, this.config.shrink, this.config.window);
  }

  /** The vCPU's current window (vendor units), for tests. */
  windowOf(v: Vcpu): number {
    this.ensure(v.hostId);
    return this.window[v.hostId]!;
  }

  /** kvm_vcpu_on_spin(me). */
  private onSpin(me: Vcpu): void {
    const hv = this.hv;
    const vm = hv.vms[me.vm]!;
    const n = vm.vcpus.length;
    if (n < 2) return;
    const meId = me.hostId;
    this.inSpin[meId] = 1;
    // handle_pause: kvm_vcpu_on_spin(vcpu, yield_to_kernel_mode = the spinner's CPL is 0).
    const toKernel = me.inKernel;
    const start = (this.lastBoosted[me.vm] ?? -1) + 1;
    let tries = 3;
    for (let i = 0; i < n; i++) {
      const idx = (start + i) % n;
      if (idx === me.index) continue;
      const v = vm.vcpus[idx]!;
      // `ready` (HostThread.ready): preempted while runnable, or woken from a halt with the boost;
      // a running, exited or blocked vCPU is never a candidate.
      if (v.state !== 'preempted') continue;
      const t = hv.threadOf(v);
      if (!t.ready) continue;
      // A spinner in kernel mode waits for kernel code (a lock holder, a csd handler): it skips a
      // vCPU preempted in user mode, unless that vCPU has an interrupt pending (52acd22f "KVM:
      // Boost vCPU candidate in user mode which is delivering interrupt").
      if (t.preempted && toKernel && !t.preemptedInKernel && !this.dyPendingInterrupt(v)) continue;
      if (!this.eligible(v)) continue;
      const r = yieldTo(hv, me, v);
      if (r > 0) {
        this.lastBoosted[me.vm] = idx;
        this.yields++;
        break;
      }
      if (r < 0 && --tries === 0) break;
    }
    this.inSpin[meId] = 0;
    this.dyEligible[meId] = 0;
  }

  /**
   * kvm_arch_dy_has_pending_interrupt (arch/x86/kvm/x86.c): only with APICv, and only VMX can see
   * an interrupt a preempted vCPU has not taken yet — a posted interrupt outstanding in its
   * descriptor (vmx_dy_apicv_has_pending_interrupt: PID.ON, or SN with a non-empty PIR); SVM's
   * AVIC hook returns false (svm_dy_apicv_has_pending_interrupt).
   */
  private dyPendingInterrupt(v: Vcpu): boolean {
    const c = this.hv.config;
    if (!c.postedInterrupts || c.postedFlavour !== 'ipiv') return false;
    return v.apic.on || (v.apic.sn && v.apic.hasPosted());
  }

  /** kvm_vcpu_eligible_for_directed_yield: a vCPU itself in a spin loop is eligible every other time. */
  private eligible(v: Vcpu): boolean {
    const id = v.hostId;
    this.ensure(id);
    if (this.inSpin[id] === 0) return true;
    const e = this.dyEligible[id] === 1;
    this.dyEligible[id] = e ? 0 : 1;
    return e;
  }

}

/**
 * yield_to(target, preempt=true) by `me`'s vCPU thread (kernel/sched/core.c; KVM's
 * kvm_vcpu_yield_to): the target becomes the next buddy of its run queue and that pCPU is
 * rescheduled (yield_to_task_fair, resched_curr), and `me` gives up the rest of its turn
 * (yield_task_fair) and reschedules. Returns 1 when yielded, 0 when the target is not waiting to
 * run, -1 when neither run queue has anything else to run (-ESRCH).
 */
export function yieldTo(hv: Hypervisor, me: Vcpu, target: Vcpu): number {
  const mine = hv.runners[me.pcpu]!;
  const theirs = hv.runners[target.pcpu]!;
  if (mine.queueLength === 0 && theirs.queueLength + (theirs.current === null ? 0 : 1) <= 1) return -1;
  const t = hv.threadOf(target);
  if (!t.queued) return 0;
  theirs.boost(t);
  mine.yieldCurrent();
  return 1;
}

/** __grow_ple_window (arch/x86/kvm/x86.h). */
export function growWindow(val: number, base: number, modifier: number, max: number): number {
  if (modifier < 1) return base;
  const next = modifier < base ? val * modifier : val + modifier;
  return Math.min(next, max);
}

/** __shrink_ple_window (arch/x86/kvm/x86.h). */
export function shrinkWindow(val: number, base: number, modifier: number, min: number): number {
  if (modifier < 1) return base;
  const next = modifier < base ? Math.floor(val / modifier) : val - modifier;
  return Math.max(next, min);
}
