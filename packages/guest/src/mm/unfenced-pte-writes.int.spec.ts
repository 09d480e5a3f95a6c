import type { ModelEvent } from '@ipilab/events';
import type { Vcpu } from '@ipilab/vcpu';
import { ROUND_ROBIN, addVm, rig, vmSpec } from '../../test/harness';
import { InjectedFaultError, MemoryManager, SynchronousShootdown } from '../index';

function setup(dropIpiFence: boolean) {
  const r = rig({ config: { ...ROUND_ROBIN, timeSliceNs: 1_000_000 } });
  const { vm, kernel } = addVm(r, 'trap', vmSpec(2, 'x2apic-physical', { pv: { tlbFlush: false } }));
  const mm = new MemoryManager(r.hv, vm, kernel, { strategy: new SynchronousShootdown(), faults: { dropIpiFence } });
  const s = mm.createSpace('p');
  mm.populate(s, 0, 4);
  const [v0, v1] = [vm.vcpu(0), vm.vcpu(1)];
  mm.switchTo(v0, s);
  mm.switchTo(v1, s);
  return { r, kernel, mm, s, v0, v1 };
}

/** `v` does `access` every 20 ns of work until `stop()` says so, then once more; `done` after. */
function loop(v: Vcpu, access: (next: () => void) => void, stop: () => boolean, done: () => void = () => undefined): void {
  const step = (): void => {
    const last = stop();
    access(() => (last ? done() : v.pushWork(20, step)));
  };
  v.pushWork(0, step);
}

describe('dropIpiFence: the PTE write is not ordered before the shootdown IPI', () => {
  /**
   * The smallest case: vCPU 0 remaps page 1 while vCPU 1 reads it in a loop. vCPU 1's IPI handler
   * invalidates its entry; its next read walks the page table before vCPU 0's write is visible to
   * it and refills the old translation, which it uses again once the shootdown has completed.
   */
  const remapWhileReading = (dropIpiFence: boolean) => {
    const { r, mm, s, v0, v1 } = setup(dropIpiFence);
    const oldFrame = s.translate(1)!.frame;
    let remapped = -1;
    const stale: ModelEvent[] = [];
    r.sink.subscribe((e) => stale.push(e), ['stale-tlb-use']);
    loop(v1, (next) => mm.read(v1, 1, () => next()), () => remapped >= 0);
    v0.pushWork(5_000, () => mm.remap(v0, s, [1], () => (remapped = r.sim.now)));
    r.hv.start();
    r.sim.run({ until: 1_000_000 });
    expect(remapped).toBeGreaterThan(0);
    return { mm, s, oldFrame, remapped, stale, tlbFrame: mm.tlb(v1).lookup(s.id, 1)?.frame };
  };

  it('with the fence (the default), the target refills the new translation: no stale use', () => {
    const { mm, s, stale, tlbFrame } = remapWhileReading(false);
    expect(mm.unfenced).toBeUndefined();
    expect(mm.staleUses).toEqual([]);
    expect(mm.staleEntries()).toEqual([]);
    expect(stale).toEqual([]);
    expect(tlbFrame).toBe(s.translate(1)!.frame);
  });

  it('without it, the target refills the old translation after its flush and uses it after the shootdown completed', () => {
    const { mm, s, oldFrame, remapped, stale, tlbFrame } = remapWhileReading(true);
    expect(tlbFrame).toBe(oldFrame);
    expect(tlbFrame).not.toBe(s.translate(1)!.frame);
    expect(mm.staleUses.length).toBeGreaterThan(0);
    const u = mm.staleUses[0]!;
    expect(u).toMatchObject({ vcpu: 1, space: 'p', vpn: 1, committed: u.version + 1 });
    expect(u.at).toBeGreaterThanOrEqual(remapped);
    expect(stale[0]).toEqual({ type: 'stale-tlb-use', t: u.at, vcpu: { vm: 0, vcpu: 1 }, space: 'p', page: 1, version: u.version, committed: u.committed });
    expect(mm.staleEntries()).toMatchObject([{ vcpu: 1, space: 'p', vpn: 1, since: remapped }]);
    // Every write became visible at the end of the shootdown wait.
    expect(mm.unfenced!.size).toBe(0);
    expect(mm.lockReport().staleTlbUses).toBe(mm.staleUses.length);
  });

  it('the initiator sees its own write at once (store forwarding), and others see it once its shootdown wait ends', () => {
    const { r, mm, s, v0, v1 } = setup(true);
    const seen: Record<string, number | undefined> = {};
    v0.pushWork(0, () =>
      mm.remap(v0, s, [2], () => {
        seen['othersAfterDone'] = mm.unfenced!.hiding(v1.index, s, 2)?.version;
      }),
    );
    // Right after the PTE write (the remap's mutate), before the shootdown completes.
    const mutate = s.mapSmall.bind(s);
    s.mapSmall = (vpn, frame, writable) => {
      mutate(vpn, frame, writable);
      r.sim.schedule(0, () => {
        seen['initiator'] = mm.unfenced!.hiding(v0.index, s, 2)?.version ?? -1;
        seen['others'] = mm.unfenced!.hiding(v1.index, s, 2)?.version;
      });
    };
    r.hv.start();
    r.sim.run({ until: 1_000_000 });
    expect(seen).toEqual({ initiator: -1, others: 1, othersAfterDone: undefined });
  });

  it('a write fault on a page whose change is still hidden is spurious: it takes the page-table lock and retries', () => {
    // vCPU 0 makes page 3 read-only (fork's write-protect), then writable again in a fresh frame
    // (a copy-on-write fault), while vCPU 1 writes page 3 in a loop.
    const { r, mm, s, v0, v1 } = setup(true);
    let forked = false;
    let cowed = false;
    let writes = 0;
    v0.pushWork(0, () =>
      mm.fork(v0, s, 'child', () => {
        forked = true;
        mm.write(v0, 3, 42, () => (cowed = true));
      }),
    );
    loop(v1, (next) => mm.write(v1, 3, ++writes, next), () => cowed);
    r.hv.start();
    r.sim.run({ until: 2_000_000 });
    expect([forked, cowed]).toEqual([true, true]);
    // vCPU 1's last write went to the page its space now maps, not to a frame left behind.
    expect(mm.peek(s, 3)).toBe(writes);
    expect(writes).toBeGreaterThan(10);
  });

  it('a write through a stale read-only entry stops the run with an error that names the dropped fence', () => {
    // vCPU 1 reads page 3 in a loop while vCPU 0 copies it on write (read-only -> writable): vCPU 1
    // refills the old read-only entry during the shootdown, then writes through it after it.
    const { r, mm, s, v0, v1 } = setup(true);
    let cowed = false;
    v0.pushWork(0, () => mm.fork(v0, s, 'child', () => mm.write(v0, 3, 42, () => (cowed = true))));
    loop(v1, (next) => mm.read(v1, 3, () => next()), () => cowed, () => mm.write(v1, 3, 7, () => undefined));
    r.hv.start();
    let thrown: unknown;
    try {
      r.sim.run({ until: 2_000_000 });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(InjectedFaultError);
    expect(String((thrown as Error).message)).toMatch(/^vCPU 1 used a stale translation of p page 3 at \d+ ns: a write through a read-only entry .* \(vms\[0\]\.faults\.dropIpiFence: the fence between the page-table write and the shootdown IPI was dropped by fault injection/);
  });
});
