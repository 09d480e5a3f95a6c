import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadScenario, runScenario } from './index';

/** Writes a scenario object to a temporary YAML file. */
function file(obj: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'ipilab-clock-'));
  const f = join(dir, 's.yaml');
  writeFileSync(f, stringify(obj));
  return f;
}

/** One VM on a host, under the default profile (kvm-skylake-2018, measured at 2.5 GHz). */
const oneVm = (workload: Record<string, unknown>, vcpus = 4, duration = '5ms') => ({
  host: { preset: 'skylake-2s-80t' },
  hypervisor: { backend: 'trap' },
  vms: [{ name: 'vm', vcpus, workload }],
  run: { duration, seed: 3 },
});

/** The VM's figure of merit with `sets` applied on top of the scenario. */
function figure(obj: unknown, sets: string[] = []): number {
  const out = runScenario(loadScenario(file(obj), sets));
  return out.vms['vm']!.primary.value;
}

describe('the host clock rate (host.ghz)', () => {
  it('a compute VM progresses in proportion to the host clock: 1.0 < 2.5 < 5.0 GHz', () => {
    const s = oneVm({ kind: 'compute', unitNs: 10_000 });
    const [slow, base, fast] = [1.0, 2.5, 5.0].map((g) => figure(s, [`host.ghz=${g}`]));
    expect(slow!).toBeLessThan(base!);
    expect(base!).toBeLessThan(fast!);
    // Compute only: no exits, no IPIs, so the rate follows the clock almost exactly (the one
    // context switch at the start, a ns cost, is the difference).
    expect(fast! / base!).toBeCloseTo(2, 1);
    expect(base! / slow!).toBeCloseTo(2.5, 1);
  });

  it('at the profile\'s own clock nothing scales: 2.5 GHz on skylake-2s-80t is the preset\'s answer', () => {
    const s = oneVm({ kind: 'fork-cow', parents: 2, workNs: 20_000 });
    expect(figure(s, ['host.ghz=2.5'])).toBe(figure(s));
  });

  it('a fork storm forks faster on a faster host, but less than in proportion: its ns costs do not scale', () => {
    const s = oneVm({ kind: 'fork-cow', parents: 2, workNs: 20_000 }, 8);
    const [slow, base, fast] = [1.0, 2.5, 5.0].map((g) => figure(s, [`host.ghz=${g}`]));
    expect(slow!).toBeLessThan(base!);
    expect(base!).toBeLessThan(fast!);
    // Page copies, faults and IPI wire latencies are ns figures and stay.
    expect(fast! / base!).toBeLessThan(2);
  });

  it('wall-time parameters do not scale: an irq pipeline handles the same device rate, with a shorter latency, on a faster host', () => {
    const s = oneVm({ kind: 'irq-pipeline', rate: 20_000, irqVcpus: [0], appVcpus: [1], processNs: 5_000 }, 2, '20ms');
    const at = (g: number) => runScenario(loadScenario(file(s), [`host.ghz=${g}`])).vms['vm']!.workload as Record<string, number>;
    const base = at(2.5);
    const fast = at(5.0);
    // The device's arrivals are the same draws at either clock; only their handling speeds up.
    expect(Math.abs(fast['eventsPerSecond']! - base['eventsPerSecond']!) / base['eventsPerSecond']!).toBeLessThan(0.01);
    expect(fast['latencyMeanNs']!).toBeLessThan(base['latencyMeanNs']!);
  });

  it('skylake-2s-80t and epyc-7642-2s give the same VM different answers, and the clock is the difference', () => {
    // 4 pinned vCPUs sit on socket 0 of either host, at the same distances: only the clock differs.
    const s = oneVm({ kind: 'fork-cow', parents: 2, workNs: 20_000 });
    const skylake = figure(s);
    const epyc = figure(s, ['host.preset=epyc-7642-2s']);
    expect(epyc).not.toBe(skylake);
    // 2.3 GHz is slower than 2.5 GHz.
    expect(epyc).toBeLessThan(skylake);
    expect(figure(s, ['host.ghz=2.3'])).toBe(epyc);
  });

  it('compute on epyc-7642-2s progresses at 2.3/2.5 of its rate on skylake-2s-80t', () => {
    const s = oneVm({ kind: 'compute', unitNs: 10_000 });
    const ratio = figure(s, ['host.preset=epyc-7642-2s']) / figure(s);
    expect(ratio).toBeCloseTo(2.3 / 2.5, 2);
  });
});

describe('posted IPIs follow the vendor (hypervisor.posted.flavour)', () => {
  // Unicasts to vCPUs that idle between them: some targets have blocked by the time an IPI comes.
  const bench = { ...oneVm({ kind: 'ipi-bench', mode: ['unicast'], iterations: 200 }, 8, '20ms'), hypervisor: { backend: 'posted' } };
  const incomplete = (sets: string[]): number => runScenario(loadScenario(file(bench), sets)).vms['vm']!.ipi.exits['incomplete-ipi'] ?? 0;

  it('the Intel profile means IPIv (no sender exit ever), the AMD one AVIC (an exit when the target has blocked); the key overrides either', () => {
    expect(incomplete([])).toBe(0);
    expect(incomplete(['calibration.profile=kvm-epyc-2021'])).toBeGreaterThan(0);
    expect(incomplete(['hypervisor.posted.flavour=avic'])).toBeGreaterThan(0);
    expect(incomplete(['calibration.profile=kvm-epyc-2021', 'hypervisor.posted.flavour=ipiv'])).toBe(0);
  });

  it('an unknown flavour is one clear error naming the key', () => {
    expect(() => loadScenario(file(bench), ['hypervisor.posted.flavour=x2avic'])).toThrow(/hypervisor\.posted\.flavour: expected one of "ipiv", "avic", got "x2avic"/);
  });
});

describe('pause-loop exiting (hypervisor.ple)', () => {
  // Overcommitted munmap churn: shootdown waits spin on preempted targets.
  const churn = {
    host: { preset: 'small-1s-8t' },
    hypervisor: { backend: 'pv' },
    vms: [{ name: 'vm', vcpus: 8, placement: 'shared', pcpus: [0, 1, 2, 3], workload: { kind: 'ebizzy', threads: 8, chunkPages: 4, searchNs: 5000 } }],
    run: { duration: '10ms', seed: 3 },
  };
  const pauseExits = (sets: string[]): number => {
    const out = runScenario(loadScenario(file(churn), sets));
    return out.vms['vm']!.ledger.exits['pause'] ?? 0;
  };

  it('is on by default, as KVM has it: spinning vCPUs take pause exits, on Intel and AMD profiles (whose window counts PAUSEs); off when asked', () => {
    expect(pauseExits([])).toBeGreaterThan(0);
    // AMD's window counts PAUSEs: 3,000 of them (~140 us) outlast this churn's spins; 30 do not.
    expect(pauseExits(['calibration.profile=kvm-epyc-2021', 'hypervisor.ple.window=30'])).toBeGreaterThan(0);
    expect(pauseExits(['hypervisor.ple.enabled=false'])).toBe(0);
  });

  it('is off by default under the fifo host policy (which refuses it when asked for)', () => {
    expect(pauseExits(['hypervisor.scheduler.policy=fifo'])).toBe(0);
  });

  it('eevdf forfeits the yielder\'s vruntime by default; forfeitOnYield: false changes the run; the key is refused under cfs', () => {
    const exits = (sets: string[]): number => runScenario(loadScenario(file(churn), sets)).vms['vm']!.ledger.exits['pause'] ?? 0;
    expect(exits(['hypervisor.scheduler.forfeitOnYield=true'])).toBe(exits([]));
    expect(exits(['hypervisor.scheduler.forfeitOnYield=false'])).not.toBe(exits([]));
    expect(() => loadScenario(file(churn), ['hypervisor.scheduler.policy=cfs', 'hypervisor.scheduler.forfeitOnYield=false'])).toThrow(/hypervisor\.scheduler\.forfeitOnYield: expected no forfeitOnYield under cfs/);
  });

  it('a kicked vCPU is a directed-yield candidate by default (boostIpiTargets): switching it off changes the run', () => {
    // Churn whose threads sleep between records beside a compute-bound VM: halted vCPUs woken by
    // interrupts are what the boost makes candidates.
    const noisy = {
      host: { preset: 'small-1s-8t' },
      vms: [
        { name: 'vm', vcpus: 7, placement: 'shared', pcpus: [0, 1, 2, 3], workload: { kind: 'ebizzy', threads: 7, chunkPages: 4, searchNs: 2000, thinkNs: 20000 } },
        { name: 'victim', vcpus: 4, placement: 'shared', pcpus: [0, 1, 2, 3], workload: { kind: 'compute', tasks: 4 } },
      ],
      run: { duration: '10ms', seed: 1 },
    };
    const exits = (sets: string[]): number => runScenario(loadScenario(file(noisy), sets)).vms['vm']!.ledger.exits['pause'] ?? 0;
    expect(exits(['hypervisor.boostIpiTargets=false'])).not.toBe(exits([]));
  });

  it('refuses a bad window, naming the field', () => {
    expect(() => loadScenario(file(churn), ['hypervisor.ple.window=0'])).toThrow('hypervisor.ple.window');
  });

  it('refuses it under the fifo host policy, whose boost would let spinning vCPUs starve the others', () => {
    expect(() => loadScenario(file(churn), ['hypervisor.ple.enabled=true', 'hypervisor.scheduler.policy=fifo'])).toThrow('hypervisor.ple.enabled: expected no pause-loop exiting under the fifo host scheduler');
  });
});

describe('lazy TLB mode (vms[].lazyTlb) and ebizzy -M (workload.free: madvise)', () => {
  const churn = (lazyTlb: 'skip' | 'leave', free: 'munmap' | 'madvise' = 'munmap') => ({
    host: { preset: 'small-1s-8t' },
    vms: [{ name: 'vm', vcpus: 8, placement: 'shared', pcpus: [0, 1, 2, 3], lazyTlb, workload: { kind: 'ebizzy', threads: 6, chunkPages: 8, searchNs: 3000, thinkNs: 10000, free } }],
    run: { duration: '5ms', seed: 2 },
  });
  const mmOf = (s: object) => runScenario(loadScenario(file(s))).vms['vm']!;

  it('skip (default, Linux >= 4.19): shootdowns skip idle vCPUs, which catch up when they run the process again', () => {
    const r = mmOf(churn('skip'));
    expect(r.mm.lazyTlb.skipped).toBeGreaterThan(0);
    expect(r.mm.lazyTlb.catchUpFlushes).toBeGreaterThan(0);
    expect(r.mm.lazyTlb.left).toBe(0);
  });

  it('leave (earlier kernels): idle vCPUs take the IPI and leave the process; more IPIs per shootdown than skip', () => {
    const leave = mmOf(churn('leave'));
    const skip = mmOf(churn('skip'));
    expect(leave.mm.lazyTlb.left).toBeGreaterThan(0);
    expect(leave.mm.lazyTlb.skipped).toBe(0);
    // Shootdown IPIs are multicasts and broadcasts (wake-ups are unicasts).
    const perShootdown = (x: typeof leave): number => ((x.ipi.sent['multicast'] ?? 0) + (x.ipi.sent['broadcast'] ?? 0)) / x.ipi.shootdowns;
    expect(perShootdown(leave)).toBeGreaterThan(perShootdown(skip));
  });

  it('free: madvise zaps under mmap_lock for read: no writer ever waits, every record still shoots down', () => {
    const r = mmOf(churn('skip', 'madvise'));
    const w = r.workload as { records: number; shootdowns: number };
    expect(w.records).toBeGreaterThan(0);
    expect(w.shootdowns).toBeGreaterThanOrEqual(w.records);
    expect(r.mm.mmapLock.sleeps).toBe(0);
    const m = mmOf(churn('skip', 'munmap'));
    expect(m.mm.mmapLock.contended).toBeGreaterThan(r.mm.mmapLock.contended);
  });

  it('refuses an unknown free mode and lazyTlb value, naming the field', () => {
    expect(() => loadScenario(file({ ...churn('skip'), vms: [{ ...churn('skip').vms[0], workload: { kind: 'ebizzy', free: 'brk' } }] }))).toThrow(/workload\.free/);
    expect(() => loadScenario(file(churn('skip')), ['vms[0].lazyTlb=always'])).toThrow(/vms\[0\]\.lazyTlb/);
  });
});
