import type { LapicTimerMode, PostedFlavour } from '@ipilab/calibration';
import type { ExitReason } from '@ipilab/events';
import { EEVDF_POLICY } from './sched/eevdf-policy';
import { PLE_DEFAULTS, type PleConfig } from './spinning';
import type { HostSchedulerPolicy } from './sched/host-scheduler';

/**
 * `kvm`: VMs run under KVM (exits, the host scheduler, halt polling, posted interrupts).
 * `bare-metal`: no hypervisor at all: one VM whose vCPUs are the machine's CPUs, for the
 * "what does virtualization cost" baseline (bare-metal.ts).
 */
export type HypervisorMode = 'kvm' | 'bare-metal';
/** Both hypervisor modes: `kvm`, or `bare-metal` (no hypervisor at all). */
export const HYPERVISOR_MODES: readonly HypervisorMode[] = ['kvm', 'bare-metal'];

/** How the hypervisor is set up: mode, interrupt virtualization, the host scheduler and its tunables, halt polling, the shared service, pause-loop exiting. */
export interface HypervisorConfig {
  /** KVM, or the same host with no hypervisor (the native baseline). */
  readonly mode: HypervisorMode;
  /** Receive-side posted interrupts (Intel APICv / AMD AVIC): running targets take IPIs without an exit, EOI is virtualized. */
  readonly postedInterrupts: boolean;
  /**
   * Send-side IPI virtualization the `posted` backend follows: `ipiv` (Intel: the sender never
   * exits) or `avic` (AMD: the sender exits when the target's IsRunning bit is clear).
   */
  readonly postedFlavour: PostedFlavour;
  /**
   * How the guest's TSC-deadline timer is emulated: `preemption-timer` (Intel: the VMX
   * preemption timer makes a fastpath exit in guest mode) or `hrtimer` (AMD: a host hrtimer,
   * whose interrupt forces an external-interrupt exit on a running vCPU).
   */
  readonly lapicTimer: LapicTimerMode;
  /**
   * KVM's boost of vCPUs that are delivering interrupts (d73eb57b, Linux 5.3): a vCPU woken from
   * a halt is marked `ready`, a candidate for directed yield (spinning.ts). It does not reorder run
   * queues. Off: only vCPUs preempted while runnable are candidates (KVM before 5.3).
   */
  readonly boostIpiTargets: boolean;
  /** Servers of the shared hypervisor service; Infinity: exits never queue. */
  readonly serviceCapacity: number;
  /** Exit reasons whose handling holds the shared service. */
  readonly serviceReasons: readonly ExitReason[];
  /** The host's scheduling policy for vCPU threads (`eevdf`, `cfs`, `fifo` or a plugin's). */
  readonly hostScheduler: HostSchedulerPolicy;
  /** Host scheduler tick rate (CONFIG_HZ). */
  readonly hz: number;
  /** Unpinned vCPU threads move between the pCPUs they may use (wake-up placement and load balancing). */
  readonly migrate: boolean;
  /** Time slice of the legacy `fifo` policy. */
  readonly timeSliceNs: number;
  /**
   * EEVDF: a yielding thread forfeits its remaining vruntime ("sched/fair: Forfeit vruntime on
   * yield", 79104becf42b, Linux 6.18 and the stable kernels it was backported to) instead of only
   * pushing its deadline a slice on each time (Linux 6.6-6.17).
   */
  readonly forfeitOnYield: boolean;
  /**
   * KVM halt polling (virt/kvm/kvm_main.c): a halted vCPU spins on its pCPU for its own window
   * before blocking; the window grows (x grow, from growStartNs) after a short block and shrinks
   * (/ shrink, or to 0 when shrink is 0) after a block longer than maxNs. maxNs 0 disables it.
   */
  readonly haltPoll: HaltPollConfig;
  /** Pause-loop exiting and directed yield (spinning.ts). */
  readonly ple: PleConfig;
}

/** KVM's halt polling tunables (halt_poll_ns and its grow/shrink parameters). */
export interface HaltPollConfig {
  readonly maxNs: number;
  readonly grow: number;
  readonly growStartNs: number;
  readonly shrink: number;
}

/** The configuration a scenario gets by default (KVM as a current Linux host runs it). */
export const DEFAULT_HYPERVISOR_CONFIG: HypervisorConfig = {
  mode: 'kvm',
  postedInterrupts: true,
  postedFlavour: 'avic',
  lapicTimer: 'hrtimer',
  boostIpiTargets: false,
  serviceCapacity: Infinity,
  serviceReasons: ['apic-write', 'hypercall', 'incomplete-ipi', 'io'],
  hostScheduler: EEVDF_POLICY,
  // CONFIG_HZ=1000: Ubuntu's and Fedora's x86-64 kernels (RHEL's is 1000 too); Debian's is 250.
  hz: 1000,
  migrate: true,
  // fifo only: CFS gives each of two runnable tasks half of its 6 ms scheduling latency (estimate; kernel default sysctl_sched_latency).
  timeSliceNs: 3_000_000,
  forfeitOnYield: true,
  // KVM_HALT_POLL_NS_DEFAULT (x86) 200000, halt_poll_ns_grow 2, halt_poll_ns_grow_start 10000;
  // halt_poll_ns_shrink was 0 in 4.x kernels (reset to 0), 2 in current ones.
  haltPoll: { maxNs: 200_000, grow: 2, growStartNs: 10_000, shrink: 0 },
  // Off here, so mechanism tests see only what they set up; scenarios decide (`hypervisor.ple`).
  // Intel's defaults at 2.5 GHz: one TSC cycle is 0.4 ns.
  ple: { enabled: false, ...PLE_DEFAULTS.intel, unitNs: 0.4 },
};
