import type { Costs, PostedFlavour } from '@ipilab/calibration';
import type { RandomStream } from '@ipilab/core';
import type { EventSink, ExitReason } from '@ipilab/events';
import type { ApicMode } from '@ipilab/host';
import type { Vcpu } from '@ipilab/vcpu';
import type { HypervisorMode } from './config';
import type { PvFeatures } from './vm';

/**
 * The contracts between the hypervisor and what plugs into it, each what a policy is given and
 * nothing more: an IPI backend gets a `BackendHost` and a `BackendVm`, never the whole
 * `Hypervisor` or `Vm`; the guest OS is a `GuestOs` the hypervisor calls, not hook fields.
 * Built-in backends and guests use exactly these.
 */

/** The simulated clock a policy reads: `now`, in ns. */
export interface Clock {
  /** Simulated time now, in ns. */
  readonly now: number;
}

/** What the host is, as far as an IPI backend needs to know. */
export interface HostFeatures {
  /** `kvm`, or `bare-metal` (no VM exits: only the `native` backend applies). */
  readonly mode: HypervisorMode;
  /** Receive-side posted interrupts (APICv / AVIC) are on. */
  readonly postedInterrupts: boolean;
  /** Send-side IPI virtualization the host has: Intel `ipiv` or AMD `avic`. */
  readonly postedFlavour: PostedFlavour;
}

/** The host work an exit does, given the exit's `reenter` continuation: call it when the host work is done. */
export type ExitBody = (done: () => void) => void;

/**
 * What an IPI backend is given: the host's side of sending an IPI. A backend charges the
 * sender with exits or guest work, and hands targets to the host's delivery path; it never
 * touches the scheduler, the run queues or other VMs.
 */
export interface BackendHost {
  /** The simulated clock. */
  readonly clock: Clock;
  /** Per-operation costs in ns (calibration profile with overrides, at the host's clock). */
  readonly costs: Costs;
  /** Where model events go: publish only when `sink.wants[type]`. */
  readonly sink: EventSink;
  /** The host's mode and interrupt virtualization. */
  readonly features: HostFeatures;
  /**
   * A random stream of the run's seed for the backend's own choices (a jittered cost, a random
   * pick), independent of every other stream of the run: the same `name` gives the same stream,
   * mid-sequence. Models never use `Math.random`; with this a run stays reproducible from its seed.
   */
  random(name: string): RandomStream;
  /**
   * A VM exit of `vcpu` for `reason`: the vCPU leaves guest mode, the host spends `handlingNs`
   * (queueing for the shared service when the reason holds it), runs `body` (e.g. the
   * deliveries; null for none), re-enters, then `resume` runs as the vCPU's next guest work.
   */
  exit(vcpu: Vcpu, reason: ExitReason, handlingNs: number, body: ExitBody | null, resume: (() => void) | null): void;
  /** Delivers `vector` to each target in turn on behalf of `from` (in an exit; null for hardware); `then` after the last. */
  deliverAll(from: Vcpu | null, targets: readonly Vcpu[], vector: number, ipiId: number, then: () => void): void;
  /** Delivers to one target now (posting, kicking or waking it as its state needs); returns the host time it cost the sender, in ns. */
  deliver(from: Vcpu | null, target: Vcpu, vector: number, ipiId: number): number;
  /** AVIC send side: delivered with no exit while the target's IsRunning bit is set; false otherwise (the sender must exit). */
  hardwarePost(from: Vcpu, target: Vcpu, vector: number, ipiId: number): boolean;
  /** IPIv send side: posted to the target whatever its state; never an exit. */
  ipivPost(from: Vcpu, target: Vcpu, vector: number, ipiId: number): void;
  /** A self-IPI: virtualized with APICv, a trapped write without; `done` when the sender may continue. */
  selfIpi(v: Vcpu, vector: number, ipiId: number, done: () => void): void;
}

/** What an IPI backend knows of its VM. */
export interface BackendVm {
  /** The VM's index in the run (`vms[index]`). */
  readonly index: number;
  /** The VM's name. */
  readonly name: string;
  /** The guest's APIC mode: how many ICR writes a send takes. */
  readonly apicMode: ApicMode;
  /** The guest uses the all-but-self shorthand for broadcasts. */
  readonly shorthand: boolean;
  /** The paravirtual features the guest uses. */
  readonly pv: PvFeatures;
  /** Its vCPUs, by index. */
  readonly vcpus: readonly Vcpu[];
}

/**
 * The guest operating system as the hypervisor calls it: interrupts arriving on a vCPU, and
 * the host having flushed a vCPU's TLB on entry. One per VM (`Hypervisor.attachGuest`).
 */
export interface GuestOs {
  /** `vcpu` accepted `vector`: push the handler's work; the handler ends with `Hypervisor.eoi`. */
  interrupt(vcpu: Vcpu, vector: number): void;
  /** The host flushed `vcpu`'s whole TLB as it entered (KVM_VCPU_FLUSH_TLB, the PV TLB flush). */
  flushedOnEntry(vcpu: Vcpu): void;
}
