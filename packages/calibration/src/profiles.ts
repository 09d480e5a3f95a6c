import { InvalidParameterError } from '@ipilab/core';
import type { CalibrationProfile, CostFigure } from './profile';

// Sources, cited once. See docs/calibration.md for the full references and the derivations.
const TR_RELOAD = 'kvm-unit-tests x86/vmexit, in "x86/kvm/vmx: Defer TR reload after VM exit" (2017): vmcall 1,181-1,195 cycles, in-kernel port I/O 2,339-2,435 cycles';
const PV_SEND_IPI = 'Wanpeng Li, "KVM: X86: Implement \'send IPI\' hypercall" (2018), Norov IPI benchmark, Xeon Skylake 2.5 GHz, 80-vCPU VM';
const NO_PVIPI = 'zhenwei pi, "x86/kvm: Introduce boot parameter no-kvm-pvipi" thread (LKML, Oct 2021), apic-ipi microbenchmark, EPYC 7642, sender-side TSC cycles, unicast, same node';
const TIMER_PI = 'Wanpeng Li, "KVM: LAPIC: Inject timer interrupt via posted interrupt" (2019), perf kvm stat on Skylake: EXTERNAL_INTERRUPT avg 0.71-0.72 us';
const IPIV = 'Zeng Guang et al., "IPI virtualization support for VM" v7 cover letter (2022), kvm-unit-tests vmexit/ipi: x2APIC 4,337.85 cycles without IPIv, 3,644.8 with';
const PALLIPADI = 'V. Pallipadi, "[RFC] Extend mwait idle to optimize away IPIs" (LKML 2012-02): sender cost of smp_call_function_single ~1,600 cycles same socket, ~2,000 cross socket (Westmere)';
const AMIT = 'N. Amit, "x86/mm: Flush remote and local TLBs concurrently" (LKML 2019-05), Haswell bare metal: first remote target of a shootdown adds ~775 ns';
const HALT_POLL_DOC = 'Linux Documentation/virt/kvm/halt-polling.rst: "saving us a trip through the scheduler, normally on the order of a few micro-seconds"; dynamic halt-polling (2015): TCP_RR 34 us without polling vs 27 us with';
const KVM_SRC = 'Linux arch/x86/kvm/vmx.c and virt/kvm/kvm_main.c (v4.17): vmx_deliver_posted_interrupt, kvm_vcpu_kick, kvm_vcpu_wake_up';
const LINUX_MM = 'Linux arch/x86/mm/tlb.c (tlb_single_page_flush_ceiling = 33) and mm/huge_memory.c';
const SKYLAKE_STLB = 'Intel 64 and IA-32 Architectures Optimization Reference Manual, Skylake microarchitecture: 1,536-entry shared second-level TLB';
const AMD_APM = 'AMD64 Architecture Programmer\'s Manual vol. 3: INVLPGB (broadcast TLB invalidation) and TLBSYNC';
const CTXSW = 'Yang Zhang, guest idle-poll RFC (LKML 2017-08): contextswitch benchmark in a KVM guest, 2,493.14 ns per switch';
const CFS = 'Linux CFS defaults; KVM vcpu_load/vcpu_put';
const SMT_GAIN = 'Intel, Hyper-Threading Technology product brief: "up to 30 %" more throughput per core; SPEC CPU2017 rate runs on Xeon Scalable with SMT on vs off typically gain 15-30 %';
const SMT_PAUSE = 'Intel 64 and IA-32 Architectures Optimization Reference Manual, Skylake microarchitecture: PAUSE latency raised to about 140 cycles (from ~10) so that a spinning thread leaves more of the core to its sibling';
const SKL_PAUSE = 'Intel 64 and IA-32 Architectures Optimization Reference Manual, "Pause Latency in Skylake Microarchitecture" (section 8.4.7 in the 2016-2019 editions, 2.6.4 later): "The latency of the PAUSE instruction in prior generation microarchitectures is about 10 cycles, whereas in Skylake microarchitecture it has been extended to as many as 140 cycles"';
const INTEL_IDLE = 'Linux drivers/idle/intel_idle.c, skx_cstates (Skylake-SP): C1 (MWAIT 0x00) exit_latency 2 us, target_residency 2 us; C1E 10 / 20 us; C6 133 / 600 us';
const X2APIC_ICR = 'Linux arch/x86/include/asm/apic.h native_x2apic_icr_write() after weak_wrmsr_fence() (MFENCE; LFENCE: x2APIC MSR writes are not serializing, Intel SDM vol. 3A 10.12.3); arch/x86/kernel/apic/x2apic_phys.c';
const NESTED_PAGING = 'R. Bhargava et al., "Accelerating Two-Dimensional Page Walks for Virtualized Systems" (ASPLOS 2008): a 2-D walk of 4-level guest and host tables takes up to 24 memory references, a native walk 4';
const AGNER = 'A. Fog, "Instruction tables" (2022), Skylake: LOCK CMPXCHG / LOCK XADD latency ~18-20 cycles on a line in L1';
const RVR_INVLPGB = 'Rik van Riel, "x86/mm: AMD broadcast TLB invalidation" series (v7, LKML 2025-01/02; merged for Linux 6.15), arch/x86/mm/tlb.c broadcast_tlb_flush; AMD APM vol. 3 INVLPGB/TLBSYNC (CPUID Fn8000_0008 EDX[15:0] is the page count per INVLPGB, not a limit on concurrent ones)';
const LINUX_LRU = 'Linux mm/swap.c folios_put_refs / folio_batch_move_lru (lruvec->lru_lock taken once per folio batch of PAGEVEC_SIZE = 31 since "mm: increase folio batch size", Linux 6.9), mm/memcontrol.c folio_lruvec_lock_irqsave';
const LINUX_MMAP = 'Linux mm/mmap.c do_mmap / mm/vma.c do_vmi_munmap (vm_area_alloc, vma_merge, maple-tree store) under mmap_write_lock';
const KVM_VMCS = 'Linux arch/x86/kvm/vmx/vmx.c vmx_vcpu_load_vmcs and loaded_vmcs_clear (smp_call_function_single to the pCPU that last loaded the VMCS)';

const VMX_PT = 'Y. Jiang and P. Bonzini, "KVM: x86: support using the vmx preemption timer for tsc deadline timer" (2016): kvm-unit-tests tscdeadline_latency ~3,200 cycles from deadline to guest handler with a host hrtimer, ~800 cycles (25 %) less with the preemption timer when the vCPU busy-waits';
const TICK_SCHED = 'Linux kernel/time/tick-sched.c tick_sched_timer -> tick_sched_handle -> update_process_times (process-time accounting, run_local_timers, rcu_sched_clock_irq, scheduler_tick)';
const KVM_FASTPATH = 'Linux arch/x86/kvm/vmx/vmx.c vmx_exit_handlers_fastpath (EXIT_REASON_MSR_WRITE -> handle_fastpath_set_msr_irqoff for MSR_IA32_TSC_DEADLINE; EXIT_REASON_PREEMPTION_TIMER -> handle_fastpath_preemption_timer), arch/x86/kvm/svm/svm.c svm_exit_handlers_fastpath (MSR writes only)';
const est = (value: number, unit: 'cycles' | 'ns' | 'count' | 'ratio', source: string, estimate: string): CostFigure => ({ value, unit, source, estimate });
const pub = (value: number, unit: 'cycles' | 'ns' | 'count' | 'ratio', source: string): CostFigure => ({ value, unit, source });

/** KVM on a 2-socket Xeon Skylake-SP at 2.5 GHz, 2018-era kernel with APICv (the PV send-IPI patch's testbed). */
export const KVM_SKYLAKE_2018: CalibrationProfile = {
  name: 'kvm-skylake-2018',
  description: 'KVM on 2x Xeon Skylake-SP, 2.5 GHz, 40 cores / 80 threads, APICv, Linux 4.x guest and host (2018)',
  ghz: 2.5,
  // Intel: IPIv (VT-x IPI virtualization; Sapphire Rapids and later, Linux >= 5.19). The profile's
  // other costs are Skylake's; posted IPIs on it answer "what would IPIv do on this host".
  postedFlavour: 'ipiv',
  lapicTimer: 'preemption-timer',
  vendor: 'intel',
  costs: {
    ipiWireSmt: est(100, 'ns', PALLIPADI, 'no published per-distance native IPI latency on Skylake-SP; SMT siblings share the core, so the smallest of the three'),
    ipiWireSocket: est(200, 'ns', PALLIPADI, 'same-socket delivery on the mesh, ICR write to interrupt recognised, excluding handler entry'),
    ipiWireRemote: est(450, 'ns', PALLIPADI, 'cross-socket over UPI: Pallipadi measured ~400 more sender cycles across sockets; delivery adds a UPI hop both ways'),
    cacheLineSmt: est(20, 'ns', AMIT, 'siblings share L1/L2: an L2 hit'),
    cacheLineSocket: est(80, 'ns', AMIT, 'a core-to-core cache-line transfer within a socket (typical Skylake-SP figure)'),
    cacheLineRemote: est(200, 'ns', AMIT, 'a cross-socket cache-line transfer (typical Skylake-SP figure)'),
    smtCoreThroughput: est(1.25, 'ratio', SMT_GAIN, 'the middle of the published 15-30 % range for throughput workloads on Skylake-SP; no single measurement for the mix modelled here was found (an estimate, to be replaced by a cited per-microarchitecture figure)'),
    smtPauseShare: est(0.05, 'ratio', SMT_PAUSE, 'a poll or spin loop issues a handful of uops per PAUSE, which on Skylake-SP stalls the thread ~140 cycles: a few per cent of a busy thread\'s issue slots'),
    exitRoundTrip: pub(1_188, 'cycles', TR_RELOAD),
    apicWriteEmulation: est(1_200, 'cycles', TR_RELOAD, 'an in-kernel emulated exit (port I/O, 2,339-2,435 cycles) minus the trivial round trip (1,188): decoding and emulating one register write'),
    hypercallHandling: est(300, 'cycles', PV_SEND_IPI, 'dispatching kvm_pv_send_ipi and walking the 128-bit bitmap; a few hundred cycles'),
    deliverPerTarget: est(300, 'cycles', IPIV, 'IPIv vs no-IPIv differ by ~693 cycles for exit + decode + posting on the fastpath; posting alone is a fraction of that'),
    deliverTargetLines: est(3, 'count', KVM_SRC, 'code reading: vmx_deliver_posted_interrupt writes the pi_desc (PIR, ON); kvm_vcpu_kick reads vcpu->mode; kvm_vcpu_wake_up checks the vCPU wait queue. The target pCPU owns them, so each is a coherence miss'),
    postNotifySend: est(150, 'cycles', IPIV, 'a native x2APIC ICR WRMSR with its fences, sent by the host'),
    wakeBlockedSender: est(1_950, 'cycles', NO_PVIPI, 'the PV unicast sender cost (3,756 cycles, target idle) minus the round trip (1,188), hypercall handling (300) and posting (300): try_to_wake_up of the target thread'),
    hostWakeLatency: est(5_000, 'ns', HALT_POLL_DOC, '"a few micro-seconds" through the scheduler; dynamic halt polling saved ~7 us per TCP_RR transaction'),
    haltPollNotice: est(100, 'ns', HALT_POLL_DOC, 'a polling vCPU checks for pending events in a tight loop; one loop iteration plus the cache miss'),
    externalInterruptExit: pub(710, 'ns', TIMER_PI),
    injection: est(250, 'cycles', TR_RELOAD, 'writing the VM-entry interruption field and the extra entry checks, a small part of the round trip'),
    vcpuSwitch: est(3_000, 'ns', CFS, 'a host context switch plus vcpu_put/vcpu_load (VMCS switch) and cache refill; a few microseconds'),
    vcpuMigration: est(3_000, 'ns', KVM_VMCS, 'a synchronous cross-CPU function call to the old pCPU (VMCLEAR there), then VMPTRLD and the per-CPU state KVM reloads on a CPU change; a few microseconds, like a host context switch. The guest\'s cache refill afterwards is not included'),
    ipivSend: est(2_145, 'cycles', IPIV, 'derived: the exit-free send replaces exitRoundTrip + apicWriteEmulation + deliverPerTarget + postNotifySend (2,838 cycles here) and the measured round trip is 693 cycles shorter (4,337.85 - 3,644.8), so the processor\'s virtualized ICR write costs about 2,838 - 693 cycles'),
    incompleteIpiExit: est(1_200, 'cycles', TR_RELOAD, 'handling an AVIC incomplete-IPI exit in kernel: as an emulated APIC write'),
    preemptionTimerExit: est(1_500, 'cycles', VMX_PT, 'derived: ~2,400 cycles from deadline to guest handler with the preemption timer (3,200 - 800), less the injection (250 cycles) and the guest interrupt entry (250 ns = 625 cycles at 2.5 GHz) that the model charges apart: ~1,525, rounded to 1,500'),
    tscDeadlineWrite: est(1_188, 'cycles', KVM_FASTPATH, 'no published figure for the WRMSR fastpath; handled with interrupts off without leaving the vCPU run loop, like a vmcall: the vmcall round trip of TR_RELOAD'),
    pvFlushCheck: est(30, 'ns', PV_SEND_IPI, 'reading one per-vCPU steal-time line and setting a flag'),
    nativeIcrWrite: est(150, 'cycles', X2APIC_ICR, 'no published per-instruction figure for a WRMSR to the x2APIC ICR was found: a non-serializing WRMSR plus the MFENCE+LFENCE before it is on the order of 100-200 cycles on Skylake; the same figure as postNotifySend, which is the same operation done by the host'),
    idleExitLatency: pub(2_000, 'ns', `${INTEL_IDLE} (C1 used: the state an idle CPU of a busy machine enters)`),
    idleTargetResidency: pub(2_000, 'ns', `${INTEL_IDLE}; drivers/cpuidle/governors/menu.c selects the POLL state while the predicted idle time is below the first real state's target residency`),
    guestSendOverhead: pub(45, 'ns', `${PV_SEND_IPI}: self-IPI (run locally) send-to-handler 69 ns minus the dry-run's 24 ns`),
    guestPerTargetOverhead: est(30, 'ns', PV_SEND_IPI, 'instructions per destination in smp_call_function_many and the APIC ID lookup; the two cache misses (csd, queue head) are charged separately by distance'),
    interruptEntry: est(250, 'ns', AMIT, 'IDT vectoring, idtentry and irq_enter in the guest; ~half of the 250-500 ns native entry+exit+EOI+iret'),
    handlerBody: pub(81, 'ns', `${PV_SEND_IPI}: self-IPI total 150 ns minus send-to-handler 69 ns (the function, return and timestamp)`),
    benchLoopOverhead: pub(24, 'ns', `${PV_SEND_IPI}: dry-run 2,392,199 ns / 100,000`),
    contextSwitch: est(1_500, 'ns', CTXSW, 'a guest context switch without the wake-up; the published 2,493 ns per switch includes waking the other task'),
    migrationPenalty: est(10_000, 'ns', CTXSW, 'refilling ~256 KiB of L1/L2 working set at ~25 GB/s after a migration'),
    tickHandler: est(1_000, 'ns', TICK_SCHED, 'no published per-tick figure for a guest: the tick\'s bookkeeping (jiffies, process times, scheduler_tick, RCU callbacks check) taken as about one device top half'),
    deviceInterruptHandler: est(1_000, 'ns', TIMER_PI, 'a NIC-style top half: acknowledge, schedule NAPI/softirq; about one microsecond'),
    pauseLatency: pub(140, 'cycles', `${SKL_PAUSE}; the load and branch beside it are hidden under the PAUSE`),
    pteWrite: est(20, 'ns', AMIT, 'one locked store to a page-table line usually held by this core'),
    invlpg: est(250, 'cycles', AMIT, '"each INVLPG can take 100s of cycles"'),
    tlbFullFlush: est(400, 'cycles', AMIT, 'a CR3 write with PCID, or INVPCID single-context: a few hundred cycles before the refills'),
    tlbSinglePageFlushCeiling: pub(33, 'count', LINUX_MM),
    pageWalk: est(100, 'ns', AMIT, 'a 2-D walk (up to 24 references, mostly cache hits in the paging-structure caches) in a VM; ~2x a native walk'),
    nativePageWalk: est(50, 'ns', NESTED_PAGING, 'roughly half the 2-D pageWalk (100 ns): 4 references instead of up to 24, most of both served by the paging-structure caches'),
    tlbEntries: pub(1_536, 'count', SKYLAKE_STLB),
    pageFault: est(700, 'ns', AMIT, 'a minor fault in a guest with EPT (no exit): exception entry, handle_mm_fault, return'),
    pageCopy: est(400, 'ns', AMIT, '4 KiB at ~10 GB/s, cache-cold source'),
    hugeSplit: est(2_500, 'ns', LINUX_MM, '__split_huge_pmd: allocate a page-table page and write 512 PTEs at ~4 ns each, plus locking'),
    invlpgbPerPage: est(100, 'cycles', AMD_APM, 'no published latency; issuing is posted like a store'),
    tlbSync: est(1_000, 'ns', AMD_APM, 'no published latency; completion needs a round trip to every core, taken as a remote IPI round trip'),
    invlpgbOutstanding: est(8, 'count', RVR_INVLPGB, 'no published limit on concurrent broadcasts was found: the APM documents INVLPGB as broadcast to every processor and TLBSYNC as waiting for this processor\'s earlier INVLPGBs, but not how many the fabric accepts at once. 8 is a placeholder with no measurement behind it, small enough that the queue shows when many vCPUs broadcast at once; set it with calibration.overrides.invlpgbOutstanding to explore, and replace it when a figure is published'),
    lockAtomic: est(20, 'cycles', AGNER, 'the instruction-table latency of a locked RMW on an L1-resident line, rounded up; the coherence miss when the line is elsewhere is charged separately (cacheLine*)'),
    vmaChange: est(800, 'ns', LINUX_MMAP, 'a system call round trip (~100 ns) plus allocating or freeing a vm_area_struct and updating the maple tree (several cache misses); under a microsecond. Not fitted to will-it-scale'),
    pageZero: est(200, 'ns', AMIT, 'a 4 KiB clear_page (REP STOSB) at ~20 GB/s of store bandwidth: half the copy (pageCopy), which reads as well as writes'),
    lruPerPage: est(40, 'ns', LINUX_LRU, 'list_del/list_add of one folio\'s lru entry (the folio and its two neighbours: a cache miss or two, mostly hits in a batch) plus the lruvec statistics update'),
  },
};

/** KVM on a 2-socket AMD EPYC 7642 (Rome) at 2.3 GHz with AVIC, 2021 (the no-kvm-pvipi thread's testbed). */
export const KVM_EPYC_2021: CalibrationProfile = {
  name: 'kvm-epyc-2021',
  description: 'KVM on 2x AMD EPYC 7642 (Rome), 2.3 GHz, 96 cores / 192 threads, AVIC, Linux 5.x (2021)',
  ghz: 2.3,
  postedFlavour: 'avic',
  lapicTimer: 'hrtimer',
  vendor: 'amd',
  costs: {
    ...KVM_SKYLAKE_2018.costs,
    ipiWireSocket: est(250, 'ns', PALLIPADI, 'same socket on Rome crosses CCDs through the I/O die more often than not; the Skylake figure plus a hop'),
    ipiWireRemote: est(550, 'ns', PALLIPADI, 'cross socket over Infinity Fabric; the Skylake figure plus ~100 ns'),
    cacheLineSmt: est(20, 'ns', AMIT, 'siblings share L1/L2: an L2 hit'),
    cacheLineSocket: est(110, 'ns', AMIT, 'cross-CCD transfer within a Rome socket (typical figure)'),
    cacheLineRemote: est(250, 'ns', AMIT, 'cross-socket transfer on Rome (typical figure)'),
    // vmmcall round trip on Zen 2 taken as the Skylake vmcall figure (no Zen 2 kvm-unit-tests figure found).
    exitRoundTrip: est(1_188, 'cycles', TR_RELOAD, 'no Zen 2 vmexit figure was found; the Skylake vmcall round trip is used'),
    ipivSend: pub(2_219, 'cycles', NO_PVIPI),
    idleExitLatency: est(2_000, 'ns', INTEL_IDLE, 'no Zen 2 C1 exit latency was found (AMD processors take their C-states from ACPI _CST); the Skylake-SP C1 figure is used'),
    idleTargetResidency: est(2_000, 'ns', INTEL_IDLE, 'as idleExitLatency: the Skylake-SP C1 target residency'),
    tlbEntries: pub(2_048, 'count', 'AMD Software Optimization Guide for Family 17h (Zen 2): 2,048-entry L2 DTLB'),
    pauseLatency: est(140, 'cycles', SKL_PAUSE, 'no Zen 2 PAUSE latency was found in a citable source; the Skylake figure is used (an estimate, to be replaced by a measured Zen 2 figure)'),
  },
};

/** The built-in profiles by name (`calibration.profile`). */
export const CALIBRATION_PROFILES: Readonly<Record<string, CalibrationProfile>> = {
  [KVM_SKYLAKE_2018.name]: KVM_SKYLAKE_2018,
  [KVM_EPYC_2021.name]: KVM_EPYC_2021,
};

/** The built-in profile named `name`; an error listing the known ones otherwise. */
export function calibrationProfile(name: string): CalibrationProfile {
  const p = Object.hasOwn(CALIBRATION_PROFILES, name) ? CALIBRATION_PROFILES[name] : undefined;
  if (p === undefined) {
    throw new InvalidParameterError('calibration.profile', name, `one of ${Object.keys(CALIBRATION_PROFILES).map((n) => JSON.stringify(n)).join(', ')}`);
  }
  return p;
}
