/**
 * Every per-operation cost the model uses. A profile gives each one a value, a unit and a
 * source; the model sees them resolved to integer ns (`Costs`). Macro behaviour — broadcast
 * cost, overcommit collapse, interference — is never a field here: it comes from mechanisms.
 */
export const COST_FIELDS = {
  // ---- host: the physical interrupt fabric and caches
  ipiWireSmt: 'physical IPI, ICR write to interrupt recognised, between SMT siblings',
  ipiWireSocket: 'physical IPI between cores of one socket',
  ipiWireRemote: 'physical IPI between sockets',
  cacheLineSmt: 'a cache line written by one SMT thread read by its sibling (shared L1/L2)',
  cacheLineSocket: 'a cache line written on one core read by another core of the same socket (coherence miss)',
  cacheLineRemote: 'a written cache line becoming visible to a core of another socket',
  smtCoreThroughput: 'throughput of one core with both SMT threads busy, relative to one thread running alone on it (a ratio, 1 to 2): each busy thread then runs at this / 2 of its solo speed',
  smtPauseShare: 'how much of a full thread\'s share of the core a sibling running a PAUSE loop (guest spin, KVM halt polling) takes (a ratio, 0 to 1)',
  // ---- hypervisor
  exitRoundTrip: 'a trivial VM exit and re-entry (vmcall), world switch only',
  apicWriteEmulation: 'decoding and emulating a trapped APIC register (ICR) write in the kernel, beyond the round trip',
  hypercallHandling: 'decoding a PV send-IPI / TLB-flush hypercall, beyond the round trip',
  deliverPerTarget: 'host instructions per destination: look up the vCPU, set IRR or PIR (kvm_apic_set_irq), decide how to notify',
  deliverTargetLines: 'cache lines of the target vCPU the host writes or reads per destination (posted-interrupt descriptor, vcpu->mode/requests, wait queue): a count, each costing a cache-line transfer',
  postNotifySend: 'host sends the posted-interrupt notification IPI to a running target (native ICR write)',
  wakeBlockedSender: 'host cost, on the sender, of waking a blocked vCPU thread (try_to_wake_up)',
  hostWakeLatency: 'from that wake-up until the woken vCPU thread runs on its idle pCPU',
  haltPollNotice: 'a halt-polling vCPU noticing a pending interrupt and re-entering',
  externalInterruptExit: 'exit and re-entry forced on a running target by a kick when interrupts are not posted',
  injection: 'injecting a pending interrupt on VM entry',
  vcpuSwitch: 'switching a pCPU from one vCPU to another (host context switch + VMCS/VMCB load)',
  vcpuMigration: 'a vCPU thread moving to another pCPU, beyond the switch: clearing its VMCS on the old pCPU by a cross-CPU call and loading it on the new one',
  ipivSend: 'sender cost of an exit-less unicast IPI with hardware IPI virtualization: the virtualized ICR write (IPIv on Intel profiles, AVIC on AMD ones)',
  incompleteIpiExit: 'AVIC/IPIv exit taken when a destination is not running, so the host can wake it, beyond the round trip',
  preemptionTimerExit: 'the VMX preemption timer expiring in guest mode (the guest\'s TSC-deadline timer is due): exit, fastpath handling, re-entry; the injection is charged apart',
  tscDeadlineWrite: 'the guest programming its TSC-deadline timer: the WRMSR exit, fastpath emulation (re-arming the preemption timer or hrtimer) and re-entry',
  pvFlushCheck: 'guest reads one target vCPU\'s preempted flag and sets flush-on-entry (PV TLB flush)',
  // ---- bare metal (hypervisor.mode: bare-metal): the same CPU with no hypervisor
  nativeIcrWrite: 'bare metal: one write of the interrupt command register by the sending CPU (x2APIC ICR WRMSR with its fence, or one xAPIC ICR/ICR2 store)',
  idleExitLatency: 'bare metal: an idle CPU in C1 (MWAIT) woken by an interrupt, until it runs again (the C-state exit latency)',
  idleTargetResidency: 'bare metal: the idle governor enters C1 only when it expects the CPU to stay idle at least this long; shorter expected idle polls (no exit latency)',
  // ---- guest
  guestSendOverhead: 'guest-side cost of one cross-call send (csd set-up, mask walk), per call',
  guestPerTargetOverhead: 'guest-side cost per destination in the send loop (queue the csd, pick the APIC ID)',
  interruptEntry: 'guest: interrupt recognised to handler running (IDT entry, irq_enter)',
  handlerBody: 'guest: the call-function handler, EOI and return',
  benchLoopOverhead: 'the IPI microbenchmark\'s per-iteration overhead with no IPI (its dry-run mode)',
  contextSwitch: 'guest: switching from one task to another on a vCPU (schedule(), switch_mm with PCID)',
  migrationPenalty: 'guest: cache and TLB refill a task pays after moving to another vCPU',
  tickHandler: 'guest: the scheduler tick\'s work in the local-timer interrupt (tick_sched_timer: jiffies, update_process_times, scheduler_tick, RCU), beyond interrupt entry',
  deviceInterruptHandler: 'guest: a device interrupt handler (top half) before it wakes its consumer',
  pauseLatency: 'one iteration of a spin loop, a PAUSE (cpu_relax) and the load it re-checks: what the paravirtual qspinlock\'s SPIN_THRESHOLD (1 << 15) iterations and an AMD pause-filter count are worth in time',
  // ---- guest memory management
  pteWrite: 'guest: changing one page-table entry (a locked store to a cache line of the page table)',
  invlpg: 'invalidating one page in the local TLB (INVLPG)',
  tlbFullFlush: 'flushing the local TLB (CR3 write / INVPCID single-context), not counting the refills it causes',
  tlbSinglePageFlushCeiling: 'above this many pages a flush invalidates the whole TLB instead of page by page (Linux tlb_single_page_flush_ceiling); a count',
  pageWalk: 'a TLB miss: the two-dimensional (guest x EPT/NPT) page walk that refills the entry',
  nativePageWalk: 'a TLB miss on bare metal: the one-dimensional page walk that refills the entry',
  tlbEntries: 'entries in a vCPU\'s TLB (second-level TLB size); a count',
  pageFault: 'guest page-fault entry, handling and return for a minor (CoW) fault, without the copy',
  pageCopy: 'copying one 4 KiB page',
  hugeSplit: 'splitting one 2 MiB mapping into 512 4 KiB entries (allocate a page-table page, write 512 PTEs)',
  invlpgbPerPage: 'issuing a broadcast invalidation (AMD INVLPGB) for one page',
  tlbSync: 'waiting for broadcast invalidations to complete everywhere (AMD TLBSYNC)',
  invlpgbOutstanding: 'INVLPGB+TLBSYNC sequences the host\'s processors may have in flight at once, host-wide; further ones wait for one to complete; a count',
  // ---- guest memory-manager locks (mmap_lock, split page-table locks, the LRU lock)
  lockAtomic: 'guest: one atomic read-modify-write (LOCK CMPXCHG / XADD) on a lock word whose cache line this vCPU already holds: an uncontended acquire or release of a spinlock or rwsem; a line held elsewhere adds a cache-line transfer',
  vmaChange: 'guest: the VMA work of one mmap or munmap system call done under mmap_lock (entry and exit, vm_area_struct allocation or removal, maple-tree update), page tables not included',
  pageZero: 'guest: clearing a freshly allocated 4 KiB page (clear_page) in a first-touch anonymous fault',
  lruPerPage: 'guest: work per page under the LRU lock (lruvec->lru_lock): linking a new folio onto the LRU list or unlinking a freed one, with its lruvec counters',
} as const;

/** The name of a cost field (a key of `COST_FIELDS`). */
export type CostName = keyof typeof COST_FIELDS;
/** Every cost field's name, in `COST_FIELDS`' order. */
export const COST_NAMES = Object.keys(COST_FIELDS) as CostName[];

/** Resolved costs, integer ns (the count fields: deliverTargetLines, tlbSinglePageFlushCeiling, tlbEntries, invlpgbOutstanding; the ratio: smtCoreThroughput). */
export type Costs = { readonly [K in CostName]: number };
