import { InvalidParameterError, KernelError } from '@ipilab/core';
import type { Costs } from '@ipilab/calibration';
import type { Hypervisor, Vm } from '@ipilab/hypervisor';
import type { Vcpu } from '@ipilab/vcpu';
import type { GuestKernel } from '../guest-kernel';
import { AddressSpace, PAGES_PER_HUGE } from './address-space';
import type { ShootdownRequest, ShootdownStrategy } from './shootdown-strategy';
import { Tlb } from './tlb';

/** Who sends a VM's shootdowns: any vCPU for itself (SMP), or one master vCPU for all (AMP). */
export type Coordination = 'smp' | 'amp';

export interface MemoryManagerOptions {
  readonly strategy: ShootdownStrategy;
  readonly coordination?: Coordination;
  /** The AMP master vCPU (default 0). */
  readonly master?: number;
}

/** A use of a translation that a completed shootdown should have removed. */
export interface StaleUse {
  readonly vcpu: number;
  readonly space: string;
  readonly vpn: number;
  readonly at: number;
}

interface AmpRequest {
  readonly req: ShootdownRequest;
  readonly done: () => void;
}

/**
 * The guest's memory management for one VM: address spaces, one TLB per vCPU, accesses that
 * hit or walk, page-table changes followed by a shootdown through the VM's strategy and
 * coordination mode, copy-on-write after fork, and huge-page splits.
 *
 * It also keeps the book the laws check: every TLB entry remembers the model version it was
 * read at, every completed shootdown commits the version of its change, and a hit on an entry
 * older than its page's committed version is recorded as a stale use.
 */
export class MemoryManager {
  readonly costs: Costs;
  /** What a TLB miss costs here: a 2-D walk (guest x EPT/NPT) in a VM, a 1-D walk on bare metal. */
  readonly pageWalkNs: number;
  readonly tlbs: Tlb[];
  /** Address space each vCPU currently runs (its loaded CR3), if any. */
  readonly current: (AddressSpace | null)[];
  readonly spaces: AddressSpace[] = [];
  readonly staleUses: StaleUse[] = [];
  readonly coordination: Coordination;
  readonly master: Vcpu;
  readonly strategy: ShootdownStrategy;
  /** Frame contents, to check that after copy-on-write each process sees its own copy. */
  private readonly data = new Map<number, number>();
  private readonly cow = new Map<AddressSpace, Set<number>>();
  private nextFrame = 1;
  private version = 0;
  private readonly ampQueue: AmpRequest[] = [];
  private ampBusy = false;
  shootdowns = 0;

  constructor(
    readonly hv: Hypervisor,
    readonly vm: Vm,
    readonly kernel: GuestKernel,
    options: MemoryManagerOptions,
  ) {
    this.costs = hv.costs;
    this.pageWalkNs = hv.config.mode === 'bare-metal' ? hv.costs.nativePageWalk : hv.costs.pageWalk;
    this.strategy = options.strategy;
    this.coordination = options.coordination ?? 'smp';
    if (this.coordination !== 'smp' && this.coordination !== 'amp') {
      throw new InvalidParameterError(`vms[${vm.index}].coordination`, this.coordination, '"smp" or "amp"');
    }
    const master = options.master ?? 0;
    if (!(Number.isSafeInteger(master) && master >= 0 && master < vm.vcpus.length)) {
      throw new InvalidParameterError(`vms[${vm.index}].master`, master, `a vCPU index in [0, ${vm.vcpus.length - 1}]`);
    }
    this.master = vm.vcpu(master);
    this.tlbs = vm.vcpus.map(() => new Tlb(this.costs.tlbEntries));
    this.current = vm.vcpus.map(() => null);
    // KVM_VCPU_FLUSH_TLB: the host flushes a vCPU's whole TLB when it next enters.
    const previous = hv.onFlushOnEntry;
    hv.onFlushOnEntry = (v) => {
      if (v.vm === vm.index) this.flushAllOn(v);
      else previous(v);
    };
  }

  // ---- set-up ----------------------------------------------------------------------------------

  createSpace(name: string): AddressSpace {
    const s = new AddressSpace(this.spaces.length + 1, name);
    this.spaces.push(s);
    this.cow.set(s, new Set());
    return s;
  }

  /** Maps fresh frames (writable) for pages [first, first + count), no flush needed. */
  populate(space: AddressSpace, first: number, count: number): void {
    for (let vpn = first; vpn < first + count; vpn++) space.mapSmall(vpn, this.nextFrame++, true);
  }

  /** Maps fresh 2 MiB pages at huge indexes [first, first + count). */
  populateHuge(space: AddressSpace, firstHuge: number, count: number): void {
    for (let h = firstHuge; h < firstHuge + count; h++) {
      space.mapHuge(h, this.nextFrame, true);
      this.nextFrame += PAGES_PER_HUGE;
    }
  }

  /** Context switch: `v` now runs `space` (PCID-tagged: no flush). */
  switchTo(v: Vcpu, space: AddressSpace): void {
    this.current[v.index] = space;
    space.cpuMask.add(v.index);
  }

  tlb(v: Vcpu): Tlb {
    return this.tlbs[v.index]!;
  }

  // ---- accesses --------------------------------------------------------------------------------

  /**
   * One access by `v` to `vpn` of the space it runs. Returns its cost (0 on a TLB hit, a page
   * walk on a miss) or -1 when it faults (not present, or a write to a read-only page).
   */
  touch(v: Vcpu, vpn: number, write: boolean): number {
    const space = this.current[v.index];
    if (space === null || space === undefined) throw new KernelError(`vCPU ${v.index} accesses memory with no address space loaded`);
    const tlb = this.tlbs[v.index]!;
    const e = tlb.lookup(space.id, vpn);
    if (e !== undefined) {
      const committed = space.committed.get(vpn);
      if (committed !== undefined && e.version < committed) {
        this.staleUses.push({ vcpu: v.index, space: space.name, vpn, at: this.hv.sim.now });
      }
      return write && !e.writable ? -1 : 0;
    }
    const t = space.translate(vpn);
    if (t === undefined || (write && !t.writable)) return -1;
    tlb.fill(space.id, vpn, { frame: t.frame, writable: t.writable, huge: t.huge, version: this.version });
    space.cpuMask.add(v.index);
    return this.pageWalkNs;
  }

  /** Reads `vpn` as guest work on `v`; `done(value)` with the value its frame holds. */
  read(v: Vcpu, vpn: number, done: (value: number) => void): void {
    const cost = this.touch(v, vpn, false);
    if (cost < 0) throw new KernelError(`vCPU ${v.index} read unmapped page ${vpn} of ${this.current[v.index]!.name}`);
    const space = this.current[v.index]!;
    v.pushWork(cost, () => done(this.data.get(space.translate(vpn)!.frame) ?? 0));
  }

  /** Writes `value` to `vpn`, taking a copy-on-write fault first if the page is shared. */
  write(v: Vcpu, vpn: number, value: number, done: () => void): void {
    const space = this.current[v.index]!;
    const cost = this.touch(v, vpn, true);
    if (cost >= 0) {
      v.pushWork(cost, () => {
        this.data.set(space.translate(vpn)!.frame, value);
        done();
      });
      return;
    }
    if (!this.cow.get(space)!.has(vpn) && !this.isHugeCow(space, vpn)) {
      const last = this.staleUses[this.staleUses.length - 1];
      if (last !== undefined && last.vcpu === v.index && last.vpn === vpn && last.at === this.hv.sim.now) {
        throw new KernelError(`vCPU ${v.index} used a stale translation of ${space.name} page ${vpn} at ${last.at} ns: a write through a read-only entry a completed shootdown should have removed`);
      }
      throw new KernelError(`vCPU ${v.index} wrote read-only page ${vpn} of ${space.name}`);
    }
    this.cowFault(v, space, vpn, () => this.write(v, vpn, value, done));
  }

  // ---- page-table changes ---------------------------------------------------------------------

  /**
   * Changes PTEs of `space` as guest work on `initiator` (`mutate` applies them), then removes
   * the old translations from every TLB with the VM's strategy and coordination. `done` once
   * the shootdown completed: from then on no vCPU may use an old translation.
   */
  changePtes(initiator: Vcpu, space: AddressSpace, vpns: readonly number[], mutate: () => void, done: () => void): void {
    initiator.pushWork(this.costs.pteWrite * vpns.length, () => {
      mutate();
      const version = ++this.version;
      this.shootdown({ initiator, space, vpns, version }, () => {
        space.commit(vpns, version);
        done();
      });
    });
  }

  /** Remaps each page to a fresh frame (as munmap + mmap, or page migration would). */
  remap(initiator: Vcpu, space: AddressSpace, vpns: readonly number[], done: () => void): void {
    this.changePtes(initiator, space, vpns, () => {
      for (const vpn of vpns) {
        const t = space.translate(vpn);
        space.mapSmall(vpn, this.nextFrame++, t?.writable ?? true);
      }
    }, done);
  }

  /** Unmaps pages (munmap): their frames may be reused once `done` runs. */
  unmap(initiator: Vcpu, space: AddressSpace, vpns: readonly number[], done: () => void): void {
    this.changePtes(initiator, space, vpns, () => {
      for (const vpn of vpns) space.unmapSmall(vpn);
    }, done);
  }

  /**
   * fork(): the child shares every frame read-only; the parent's entries are write-protected
   * too (copy_page_range), and the parent's TLBs flushed (dup_mmap's flush_tlb_mm).
   */
  fork(initiator: Vcpu, parent: AddressSpace, childName: string, done: (child: AddressSpace) => void): void {
    const child = this.createSpace(childName);
    const small = parent.smallPages();
    const huge = parent.hugePages();
    const vpns = [...small.map(([vpn]) => vpn), ...huge.flatMap(([h]) => Array.from({ length: PAGES_PER_HUGE }, (_, i) => h * PAGES_PER_HUGE + i))];
    // Copying a PTE and write-protecting the parent's: two PTE writes per mapping.
    initiator.pushWork(this.costs.pteWrite * (small.length + huge.length), () =>
      this.changePtes(initiator, parent, vpns, () => {
        for (const [vpn, frame] of small) {
          parent.mapSmall(vpn, frame, false);
          child.mapSmall(vpn, frame, false);
          this.cow.get(parent)!.add(vpn);
          this.cow.get(child)!.add(vpn);
        }
        for (const [h, frame] of huge) {
          parent.mapHuge(h, frame, false);
          child.mapHuge(h, frame, false);
          this.cow.get(parent)!.add(-1 - h);
          this.cow.get(child)!.add(-1 - h);
        }
      }, () => done(child)),
    );
  }

  /**
   * A write to a shared page: fault, copy the page into a fresh frame, remap the writer's page
   * writable and shoot down the old read-only entry wherever the writer's space is cached.
   * A shared huge page is split first.
   */
  private cowFault(v: Vcpu, space: AddressSpace, vpn: number, retry: () => void): void {
    const h = Math.floor(vpn / PAGES_PER_HUGE);
    if (space.isHuge(h)) {
      this.splitHuge(v, space, h, () => retry());
      return;
    }
    v.pushWork(this.costs.pageFault + this.costs.pageCopy, () => {
      const old = space.translate(vpn)!;
      const frame = this.nextFrame++;
      this.data.set(frame, this.data.get(old.frame) ?? 0);
      this.changePtes(v, space, [vpn], () => {
        // Re-checked under the page-table lock: a racing fault may have copied it already.
        if (!this.cow.get(space)!.has(vpn)) return;
        space.mapSmall(vpn, frame, true);
        this.cow.get(space)!.delete(vpn);
      }, retry);
    });
  }

  private isHugeCow(space: AddressSpace, vpn: number): boolean {
    return this.cow.get(space)!.has(-1 - Math.floor(vpn / PAGES_PER_HUGE));
  }

  /**
   * Splits a 2 MiB mapping into 512 small ones (same frames, same permission; a shared huge
   * page's small pages stay copy-on-write), then shoots down the huge entry everywhere.
   */
  splitHuge(initiator: Vcpu, space: AddressSpace, hugeVpn: number, done: () => void): void {
    if (!space.isHuge(hugeVpn)) throw new InvalidParameterError('hugeVpn', hugeVpn, `a huge mapping of ${space.name}`);
    const vpns = Array.from({ length: PAGES_PER_HUGE }, (_, i) => hugeVpn * PAGES_PER_HUGE + i);
    initiator.pushWork(this.costs.hugeSplit, () =>
      this.changePtes(initiator, space, vpns, () => {
        // Re-checked under the page-table lock: another vCPU may have split it meanwhile.
        if (!space.isHuge(hugeVpn)) return;
        const t = space.translate(vpns[0]!)!;
        const cow = this.cow.get(space)!;
        const wasCow = cow.delete(-1 - hugeVpn);
        space.unmapHuge(hugeVpn);
        vpns.forEach((vpn, i) => {
          space.mapSmall(vpn, t.frame + i, t.writable);
          if (wasCow) cow.add(vpn);
        });
      }, done),
    );
  }

  // ---- shootdowns ------------------------------------------------------------------------------

  /** Runs a shootdown per the VM's coordination: directly (SMP) or through the master (AMP). */
  shootdown(req: ShootdownRequest, finished: () => void): void {
    const id = this.shootdowns++;
    const sink = this.hv.sink;
    const start = this.hv.sim.now;
    let done = finished;
    if (sink.wants['shootdown-begin']) sink.emit({ type: 'shootdown-begin', t: start, id, vcpu: req.initiator.ref, pages: req.vpns.length, strategy: this.strategy.name });
    if (sink.wants['shootdown-end']) {
      done = () => {
        sink.emit({ type: 'shootdown-end', t: this.hv.sim.now, id, vcpu: req.initiator.ref, duration: this.hv.sim.now - start });
        finished();
      };
    }
    if (this.coordination === 'smp' || req.initiator === this.master) {
      this.strategy.flush(this, req, done);
      return;
    }
    // AMP: hand the request to the master with an IPI, then spin until the master reports.
    const requester = req.initiator;
    let reported = false;
    let spin: { release(): void } | undefined;
    const report = (): void => {
      reported = true;
      spin?.release();
    };
    this.kernel.crossCall(requester, [this.master], () => {
      if (reported) {
        requester.pushWork(this.hv.fabric.cacheLine(requester.pcpu, this.master.pcpu), done);
        return;
      }
      spin = requester.pushSpin(() => requester.pushWork(this.hv.fabric.cacheLine(requester.pcpu, this.master.pcpu), done));
    }, undefined, {
      cost: () => this.costs.handlerBody,
      run: () => this.ampQueue.push({ req: { ...req, initiator: this.master }, done: report }),
      after: () => this.ampProcess(),
    });
  }

  /** The master works through queued requests one at a time: the serial bottleneck of AMP. */
  private ampProcess(): void {
    if (this.ampBusy) return;
    const next = this.ampQueue.shift();
    if (next === undefined) return;
    this.ampBusy = true;
    this.master.pushWork(0, () =>
      this.strategy.flush(this, next.req, () => {
        next.done();
        this.ampBusy = false;
        this.ampProcess();
      }),
    );
  }

  /** Cost of invalidating `pages` pages in one TLB: page by page, or a full flush above the ceiling. */
  invalidateCost(pages: number): number {
    return pages > this.costs.tlbSinglePageFlushCeiling ? this.costs.tlbFullFlush : this.costs.invlpg * pages;
  }

  /** Invalidates `vpns` of `space` in `v`'s TLB now; returns the cost to charge. */
  invalidateOn(v: Vcpu, space: AddressSpace, vpns: readonly number[]): number {
    const tlb = this.tlbs[v.index]!;
    if (vpns.length > this.costs.tlbSinglePageFlushCeiling) {
      tlb.flushAsid(space.id);
      // Nothing of the space is cached here any more: leave its cpumask unless running it.
      if (this.current[v.index] !== space) space.cpuMask.delete(v.index);
    } else {
      for (const vpn of vpns) tlb.invalidatePage(space.id, vpn);
    }
    return this.invalidateCost(vpns.length);
  }

  private flushAllOn(v: Vcpu): void {
    this.tlbs[v.index]!.flushAll();
    for (const s of this.spaces) if (this.current[v.index] !== s) s.cpuMask.delete(v.index);
  }

  /**
   * Entries, anywhere, that a completed shootdown should have removed and that a vCPU could
   * still use: none may exist except on vCPUs whose flush is deferred to their next entry.
   */
  staleEntries(): { vcpu: number; space: string; vpn: number }[] {
    const out: { vcpu: number; space: string; vpn: number }[] = [];
    for (const v of this.vm.vcpus) {
      if (this.hv.hasFlushOnEntry(v)) continue;
      for (const s of this.spaces) {
        for (const [vpn, committed] of s.committed) {
          const e = this.tlbs[v.index]!.lookup(s.id, vpn);
          if (e !== undefined && e.version < committed) out.push({ vcpu: v.index, space: s.name, vpn });
        }
      }
    }
    return out;
  }

  /** The value `space` sees at `vpn` (for checks; no cost, no TLB). */
  peek(space: AddressSpace, vpn: number): number {
    const t = space.translate(vpn);
    return t === undefined ? NaN : (this.data.get(t.frame) ?? 0);
  }
}
