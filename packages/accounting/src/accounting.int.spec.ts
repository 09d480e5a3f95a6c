import fc from 'fast-check';
import { RandomStreams, Simulation } from '@ipilab/core';
import { KVM_SKYLAKE_2018, resolveCosts } from '@ipilab/calibration';
import { EventSink, MODEL_EVENT_TYPES, type ModelEventType } from '@ipilab/events';
import { createWorkload, createWorkloadContext, GuestKernel, MemoryManager, Scheduler, SynchronousShootdown } from '@ipilab/guest';
import { HostTopology } from '@ipilab/host';
import { DEFAULT_HYPERVISOR_CONFIG, Hypervisor, type IpiBackendFactory } from '@ipilab/hypervisor';
import { ParavirtualBackend } from '@ipilab/ipi-pv';
import { TrapAndEmulateBackend } from '@ipilab/ipi-trap';
import {
  AccountingService,
  combineReducers,
  interferenceReducer,
  latencyReducer,
  vmLedgerReducer,
  interferenceMatrix,
  latencyDistributions,
  ledgerSum,
  slowdownVsAlone,
  vcpuLedgers,
  vmLedgers,
  type InterferenceMatrix,
  type LatencyDistributions,
  type VcpuLedgers,
  type VmLedger,
} from './index';

const BACKENDS: Record<string, IpiBackendFactory> = {
  trap: (hv, vm) => new TrapAndEmulateBackend(hv, vm),
  pv: (hv, vm) => new ParavirtualBackend(hv, vm),
};

interface VmPlan {
  readonly name: string;
  readonly vcpus: number;
  readonly backend: 'trap' | 'pv';
  readonly workload: string;
  readonly params?: Record<string, unknown>;
}

interface Outcome {
  ledgers: VcpuLedgers;
  vms: Map<number, VmLedger>;
  matrix: InterferenceMatrix;
  latency: Map<number, LatencyDistributions>;
  /** The same three, from one combined reducer fed straight from the sink (as `ipilab run` does). */
  fused: { vms: Map<number, VmLedger>; matrix: InterferenceMatrix; latency: Map<number, LatencyDistributions> };
  figures: Record<string, number>[];
  // (workload results are records of numbers for the workloads used here)
  hv: Hypervisor;
  end: number;
}

/** Runs VMs side by side on `pcpus` of a small host, with accounting on. */
function runVms(plans: readonly VmPlan[], pcpus: readonly number[], ns: number, config: Partial<typeof DEFAULT_HYPERVISOR_CONFIG> = {}, seed = 1): Outcome {
  const sim = new Simulation();
  const sink = new EventSink();
  const hv = new Hypervisor(sim, sink, new HostTopology({ sockets: 1, coresPerSocket: 8, threadsPerCore: 1, ghz: 2.5 }), resolveCosts(KVM_SKYLAKE_2018), {
    ...DEFAULT_HYPERVISOR_CONFIG,
    timeSliceNs: 500_000,
    ...config,
  });
  const acct = new AccountingService(sink, sim);
  const out = {} as Outcome;
  acct.onDidPublish.pipe(vcpuLedgers()).subscribe((l) => (out.ledgers = l));
  acct.onDidPublish.pipe(vmLedgers()).subscribe((l) => (out.vms = l));
  acct.onDidPublish.pipe(interferenceMatrix()).subscribe((m) => (out.matrix = m));
  acct.onDidPublish.pipe(latencyDistributions()).subscribe((d) => (out.latency = d));
  acct.reduce(combineReducers({ vms: vmLedgerReducer, matrix: interferenceReducer, latency: latencyReducer })).subscribe((f) => (out.fused = f));
  const streams = new RandomStreams(seed);
  const workloads = plans.map((p) => {
    const vm = hv.addVm({ name: p.name, vcpus: p.vcpus, placement: 'shared', pcpus, apicMode: 'x2apic-physical', backend: p.backend }, BACKENDS[p.backend]!);
    const kernel = new GuestKernel(hv, vm);
    const mm = new MemoryManager(hv, vm, kernel, { strategy: new SynchronousShootdown() });
    const sched = new Scheduler(hv, vm, kernel);
    // Random streams are named after the VM, so a VM run alone draws the same numbers (CRN).
    const w = createWorkload(p.workload, createWorkloadContext({ hv, vm, kernel, mm, sched, rng: streams.stream(`vm/${p.name}/workload`) }), p.params ?? {});
    w.start();
    return w;
  });
  hv.start();
  sim.run({ until: ns });
  acct.finish();
  out.figures = workloads.map((w) => w.result(ns) as Record<string, number>);
  out.hv = hv;
  out.end = sim.now;
  return out;
}

describe('accounting on real runs', () => {
  it('conservation: every vCPU ledger adds up to the time it existed, and agrees with the vCPU\'s own state clock', () => {
    fc.assert(
      fc.property(
        fc.record({
          backend: fc.constantFrom<'trap' | 'pv'>('trap', 'pv'),
          noisyVcpus: fc.integer({ min: 2, max: 4 }),
          victimVcpus: fc.integer({ min: 1, max: 3 }),
          pcpus: fc.integer({ min: 1, max: 4 }),
          capacity: fc.constantFrom(1, 2, Infinity),
          thinkNs: fc.integer({ min: 0, max: 50_000 }),
        }),
        (p) => {
          const o = runVms(
            [
              { name: 'noisy', vcpus: p.noisyVcpus, backend: p.backend, workload: 'ebizzy', params: { thinkNs: p.thinkNs, chunkPages: 4, searchNs: 5_000 } },
              { name: 'victim', vcpus: p.victimVcpus, backend: p.backend, workload: 'compute' },
            ],
            [0, 1, 2, 3].slice(0, p.pcpus),
            3_000_000,
            { serviceCapacity: p.capacity },
          );
          expect(o.ledgers.size).toBe(p.noisyVcpus + p.victimVcpus);
          for (const l of o.ledgers.values()) {
            expect(l.total).toBe(o.end);
            expect(ledgerSum(l)).toBe(l.total);
            const v = o.hv.vms[l.vm]!.vcpu(l.vcpu);
            const clock = { ...v.timeIn };
            clock[v.state] += o.end - v.since;
            expect(l.halted).toBe(clock.halted);
            expect(l.preempted).toBe(clock.preempted);
            expect(l.guest + l.handlingInterrupts + l.shootdownWait).toBe(clock['in-guest']);
          }
          for (const vm of o.vms.values()) expect(vm.total).toBe(o.end * vm.vcpus);
          // One combined pass straight from the sink gives exactly what the separate operators give.
          expect(o.fused.vms).toEqual(o.vms);
          expect(o.fused.matrix).toEqual(o.matrix);
          expect(o.fused.latency).toEqual(o.latency);
          expect(o.latency.size).toBeGreaterThan(0);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('interference attribution adds up to the measured waiting: preemption plus service queueing, per victim', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.constantFrom(1, 2), (pcpus, capacity) => {
        const o = runVms(
          [
            { name: 'noisy', vcpus: 3, backend: 'trap', workload: 'ebizzy', params: { chunkPages: 4, searchNs: 5_000, thinkNs: 20_000 } },
            { name: 'victim', vcpus: 2, backend: 'trap', workload: 'ebizzy', params: { chunkPages: 2, searchNs: 20_000 } },
          ],
          [0, 1, 2].slice(0, pcpus),
          3_000_000,
          { serviceCapacity: capacity },
        );
        for (const vm of o.matrix.vms) {
          const row = Object.values(o.matrix.behind[vm]!).reduce((a, b) => a + b, 0);
          expect(row + o.matrix.switching[vm]!).toBe(o.matrix.waited[vm]);
          const l = o.vms.get(vm)!;
          expect(o.matrix.waited[vm]).toBe(l.preempted + l.serviceQueued);
        }
      }),
      { numRuns: 12 },
    );
  });
});

describe('an IPI-heavy VM beside a compute-bound victim', () => {
  const pcpus = [0, 1, 2, 3];
  const ns = 40_000_000;
  // A rate-limited munmap churn (think time between records), four threads on seven vCPUs: most
  // vCPUs are idle, in lazy TLB mode, so a shootdown interrupts only the few running the process.
  const noisy = (backend: 'trap' | 'pv'): VmPlan => ({ name: 'noisy', vcpus: 7, backend, workload: 'ebizzy', params: { threads: 4, chunkPages: 4, searchNs: 2_000, thinkNs: 20_000 } });
  const victim: VmPlan = { name: 'victim', vcpus: 4, backend: 'trap', workload: 'compute', params: { tasks: 4 } };

  const alone = runVms([victim], pcpus, ns).figures[0]!['progressPerSecond']!;
  const shared = (backend: 'trap' | 'pv') => {
    const o = runVms([noisy(backend), victim], pcpus, ns);
    return {
      slowdown: slowdownVsAlone(o.figures[1]!['progressPerSecond']!, alone),
      behindNoisy: o.matrix.behind[1]![0]!,
      noisyRecords: o.figures[0]!['records']!,
      noisyExitNs: Object.values(o.vms.get(0)!.exits).reduce((a, b) => a + (b ?? 0), 0),
    };
  };
  const trap = shared('trap');
  const pv = shared('pv');

  it('shows the victim slowed, and the noisy VM as the culprit in the matrix', () => {
    expect(trap.slowdown).toBeGreaterThan(1.2);
    expect(trap.behindNoisy).toBeGreaterThan(0);
  });

  it('counts IPIs by kind and exits by reason per VM, and summarises latency distributions', () => {
    const o = runVms([noisy('pv')], pcpus, 5_000_000);
    const l = o.vms.get(0)!;
    expect(l.ipisSent.multicast! + (l.ipisSent.broadcast ?? 0)).toBeGreaterThan(0);
    expect(l.hypercalls).toBeGreaterThan(0);
    // A hypercall is counted when made, its exit when it ends: those still under way at the end differ.
    expect(l.hypercalls - l.exitCounts.hypercall!).toBeGreaterThanOrEqual(0);
    expect(l.hypercalls - l.exitCounts.hypercall!).toBeLessThanOrEqual(7);
    expect(l.shootdowns).toBeGreaterThan(0);
    const sim = new Simulation();
    const sink = new EventSink();
    const acct = new AccountingService(sink, sim);
    let d: Map<number, { shootdown: { count: number; p50: number; p90: number; p99: number; max: number } }> | undefined;
    acct.onDidPublish.pipe(latencyDistributions()).subscribe((x) => (d = x));
    for (let i = 1; i <= 100; i++) sink.emit({ type: 'shootdown-end', t: i, id: i, vcpu: { vm: 0, vcpu: 0 }, duration: i * 10 });
    acct.finish();
    const s = d!.get(0)!.shootdown;
    expect([s.count, s.p50, s.p90, s.p99, s.max]).toEqual([100, 500, 900, 990, 1000]);
  });

  it('with shootdowns that reach few vCPUs (the rest lazy), pv saves the noisy VM little exit time per record; the matrix names it as the culprit either way', () => {
    // On a fair-share host the victim's slowdown is bounded by its share of the pCPUs whichever
    // backend the noisy VM uses. pv's one hypercall replaces one exit per target: with one or two
    // targets per shootdown that is about a wash (trap: 1.81 us of exits per record, pv 1.84 us,
    // when the lazy-TLB skip was added; before it, every idle vCPU was a target and pv came out ahead).
    const perRecord = (x: typeof pv): number => x.noisyExitNs / x.noisyRecords;
    expect(perRecord(pv) / perRecord(trap)).toBeGreaterThan(0.9);
    expect(perRecord(pv) / perRecord(trap)).toBeLessThan(1.1);
    expect(pv.noisyRecords / trap.noisyRecords).toBeGreaterThan(0.9);
    expect(pv.slowdown).toBeGreaterThan(1.2);
    expect(pv.behindNoisy).toBeGreaterThan(0);
    if (process.env['IPILAB_REPORT'] === '1') console.table({ trap, pv, alone: { progressPerSecond: alone } });
  });
});

describe('AccountingService', () => {
  it('costs nothing when nobody listens: the sink has no listener until a stream is subscribed, and none after', () => {
    const sim = new Simulation();
    const sink = new EventSink();
    const acct = new AccountingService(sink, sim);
    expect(sink.active).toBe(false);
    const sub = acct.onDidExit.subscribe();
    expect(sink.active).toBe(true);
    sub.unsubscribe();
    expect(sink.active).toBe(false);
  });

  it('attaches a reducer for just the event types it reads, and detaches it when unsubscribed', () => {
    const sim = new Simulation();
    const sink = new EventSink();
    const acct = new AccountingService(sink, sim);
    const sub = acct.reduce(combineReducers({ matrix: interferenceReducer, latency: latencyReducer })).subscribe();
    const wanted = Object.entries(sink.wants).filter(([, w]) => w).map(([t]) => t).sort();
    expect(wanted).toEqual(['cross-call-done', 'ipi-handled', 'run-end', 'service-queued', 'shootdown-end', 'vcpu-state']);
    sub.unsubscribe();
    expect(sink.active).toBe(false);
  });

  it('emits a reducer\'s result at finish, from the events of its types only', () => {
    const sim = new Simulation();
    const sink = new EventSink();
    const acct = new AccountingService(sink, sim);
    const seen: string[] = [];
    let result: string[] | undefined;
    acct.reduce<string[], string[]>({ types: ['vm-exit', 'run-end'], init: () => [], step: (s, e) => void s.push(e.type), result: (s) => s }).subscribe((r) => (result = r));
    sink.emit({ type: 'vm-exit', t: 1, vcpu: { vm: 0, vcpu: 0 }, reason: 'hlt', cost: 5 });
    sink.emit({ type: 'handler-begin', t: 2, vcpu: { vm: 0, vcpu: 0 }, vector: 0xfb });
    seen.push(...(result ?? ['nothing yet']));
    acct.finish();
    expect(seen).toEqual(['nothing yet']);
    expect(result).toEqual(['vm-exit', 'run-end']);
  });

  it('completes its streams on finish, so reducing operators emit', () => {
    const sim = new Simulation();
    const sink = new EventSink();
    const acct = new AccountingService(sink, sim);
    let got: unknown;
    let completed = false;
    acct.onDidPublish.pipe(latencyDistributions()).subscribe({ next: (x) => (got = x), complete: () => (completed = true) });
    sink.emit({ type: 'cross-call-done', t: 5, id: 0, from: { vm: 0, vcpu: 0 }, targets: 1, duration: 900 });
    acct.finish();
    expect(completed).toBe(true);
    expect((got as Map<number, { wholeCall: { count: number } }>).get(0)!.wholeCall.count).toBe(1);
  });
});

describe('the model publishes only what is read', () => {
  /** A small noisy run with one listener for `types`; returns the types of every event the model built. */
  const published = (backend: 'trap' | 'pv', types: readonly ModelEventType[]): Set<string> => {
    const sim = new Simulation();
    const sink = new EventSink();
    const hv = new Hypervisor(sim, sink, new HostTopology({ sockets: 1, coresPerSocket: 4, threadsPerCore: 1, ghz: 2.5 }), resolveCosts(KVM_SKYLAKE_2018), {
      ...DEFAULT_HYPERVISOR_CONFIG,
      timeSliceNs: 200_000,
      serviceCapacity: 1,
    });
    sink.subscribe(() => undefined, types);
    const built = new Set<string>();
    const emit = sink.emit.bind(sink);
    sink.emit = (e) => {
      built.add(e.type);
      emit(e);
    };
    const streams = new RandomStreams(3);
    for (const name of ['a', 'b']) {
      const vm = hv.addVm({ name, vcpus: 5, placement: 'shared', pcpus: [0, 1, 2], apicMode: 'x2apic-physical', backend }, BACKENDS[backend]!);
      const kernel = new GuestKernel(hv, vm);
      const mm = new MemoryManager(hv, vm, kernel, { strategy: new SynchronousShootdown() });
      createWorkload('ebizzy', createWorkloadContext({ hv, vm, kernel, mm, sched: new Scheduler(hv, vm, kernel), rng: streams.stream(`vm/${name}/workload`) }), { chunkPages: 4, searchNs: 5_000, thinkNs: 10_000 }).start();
    }
    hv.start();
    sim.run({ until: 6_000_000 });
    return built;
  };

  it('builds an event only when a listener reads its type', () => {
    const everything = new Set([...published('trap', MODEL_EVENT_TYPES), ...published('pv', MODEL_EVENT_TYPES)]);
    // The run exercises every type the model publishes (run-end is the accounting service's; a
    // stale TLB use needs an injected fault: unfenced-pte-writes.int.spec.ts sees it built).
    expect([...everything].sort()).toEqual(MODEL_EVENT_TYPES.filter((t) => t !== 'run-end' && t !== 'stale-tlb-use').sort());
    for (const t of everything) {
      const built = new Set([...published('trap', [t as ModelEventType]), ...published('pv', [t as ModelEventType])]);
      expect([t, [...built]]).toEqual([t, [t]]);
    }
  });
});
